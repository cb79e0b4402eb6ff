//! Opening the lease store that `LEASE_STORE` names, with the PostgreSQL lease-check
//! cache of `LEASE_CACHE*`.

use std::sync::Arc;

use blindcast_keys_axum::settings::{
    ConfigError, LeaseCacheSettings, LeaseStoreSetting, for_option,
};
use blindcast_keys_core::lease::MemoryLeaseStore;
use blindcast_keys_core::{ErrorChain, LeaseError, LeaseStore};
use blindcast_lease_postgres::{
    CacheConfig, PostgresConfig, PostgresConfigError, PostgresLeaseStore,
};
use blindcast_lease_sqlite::SqliteLeaseStore;

/// Opens the store, or `None` for `LEASE_STORE=none`.
///
/// # Errors
/// A [`ConfigError`] naming the setting: a `LEASE_CACHE_*` option the store's
/// [`CacheConfig`] refuses (checked before anything connects), or `LEASE_STORE` with the
/// cause (file permissions, a refused connection, a listener that cannot `LISTEN`); the
/// backends keep URLs and passwords out of their errors.
pub(crate) async fn open(
    setting: &LeaseStoreSetting,
    cache: Option<&LeaseCacheSettings>,
) -> Result<Option<Arc<dyn LeaseStore>>, ConfigError> {
    let store: Arc<dyn LeaseStore> = match setting {
        LeaseStoreSetting::None => return Ok(None),
        LeaseStoreSetting::Memory => Arc::new(MemoryLeaseStore::new()),
        LeaseStoreSetting::Sqlite(path) => {
            Arc::new(SqliteLeaseStore::open(path).await.map_err(open_error)?)
        }
        LeaseStoreSetting::Postgres(url) => {
            let config = postgres_config(cache)?;
            Arc::new(
                PostgresLeaseStore::connect_with(url, config)
                    .await
                    .map_err(|e| postgres_open_error(e, cache))?,
            )
        }
    };
    Ok(Some(store))
}

/// The store's configuration, checked here so a bad cache option is reported under its
/// setting's name.
fn postgres_config(cache: Option<&LeaseCacheSettings>) -> Result<PostgresConfig, ConfigError> {
    let mut c = CacheConfig::default();
    if let Some(s) = cache.filter(|s| s.enabled) {
        c = c.with_enabled(true);
        if let Some(max) = s.max_entries {
            c = c.with_max_entries(max);
        }
        if let Some(url) = &s.listener_url {
            c = c.with_listener_url(url.clone());
        }
    }
    let config = PostgresConfig::default().with_cache(c);
    config.validate().map_err(|e| {
        let name = e
            .option()
            .and_then(for_option)
            .map_or("LEASE_STORE", |s| s.name);
        ConfigError::new(name, e.to_string())
    })?;
    Ok(config)
}

/// A listener that cannot `LISTEN` is reported under the cache's settings, in their
/// words (the store's message speaks of its own options).
fn postgres_open_error(e: LeaseError, cache: Option<&LeaseCacheSettings>) -> ConfigError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(PostgresConfigError::Listener(why)) = err.downcast_ref::<PostgresConfigError>()
        {
            let name = match cache {
                Some(c) if c.listener_url.is_some() => "LEASE_CACHE_LISTENER_URL",
                _ => "LEASE_CACHE",
            };
            return ConfigError::new(
                name,
                format!(
                    "the lease-check cache cannot listen for releases ({why}); it needs a \
                     session connection to PostgreSQL: set LEASE_CACHE_LISTENER_URL to a \
                     direct URL when LEASE_STORE goes through PgBouncer in transaction mode \
                     or RDS Proxy, or set LEASE_CACHE=false"
                ),
            );
        }
        source = err.source();
    }
    open_error(e)
}

fn open_error(e: LeaseError) -> ConfigError {
    ConfigError::new(
        "LEASE_STORE",
        format!("cannot open the lease store: {}", ErrorChain(&e)),
    )
}

#[cfg(test)]
mod tests {
    use blindcast_keys_axum::settings::find;

    use super::*;

    fn cache(max_entries: Option<usize>, listener_url: Option<&str>) -> LeaseCacheSettings {
        let mut s = LeaseCacheSettings::default();
        s.max_entries = max_entries;
        s.listener_url = listener_url.map(str::to_owned);
        s
    }

    #[test]
    fn the_list_shows_the_store_default() {
        let shown = find("LEASE_CACHE_MAX_ENTRIES").map(|s| s.default);
        let default = CacheConfig::default().max_entries.to_string();
        assert_eq!(shown, Some(default.as_str()));
    }

    #[test]
    fn cache_settings_reach_the_store_config() {
        let c = postgres_config(Some(&cache(Some(7), Some("postgres://u@h/d"))))
            .unwrap()
            .cache;
        assert!(c.enabled);
        assert_eq!(c.max_entries, 7);
        assert_eq!(c.listener_url.as_deref(), Some("postgres://u@h/d"));
        let mut off = cache(None, None);
        off.enabled = false;
        assert!(!postgres_config(Some(&off)).unwrap().cache.enabled);
        assert!(!postgres_config(None).unwrap().cache.enabled);
    }

    #[test]
    fn bad_cache_options_are_refused_under_their_setting() {
        let e = postgres_config(Some(&cache(Some(0), None))).unwrap_err();
        assert_eq!(e.setting, "LEASE_CACHE_MAX_ENTRIES", "{e}");
        for url in ["redis://x", "postgres://u:hunter2@h:port/d"] {
            let e = postgres_config(Some(&cache(None, Some(url)))).unwrap_err();
            assert_eq!(e.setting, "LEASE_CACHE_LISTENER_URL", "{e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }
}

//! Opening the lease store that `LEASE_STORE` names: on Lambda only a store shared by
//! every instance (PostgreSQL) limits streams.

use std::sync::Arc;

use blindcast_keys_axum::settings::{ConfigError, LeaseStoreSetting};
use blindcast_keys_core::LeaseStore;

/// Opens the store, or `None` for `LEASE_STORE=none`.
pub(crate) async fn open(
    setting: &LeaseStoreSetting,
) -> Result<Option<Arc<dyn LeaseStore>>, ConfigError> {
    match setting {
        LeaseStoreSetting::None => Ok(None),
        #[cfg(feature = "postgres")]
        LeaseStoreSetting::Postgres(url) => {
            blindcast_lease_postgres::PostgresLeaseStore::connect(url)
                .await
                .map(|store| Some(Arc::new(store) as Arc<dyn LeaseStore>))
                .map_err(|e| {
                    ConfigError::new(
                        "LEASE_STORE",
                        format!(
                            "cannot open the lease store: {}",
                            blindcast_keys_core::ErrorChain(&e)
                        ),
                    )
                })
        }
        #[cfg(not(feature = "postgres"))]
        LeaseStoreSetting::Postgres(_) => Err(ConfigError::new(
            "LEASE_STORE",
            "this build has no PostgreSQL support (cargo feature `postgres`)",
        )),
        other => Err(refusal(other)),
    }
}

/// A lease store that lives inside one instance cannot limit streams: Lambda runs many
/// instances, freezes them between invocations and throws them away at will.
pub(crate) fn refusal(setting: &LeaseStoreSetting) -> ConfigError {
    let why = match setting {
        LeaseStoreSetting::Sqlite(_) => "a SQLite file",
        _ => "memory",
    };
    ConfigError::new(
        "LEASE_STORE",
        format!(
            "{why} does not work on AWS Lambda: every instance would keep its own leases, \
             lost when the instance is recycled. Use postgres://... (or none), or a custom \
             LeaseStore through the library"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_stores_are_refused_by_name() {
        let err = open(&LeaseStoreSetting::Memory).await.err();
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("LEASE_STORE: memory does not work on AWS Lambda"));
        assert!(
            open(&LeaseStoreSetting::None)
                .await
                .is_ok_and(|s| s.is_none())
        );
    }
}

//! How [`PostgresLeaseStore`] uses its lease-check cache ([`crate::cache`]), and what it
//! tells about it.

use std::time::Duration;

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{Lease, LeaseError, LeaseId, ViewerId};
use tokio::sync::watch;

use crate::cache::{self, Cache, CacheStats, Ticket};
use crate::config::PostgresConfig;
use crate::error::PostgresConfigError;
use crate::listener::{Target, start_error};
use crate::{PostgresLeaseStore, queries, url};

/// The listener target named by `cache.listener_url` (`None` when the cache is off).
pub(crate) fn target(config: &PostgresConfig) -> Result<Option<Target>, LeaseError> {
    if !config.cache.enabled {
        return Ok(None);
    }
    let Some(listener_url) = &config.cache.listener_url else {
        return Err(PostgresConfigError::CacheListenerUrl.into());
    };
    let (pg_config, tls) =
        url::parse(listener_url, config.connect_timeout).map_err(LeaseError::backend)?;
    Ok(Some(Target::new(
        pg_config,
        tls,
        &config.table_prefix,
        config.cache.heartbeat,
    )))
}

/// Sends a notification through the store's pool and waits for the listener to receive
/// it: proves the listener is on a session connection that sees the pool's commits.
pub(crate) async fn probe(
    store: &PostgresLeaseStore,
    cache: &Cache,
    channel: &str,
) -> Result<(), LeaseError> {
    let nonce = hex::encode(cache::key(&LeaseId::generate()?));
    let mut probes = cache.probes();
    let client = store.pool().get().await.map_err(crate::error::pool_error)?;
    let payload = format!("probe:{nonce}");
    let params = queries::Probe {
        channel,
        payload: &payload,
    };
    store
        .query(&client, &store.statements().probe, &params.bind())
        .await
        .map_err(crate::error::pg_error)?;
    drop(client);
    let wait = store.config().connect_timeout;
    let arrived =
        tokio::time::timeout(wait, probes.wait_for(|recent| recent.contains(&nonce))).await;
    match arrived {
        Ok(Ok(_)) => Ok(()),
        _ => Err(LeaseError::backend(start_error(&format!(
            "a notification sent through the pool did not reach the listener within {wait:?}"
        )))),
    }
}

impl PostgresLeaseStore {
    pub(crate) fn cache_lookup(
        &self,
        id: &LeaseId,
        viewer: &ViewerId,
        content: &ContentId,
    ) -> Option<Lease> {
        let cache = self.cache()?;
        cache.lookup(&cache::key(id), id, viewer, content, self.offset())
    }

    pub(crate) fn cache_ticket(&self) -> Option<Ticket> {
        self.cache()?.ticket(self.offset())
    }

    /// Remembers a lease the database just called usable for `remaining_micros` more.
    pub(crate) fn cache_insert(
        &self,
        ticket: Option<Ticket>,
        lease: &Lease,
        remaining_micros: i64,
    ) {
        if let (Some(cache), Some(ticket)) = (self.cache(), ticket) {
            let remaining = Duration::from_micros(u64::try_from(remaining_micros).unwrap_or(0));
            cache.insert(ticket, lease, remaining);
        }
    }

    pub(crate) fn cache_invalidate(&self, id: &LeaseId) {
        if let Some(cache) = self.cache() {
            cache.invalidate(&cache::key(id));
        }
    }

    /// The prefix's release notification channel.
    pub(crate) fn channel(&self) -> String {
        crate::listener::channel(&self.config().table_prefix)
    }

    /// The lease-check cache's counters; `None` when the cache is off.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache().map(|c| c.stats())
    }

    /// Test support: whether this instance has `id` cached now.
    #[doc(hidden)]
    pub fn cache_contains(&self, id: &LeaseId) -> bool {
        self.cache().is_some_and(|c| c.contains(id))
    }

    /// Test support: a counter bumped after each notification is applied and each
    /// listener loss.
    #[doc(hidden)]
    pub fn cache_changes(&self) -> Option<watch::Receiver<u64>> {
        self.cache().map(|c| c.changes())
    }

    /// The backend process id of this instance's listener connection, while connected.
    #[doc(hidden)]
    pub fn listener_pid(&self) -> Option<i32> {
        self.cache().and_then(|c| c.listener_pid())
    }
}

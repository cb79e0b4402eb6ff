//! [`PostgresConfig`]: how a [`PostgresLeaseStore`](crate::PostgresLeaseStore) connects,
//! names its tables and retries, and the one check of those options.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::error::PostgresConfigError;

/// Longest accepted table prefix: PostgreSQL identifiers hold 63 bytes, and the longest
/// name built from the prefix adds 27.
pub const MAX_TABLE_PREFIX_LEN: usize = 32;

/// Longest accepted [`wait_timeout`](PostgresConfig::wait_timeout) and
/// [`connect_timeout`](PostgresConfig::connect_timeout).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The configuration of a [`PostgresLeaseStore`](crate::PostgresLeaseStore). Start from
/// [`PostgresConfig::default`] and change what you need with the `with_*` methods;
/// [`validate`](Self::validate) checks it, and every constructor of the store calls it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// Prefix of every table, index and lock name of the store: `[a-z_][a-z0-9_]*`, at
    /// most [`MAX_TABLE_PREFIX_LEN`] bytes. Stores with different prefixes share nothing.
    /// Default `blindcast_`.
    pub table_prefix: String,
    /// Most connections the pool opens; at least 1. Default 16.
    pub max_connections: usize,
    /// Longest wait for a free pooled connection before `LeaseError::Unavailable`: more
    /// than 0, at most [`MAX_TIMEOUT`]. Default 5 s.
    pub wait_timeout: Duration,
    /// Longest wait to open one connection (TCP, TLS and authentication) before
    /// `LeaseError::Unavailable`; also the recycle timeout: more than 0, at most
    /// [`MAX_TIMEOUT`]. A `connect_timeout` in the URL takes precedence for the TCP part.
    /// Default 5 s.
    pub connect_timeout: Duration,
    /// Retries of transactions that fail with a serialization failure (SQLSTATE 40001) or
    /// a deadlock (40P01).
    pub retry: RetryPolicy,
    /// Run the schema migrations when the store is built. Default `true`; turn it off when
    /// a separate job with DDL rights runs [`migrate`](crate::PostgresLeaseStore::migrate).
    pub run_migrations: bool,
    /// Use cached named prepared statements (one round trip per query). Turn off behind
    /// PgBouncer older than 1.21 in transaction mode, or to avoid RDS Proxy pinning: queries
    /// then go as unnamed statements with explicit types (also one round trip, planned
    /// each time). Default `true`.
    pub prepared_statements: bool,
    /// The per-instance lease-check cache (off by default): see [`CacheConfig`].
    pub cache: CacheConfig,
    #[doc(hidden)]
    pub clock_offset: Option<DbClockOffset>,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            table_prefix: "blindcast_".to_owned(),
            max_connections: 16,
            wait_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            run_migrations: true,
            prepared_statements: true,
            cache: CacheConfig::default(),
            clock_offset: None,
        }
    }
}

impl PostgresConfig {
    /// Sets [`table_prefix`](Self::table_prefix).
    #[must_use]
    pub fn with_table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets [`wait_timeout`](Self::wait_timeout).
    #[must_use]
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`retry`](Self::retry).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets [`run_migrations`](Self::run_migrations).
    #[must_use]
    pub fn with_run_migrations(mut self, run: bool) -> Self {
        self.run_migrations = run;
        self
    }

    /// Sets [`prepared_statements`](Self::prepared_statements).
    #[must_use]
    pub fn with_prepared_statements(mut self, on: bool) -> Self {
        self.prepared_statements = on;
        self
    }

    /// Sets [`cache`](Self::cache).
    #[must_use]
    pub fn with_cache(mut self, cache: CacheConfig) -> Self {
        self.cache = cache;
        self
    }

    /// Test support: every query of the store reads the database clock shifted by
    /// `offset`, so tests move time without sleeping. Never use it in production.
    #[doc(hidden)]
    #[must_use]
    pub fn with_clock_offset(mut self, offset: DbClockOffset) -> Self {
        self.clock_offset = Some(offset);
        self
    }

    /// Checks every option, so a bad value is refused once, naming the option, before
    /// anything connects.
    ///
    /// # Errors
    /// The [`PostgresConfigError`] naming the first bad option: `TablePrefix`,
    /// `MaxConnections`, `WaitTimeout`, `ConnectTimeout`, `RetryMaxAttempts`, and with the
    /// cache on `CacheMaxEntries` or `CacheHeartbeat`.
    pub fn validate(&self) -> Result<(), PostgresConfigError> {
        validate_prefix(&self.table_prefix)?;
        if self.max_connections == 0 {
            return Err(PostgresConfigError::MaxConnections);
        }
        if !timeout_ok(self.wait_timeout) {
            return Err(PostgresConfigError::WaitTimeout);
        }
        if !timeout_ok(self.connect_timeout) {
            return Err(PostgresConfigError::ConnectTimeout);
        }
        if self.retry.max_attempts == 0 {
            return Err(PostgresConfigError::RetryMaxAttempts);
        }
        self.cache.validate()
    }

    /// The clock offset in microseconds (0 outside tests).
    pub(crate) fn offset_micros(&self) -> i64 {
        self.clock_offset.as_ref().map_or(0, DbClockOffset::micros)
    }
}

/// A zero timeout fails every wait at once; a huge one overflows the deadline.
fn timeout_ok(timeout: Duration) -> bool {
    !timeout.is_zero() && timeout <= MAX_TIMEOUT
}

fn validate_prefix(prefix: &str) -> Result<(), PostgresConfigError> {
    let mut chars = prefix.chars();
    let ok = prefix.len() <= MAX_TABLE_PREFIX_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(PostgresConfigError::TablePrefix)
    }
}

/// Bounded exponential backoff for transactions that PostgreSQL aborted with a
/// serialization failure or a deadlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included; at least 1. Default 5.
    pub max_attempts: u32,
    /// Pause before the first retry; doubled for each further one. Default 10 ms.
    pub initial_backoff: Duration,
    /// Longest pause between attempts. Default 200 ms.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
        }
    }
}

impl RetryPolicy {
    /// A policy of `max_attempts` attempts with the given backoff bounds.
    pub fn new(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_attempts,
            initial_backoff,
            max_backoff,
        }
    }

    /// The pause after failed attempt number `attempt` (1-based), with up to 50% jitter so
    /// clients that collided do not collide again.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let base = exp.min(self.max_backoff);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        base / 2 + base.mul_f64(f64::from(nanos % 1000) / 2000.0)
    }
}

/// Settings of the per-instance lease-check cache (the [`cache`](PostgresConfig::cache)
/// of a [`PostgresConfig`]); see the crate documentation for how it stays exact.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Cache successful checks in this instance. Default `false` in the library (a
    /// listener needs a session connection, and a frozen Lambda instance would miss
    /// notifications); servers turn it on.
    pub enabled: bool,
    /// Most leases cached; beyond it the entry that expires soonest is evicted. At least 1
    /// when the cache is on. Default 100 000 (a few hundred bytes each).
    pub max_entries: usize,
    /// Where the listener connects for `LISTEN`: it needs a *session* connection (a direct
    /// PostgreSQL URL, or PgBouncer in session mode), not PgBouncer in transaction mode.
    /// Default: the store's URL. Required with
    /// [`from_pool`](crate::PostgresLeaseStore::from_pool).
    pub listener_url: Option<String>,
    /// How often the listener proves its connection alive with a round trip; the cache
    /// answers only while the last proof is younger than three of these, so a silently
    /// dead connection stops the cache within that time. More than 0, at most
    /// [`MAX_TIMEOUT`]. Default 1 s.
    pub heartbeat: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_entries: 100_000,
            listener_url: None,
            heartbeat: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The listener URL may hold a password.
        f.debug_struct("CacheConfig")
            .field("enabled", &self.enabled)
            .field("max_entries", &self.max_entries)
            .field("listener_url", &self.listener_url.as_ref().map(|_| "<set>"))
            .field("heartbeat", &self.heartbeat)
            .finish()
    }
}

impl CacheConfig {
    /// The cache on, with the other defaults.
    pub fn on() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// Sets [`enabled`](Self::enabled).
    #[must_use]
    pub fn with_enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Sets [`max_entries`](Self::max_entries).
    #[must_use]
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// Sets [`listener_url`](Self::listener_url).
    #[must_use]
    pub fn with_listener_url(mut self, url: impl Into<String>) -> Self {
        self.listener_url = Some(url.into());
        self
    }

    /// Sets [`heartbeat`](Self::heartbeat).
    #[must_use]
    pub fn with_heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// The cache's bounds, checked only when it is on (an off cache uses none of them).
    fn validate(&self) -> Result<(), PostgresConfigError> {
        if !self.enabled {
            return Ok(());
        }
        if self.max_entries == 0 {
            return Err(PostgresConfigError::CacheMaxEntries);
        }
        // The heartbeat is tripled and added to instants: bounded like the timeouts.
        if !timeout_ok(self.heartbeat) {
            return Err(PostgresConfigError::CacheHeartbeat);
        }
        // Parsed here too, so a typo is refused before anything connects.
        if let Some(url) = &self.listener_url {
            crate::url::parse(url, MAX_TIMEOUT)
                .map_err(|e| PostgresConfigError::CacheListenerUrlInvalid(Box::new(e)))?;
        }
        Ok(())
    }
}

/// Test support: an offset added to the database clock in every query of the stores that
/// share it. Clones share the offset.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct DbClockOffset(Arc<AtomicI64>);

impl DbClockOffset {
    /// A zero offset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the stores' clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.0.fetch_add(micros, Ordering::SeqCst);
    }

    /// The offset in microseconds.
    pub fn micros(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_plain_identifiers() {
        for good in ["blindcast_", "a", "_x1", "t_123_4_ab"] {
            assert!(validate_prefix(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "A", "a-b", "a b", "a;drop", &"a".repeat(33)] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_bad_option_is_named() {
        let bad = |config: PostgresConfig| config.validate().map_err(|e| e.to_string());
        let named = |config: PostgresConfig, option: &str| {
            let error = config.validate().expect_err(option);
            assert_eq!(error.option(), Some(option));
            let message = error.to_string();
            assert!(message.starts_with(option), "{message}");
        };
        assert_eq!(bad(PostgresConfig::default()), Ok(()));
        named(
            PostgresConfig::default().with_table_prefix("A"),
            "table_prefix",
        );
        named(
            PostgresConfig::default().with_max_connections(0),
            "max_connections",
        );
        named(
            PostgresConfig::default().with_wait_timeout(Duration::ZERO),
            "wait_timeout",
        );
        named(
            PostgresConfig::default().with_wait_timeout(MAX_TIMEOUT + Duration::from_secs(1)),
            "wait_timeout",
        );
        named(
            PostgresConfig::default().with_connect_timeout(Duration::ZERO),
            "connect_timeout",
        );
        named(
            PostgresConfig::default().with_connect_timeout(Duration::MAX),
            "connect_timeout",
        );
        named(
            PostgresConfig::default().with_retry(RetryPolicy::new(
                0,
                Duration::ZERO,
                Duration::ZERO,
            )),
            "retry.max_attempts",
        );
        named(
            PostgresConfig::default().with_cache(CacheConfig::on().with_max_entries(0)),
            "cache.max_entries",
        );
        named(
            PostgresConfig::default().with_cache(CacheConfig::on().with_heartbeat(Duration::ZERO)),
            "cache.heartbeat",
        );
        named(
            PostgresConfig::default().with_cache(CacheConfig::on().with_heartbeat(Duration::MAX)),
            "cache.heartbeat",
        );
        named(
            PostgresConfig::default()
                .with_cache(CacheConfig::on().with_listener_url("redis://u:hunter2@h/d")),
            "cache.listener_url",
        );
        let message = bad(PostgresConfig::default()
            .with_cache(CacheConfig::on().with_listener_url("postgres://u:hunter2@h:x/d")))
        .expect_err("bad port");
        assert!(!message.contains("hunter2"), "{message}");
        // An off cache's bounds do not matter.
        assert_eq!(
            bad(PostgresConfig::default().with_cache(
                CacheConfig::default()
                    .with_max_entries(0)
                    .with_heartbeat(Duration::ZERO)
            )),
            Ok(())
        );
        assert_eq!(
            bad(PostgresConfig::default()
                .with_wait_timeout(MAX_TIMEOUT)
                .with_connect_timeout(Duration::from_millis(1))),
            Ok(())
        );
    }

    #[test]
    fn debug_hides_the_listener_url() {
        let config = PostgresConfig::default()
            .with_cache(CacheConfig::on().with_listener_url("postgres://u:hunter2@h/d"));
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("listener_url: Some(\"<set>\")"), "{debug}");
    }

    #[test]
    fn backoff_is_bounded() {
        let p = RetryPolicy::default();
        for attempt in 1..40 {
            assert!(p.backoff(attempt) <= p.max_backoff);
        }
        assert!(p.backoff(1) >= p.initial_backoff / 2);
    }
}

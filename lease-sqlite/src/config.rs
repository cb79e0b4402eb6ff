//! [`SqliteConfig`]: how a store opens its database (clock, timeouts, durability, pool
//! size), and the one check of those options.

use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::lease::{Clock, SystemClock};

use crate::error::SqliteConfigError;

/// How hard SQLite works to get each commit onto disk (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// Every commit is synced to disk before `create`/`renew`/`release` returns: an
    /// acknowledged lease survives a power cut. The default.
    #[default]
    Full,
    /// Commits are synced at WAL checkpoints only. The database stays consistent, and a
    /// crash of the process loses nothing, but a power cut or OS crash may roll back
    /// the last acknowledged leases, which lets a viewer briefly exceed its limit.
    /// Several times faster for writes.
    Normal,
}

impl Synchronous {
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// The configuration of a store, for
/// [`SqliteLeaseStore::open_with`](crate::SqliteLeaseStore::open_with).
///
/// Start from [`SqliteConfig::default()`] and change what you need;
/// [`validate`](Self::validate) checks it, and `open_with` calls it:
///
/// ```
/// use std::time::Duration;
/// use blindcast_lease_sqlite::{SqliteConfig, SqliteConfigError, Synchronous};
///
/// let config = SqliteConfig::default()
///     .with_busy_timeout(Duration::from_secs(2))
///     .with_synchronous(Synchronous::Normal)
///     .with_pool_size(8);
/// assert!(config.validate().is_ok());
/// assert!(matches!(config.with_pool_size(0).validate(), Err(SqliteConfigError::PoolSize)));
/// ```
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) busy_timeout: Duration,
    pub(crate) pool_timeout: Duration,
    pub(crate) synchronous: Synchronous,
    pub(crate) pool_size: usize,
    pub(crate) inline_reads: bool,
}

/// Default for [`SqliteConfig::with_busy_timeout`] and [`SqliteConfig::with_pool_timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest accepted [`SqliteConfig::with_busy_timeout`] and [`SqliteConfig::with_pool_timeout`].
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// Default for [`SqliteConfig::with_pool_size`].
pub const DEFAULT_POOL_SIZE: usize = 4;

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            busy_timeout: DEFAULT_TIMEOUT,
            pool_timeout: DEFAULT_TIMEOUT,
            synchronous: Synchronous::default(),
            pool_size: DEFAULT_POOL_SIZE,
            inline_reads: true,
        }
    }
}

impl SqliteConfig {
    /// The defaults: system clock, 5 s timeouts, `synchronous = FULL`, 4 connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock that decides expiry ([`SystemClock`] by default).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a connection waits for another writer (in this or another process)
    /// before the operation fails with `LeaseError::Unavailable`: more than 0, at most
    /// [`MAX_TIMEOUT`]. Default 5 s.
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long an operation waits to start (for a free pooled connection; a write also
    /// for its turn in a batch) before it fails with `LeaseError::Unavailable`, having
    /// changed nothing: more than 0, at most [`MAX_TIMEOUT`]. Default 5 s.
    #[must_use]
    pub fn with_pool_timeout(mut self, timeout: Duration) -> Self {
        self.pool_timeout = timeout;
        self
    }

    /// Durability of each commit. Default [`Synchronous::Full`].
    #[must_use]
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// Whether `check` and `ping` may run on the calling runtime thread. Default on.
    ///
    /// An inline read takes an idle pooled connection, runs one `SELECT` with SQLite's
    /// busy handler off, and so never waits for a lock or a connection; when it would
    /// (no idle connection, SQLite busy), it falls back to a blocking thread. What it can
    /// still wait for is the disk, when the pages it reads are not in the OS cache:
    /// turn it off for a database on slow or network storage, and every read goes
    /// through `spawn_blocking` (lease-checked key requests under load: 0.34 × the
    /// unleased rate that way, 0.74 × inline; BENCHMARKS.md).
    #[must_use]
    pub fn with_inline_reads(mut self, inline: bool) -> Self {
        self.inline_reads = inline;
        self
    }

    /// How many connections the store keeps open at most (at least 1; default 4).
    /// Writes are serialised by SQLite anyway; more connections help concurrent reads.
    #[must_use]
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Checks every option, so a bad value is refused once, naming the option, before
    /// the file is touched.
    ///
    /// # Errors
    /// The [`SqliteConfigError`] naming the first bad option.
    pub fn validate(&self) -> Result<(), SqliteConfigError> {
        if self.pool_size == 0 {
            return Err(SqliteConfigError::PoolSize);
        }
        // Zero would fail every wait at once; SQLite takes the busy timeout as an i32 of
        // milliseconds, and the pool adds its timeout to a deadline: a huge value
        // would panic there.
        if !timeout_ok(self.busy_timeout) {
            return Err(SqliteConfigError::BusyTimeout);
        }
        if !timeout_ok(self.pool_timeout) {
            return Err(SqliteConfigError::PoolTimeout);
        }
        Ok(())
    }
}

/// The old setter names, before both stores' configurations used `with_*`.
#[allow(missing_docs)]
impl SqliteConfig {
    #[deprecated(note = "renamed to with_clock")]
    #[must_use]
    pub fn clock(self, clock: Arc<dyn Clock>) -> Self {
        self.with_clock(clock)
    }

    #[deprecated(note = "renamed to with_busy_timeout")]
    #[must_use]
    pub fn busy_timeout(self, timeout: Duration) -> Self {
        self.with_busy_timeout(timeout)
    }

    #[deprecated(note = "renamed to with_pool_timeout")]
    #[must_use]
    pub fn pool_timeout(self, timeout: Duration) -> Self {
        self.with_pool_timeout(timeout)
    }

    #[deprecated(note = "renamed to with_synchronous")]
    #[must_use]
    pub fn synchronous(self, synchronous: Synchronous) -> Self {
        self.with_synchronous(synchronous)
    }

    #[deprecated(note = "renamed to with_inline_reads")]
    #[must_use]
    pub fn inline_reads(self, inline: bool) -> Self {
        self.with_inline_reads(inline)
    }

    #[deprecated(note = "renamed to with_pool_size")]
    #[must_use]
    pub fn pool_size(self, size: usize) -> Self {
        self.with_pool_size(size)
    }
}

fn timeout_ok(timeout: Duration) -> bool {
    !timeout.is_zero() && timeout <= MAX_TIMEOUT
}

/// The old name of [`SqliteConfig`].
#[deprecated(note = "renamed to SqliteConfig")]
pub type SqliteOptions = SqliteConfig;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_option_is_named() {
        let named = |config: SqliteConfig, option: &str| {
            let message = config
                .validate()
                .map_err(|e| e.to_string())
                .expect_err(option);
            assert!(message.starts_with(option), "{message}");
        };
        assert!(SqliteConfig::default().validate().is_ok());
        named(SqliteConfig::default().with_pool_size(0), "pool_size ");
        named(
            SqliteConfig::default().with_busy_timeout(Duration::ZERO),
            "busy_timeout ",
        );
        named(
            SqliteConfig::default().with_busy_timeout(Duration::MAX),
            "busy_timeout ",
        );
        named(
            SqliteConfig::default().with_pool_timeout(Duration::ZERO),
            "pool_timeout ",
        );
        named(
            SqliteConfig::default().with_pool_timeout(MAX_TIMEOUT + Duration::from_millis(1)),
            "pool_timeout ",
        );
        let edge = SqliteConfig::default()
            .with_pool_size(1)
            .with_busy_timeout(MAX_TIMEOUT)
            .with_pool_timeout(Duration::from_millis(1));
        assert!(edge.validate().is_ok());
    }
}

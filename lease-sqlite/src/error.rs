//! Errors of this crate, carried as the source of `LeaseError`, and how SQLite errors map
//! onto `LeaseError`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::lease::LeaseError;
use rusqlite::ErrorCode;

/// What went wrong in the SQLite store, beyond a plain SQLite error.
///
/// Store methods return [`LeaseError`]; these travel inside it as the source of
/// `LeaseError::Backend` or `LeaseError::Unavailable`. Find one with
/// [`SqliteStoreError::from_lease_error`]. Plain SQLite failures are kept as a
/// [`rusqlite::Error`] source instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteStoreError {
    /// The directory that should hold the database file does not exist.
    #[error("cannot open lease database {}: its directory does not exist", path.display())]
    MissingDirectory {
        /// The database path as given.
        path: PathBuf,
    },
    /// SQLite could not open or set up the file.
    #[error("cannot open lease database {}", path.display())]
    Open {
        /// The database path as given.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer version of this crate.
    #[error(
        "lease database {} has schema version {found}, newer than version {supported} \
         known to this build; upgrade blindcast-lease-sqlite",
        path.display()
    )]
    SchemaTooNew {
        /// The database path as given.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The file's `user_version` is negative: it was not written by this crate.
    #[error("lease database {} has unknown schema version {found}", path.display())]
    UnknownSchema {
        /// The database path as given.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
    },
    /// The file could not be switched to WAL mode (e.g. an in-memory database).
    #[error("lease database {} cannot use WAL mode (journal_mode is {mode})", path.display())]
    NotWal {
        /// The database path as given.
        path: PathBuf,
        /// The journal mode SQLite reported.
        mode: String,
    },
    /// No pooled connection became free in time.
    #[error("no SQLite connection became free within {0:?}")]
    PoolTimeout(Duration),
    /// A stored row does not hold a valid lease.
    #[error("corrupt lease row: {0}")]
    CorruptRow(&'static str),
    /// An operation panicked; its changes were rolled back.
    #[error("a lease store operation panicked")]
    OperationPanicked,
    /// The transaction that carried this write could not begin or commit (SQLite's
    /// error is the source): the write did not happen.
    #[error("the lease write transaction failed")]
    Transaction(#[source] Arc<rusqlite::Error>),
    /// SQLite rolled back the transaction that carried this write, because another
    /// write in the same transaction failed badly (I/O error, disk full): the write did
    /// not happen.
    #[error("the lease write transaction was rolled back")]
    RolledBack,
    /// The task running this write's batch was cancelled before it ran: the write did
    /// not happen.
    #[error("the lease write was dropped before it ran")]
    WriteDropped,
    /// Internal guard: a write was about to run outside a write transaction.
    #[error("lease write outside a write transaction")]
    NotInTransaction,
    /// The store clock reads a time SQLite cannot store as unix milliseconds.
    #[error("store clock is outside the range of unix milliseconds")]
    ClockOutOfRange,
}

impl SqliteStoreError {
    /// The `SqliteStoreError` behind `error`, if any.
    pub fn from_lease_error(error: &LeaseError) -> Option<&Self> {
        std::error::Error::source(error)?.downcast_ref()
    }
}

/// An option of [`SqliteConfig`](crate::SqliteConfig) the store cannot use. Travels as
/// [`LeaseError::InvalidRequest`] with this message, which names the option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqliteConfigError {
    /// `pool_size` is 0.
    PoolSize,
    /// `busy_timeout` is 0 or longer than [`MAX_TIMEOUT`](crate::MAX_TIMEOUT).
    BusyTimeout,
    /// `pool_timeout` is 0 or longer than [`MAX_TIMEOUT`](crate::MAX_TIMEOUT).
    PoolTimeout,
}

impl std::fmt::Display for SqliteConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for SqliteConfigError {}

impl SqliteConfigError {
    fn message(self) -> &'static str {
        match self {
            Self::PoolSize => "pool_size must be at least 1",
            Self::BusyTimeout => "busy_timeout must be more than 0 and at most 24 hours",
            Self::PoolTimeout => "pool_timeout must be more than 0 and at most 24 hours",
        }
    }
}

impl From<SqliteConfigError> for LeaseError {
    fn from(e: SqliteConfigError) -> Self {
        Self::InvalidRequest(e.message())
    }
}

/// The error of one blocking operation: either already a lease answer, or SQLite's.
#[derive(Debug)]
pub(crate) enum OpError {
    Lease(LeaseError),
    Sql(rusqlite::Error),
}

impl From<LeaseError> for OpError {
    fn from(e: LeaseError) -> Self {
        Self::Lease(e)
    }
}

impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<SqliteStoreError> for OpError {
    fn from(e: SqliteStoreError) -> Self {
        Self::Lease(LeaseError::backend(e))
    }
}

impl From<OpError> for LeaseError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Lease(e) => e,
            OpError::Sql(e) => sql_to_lease(e),
        }
    }
}

/// SQLite's "busy" or "locked": another connection holds the lock it needs.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Busy or locked after the busy timeout means "try again later", not a broken store.
pub(crate) fn sql_to_lease(e: rusqlite::Error) -> LeaseError {
    if is_busy(&e) {
        LeaseError::unavailable(e)
    } else {
        LeaseError::backend(e)
    }
}

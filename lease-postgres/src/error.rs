//! Mapping PostgreSQL and pool errors onto [`LeaseError`].

use blindcast_keys_core::lease::LeaseError;
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// An option of [`PostgresConfig`](crate::PostgresConfig) or a connection string the
/// store cannot use. Never holds the password.
///
/// The option variants travel as [`LeaseError::InvalidRequest`] (with this message);
/// the others as the source of [`LeaseError::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresConfigError {
    /// `table_prefix` is not a plain identifier of at most
    /// [`MAX_TABLE_PREFIX_LEN`](crate::MAX_TABLE_PREFIX_LEN) bytes.
    #[error("{}", TABLE_PREFIX)]
    TablePrefix,
    /// `max_connections` is 0.
    #[error("{}", MAX_CONNECTIONS)]
    MaxConnections,
    /// `wait_timeout` is 0 or longer than [`MAX_TIMEOUT`](crate::MAX_TIMEOUT).
    #[error("{}", WAIT_TIMEOUT)]
    WaitTimeout,
    /// `connect_timeout` is 0 or longer than [`MAX_TIMEOUT`](crate::MAX_TIMEOUT).
    #[error("{}", CONNECT_TIMEOUT)]
    ConnectTimeout,
    /// `retry.max_attempts` is 0.
    #[error("{}", RETRY_MAX_ATTEMPTS)]
    RetryMaxAttempts,
    /// The cache is on and `cache.max_entries` is 0.
    #[error("{}", CACHE_MAX_ENTRIES)]
    CacheMaxEntries,
    /// The cache is on and `cache.heartbeat` is 0 or longer than
    /// [`MAX_TIMEOUT`](crate::MAX_TIMEOUT).
    #[error("{}", CACHE_HEARTBEAT)]
    CacheHeartbeat,
    /// The cache is on in a store built [`from_pool`](crate::PostgresLeaseStore::from_pool)
    /// without `cache.listener_url` (a pool has no URL for the listener to reuse).
    #[error("{}", CACHE_LISTENER_URL)]
    CacheListenerUrl,
    /// The cache is on and `cache.listener_url` is not a connection string the store can
    /// use (the source says why, without the URL).
    #[error("cache.listener_url is not a usable PostgreSQL connection string: {0}")]
    CacheListenerUrlInvalid(#[source] Box<PostgresConfigError>),
    /// The URL could not be parsed.
    #[error("invalid PostgreSQL connection string: {0}")]
    Url(#[source] tokio_postgres::Error),
    /// An `sslmode` this build does not know.
    #[error("unsupported sslmode {0:?} (disable, prefer, require, verify-ca, verify-full)")]
    SslMode(String),
    /// TLS was asked for but the crate was built without the `tls` feature.
    #[error("sslmode {0} needs the `tls` feature of blindcast-lease-postgres")]
    TlsDisabled(&'static str),
    /// The root certificates could not be loaded.
    #[error("cannot load TLS root certificates: {0}")]
    RootCerts(String),
    /// The pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    /// The lease-check cache's listener could not start: why (without the URL); the
    /// message adds what to do.
    #[error(
        "the lease-check cache cannot listen for releases ({0}); the listener needs a \
         session connection to PostgreSQL (set cache.listener_url to a direct URL when the \
         store's URL goes through PgBouncer in transaction mode or RDS Proxy), or turn \
         the cache off"
    )]
    Listener(String),
}

const TABLE_PREFIX: &str =
    "table_prefix must be 1 to 32 characters of [a-z0-9_], not starting with a digit";
const MAX_CONNECTIONS: &str = "max_connections must be at least 1";
const WAIT_TIMEOUT: &str = "wait_timeout must be more than 0 and at most 24 hours";
const CONNECT_TIMEOUT: &str = "connect_timeout must be more than 0 and at most 24 hours";
const RETRY_MAX_ATTEMPTS: &str = "retry.max_attempts must be at least 1";
const CACHE_MAX_ENTRIES: &str = "cache.max_entries must be at least 1 when the cache is enabled";
const CACHE_HEARTBEAT: &str =
    "cache.heartbeat must be more than 0 and at most 24 hours when the cache is enabled";
const CACHE_LISTENER_URL: &str =
    "cache.listener_url is required when the cache is enabled on a store built from a pool";

/// The old name of [`PostgresConfigError`].
#[deprecated(note = "renamed to PostgresConfigError")]
pub type ConfigError = PostgresConfigError;

impl PostgresConfigError {
    /// The [`PostgresConfig`](crate::PostgresConfig) option this error is about (its path,
    /// e.g. `cache.max_entries`), so a settings layer can name its own setting; `None` for
    /// errors about the connection string or the connection.
    pub fn option(&self) -> Option<&'static str> {
        Some(match self {
            Self::TablePrefix => "table_prefix",
            Self::MaxConnections => "max_connections",
            Self::WaitTimeout => "wait_timeout",
            Self::ConnectTimeout => "connect_timeout",
            Self::RetryMaxAttempts => "retry.max_attempts",
            Self::CacheMaxEntries => "cache.max_entries",
            Self::CacheHeartbeat => "cache.heartbeat",
            Self::CacheListenerUrl | Self::CacheListenerUrlInvalid(_) => "cache.listener_url",
            _ => return None,
        })
    }
}

impl From<PostgresConfigError> for LeaseError {
    fn from(e: PostgresConfigError) -> Self {
        use PostgresConfigError as E;
        match e {
            E::TablePrefix => Self::InvalidRequest(TABLE_PREFIX),
            E::MaxConnections => Self::InvalidRequest(MAX_CONNECTIONS),
            E::WaitTimeout => Self::InvalidRequest(WAIT_TIMEOUT),
            E::ConnectTimeout => Self::InvalidRequest(CONNECT_TIMEOUT),
            E::RetryMaxAttempts => Self::InvalidRequest(RETRY_MAX_ATTEMPTS),
            E::CacheMaxEntries => Self::InvalidRequest(CACHE_MAX_ENTRIES),
            E::CacheHeartbeat => Self::InvalidRequest(CACHE_HEARTBEAT),
            E::CacheListenerUrl => Self::InvalidRequest(CACHE_LISTENER_URL),
            other => Self::backend(other),
        }
    }
}

/// Why one attempt of an operation failed, before mapping.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A final answer of the store (limit reached, not found, ...).
    Lease(LeaseError),
    /// A database error.
    Pg(tokio_postgres::Error),
    /// No connection could be had.
    Pool(PoolError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Pg(e)
    }
}

impl From<PoolError> for Failure {
    fn from(e: PoolError) -> Self {
        Self::Pool(e)
    }
}

impl From<LeaseError> for Failure {
    fn from(e: LeaseError) -> Self {
        Self::Lease(e)
    }
}

impl Failure {
    /// A serialization failure or deadlock: the transaction may simply be run again.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, Self::Pg(e) if e.code().is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        }))
    }

    pub(crate) fn into_lease_error(self) -> LeaseError {
        match self {
            Self::Lease(e) => e,
            Self::Pg(e) => pg_error(e),
            Self::Pool(e) => pool_error(e),
        }
    }
}

/// `Unavailable` when the database cannot be reached or is shutting down; `Backend` for
/// everything else.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> LeaseError {
    if is_unavailable(&e) {
        LeaseError::unavailable(e)
    } else {
        LeaseError::backend(e)
    }
}

fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        // Class 08: connection exception; 57P01-57P03: shutdown, crash, cannot connect now;
        // 53300: too many connections.
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
    }
    // Not from the server: I/O (refused, reset, timed out) or TLS while connecting.
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    let text = e.to_string();
    text.starts_with("error connecting") || text.starts_with("timeout waiting")
}

pub(crate) fn pool_error(e: PoolError) -> LeaseError {
    match e {
        PoolError::Backend(e) => pg_error(e),
        PoolError::Timeout(_) | PoolError::Closed => LeaseError::unavailable(e),
        PoolError::PostCreateHook(_) | PoolError::NoRuntimeSpecified => LeaseError::backend(e),
    }
}

//! [`SqliteLeaseStore`]: opening the file and the [`LeaseStore`] implementation.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{
    Clock, CreateLease, Lease, LeaseError, LeaseId, LeaseStore, MonotonicClock, ViewerId,
    validate_ttl,
};

use crate::config::SqliteConfig;
use crate::error::{SqliteStoreError, is_busy};
use crate::pool::{ConnConfig, Pool, connect};
use crate::queries::{self, PURGE_BATCH};
use crate::schema;

/// Leases in one SQLite file, shared by every store (in any process on this machine)
/// that opens the same file.
///
/// Cheap to clone: clones share one connection pool. Use it as `Arc<dyn LeaseStore>`.
/// Operations must be awaited inside a tokio runtime: writes run on a blocking thread
/// (`block_in_place` on a multi-thread runtime, else `spawn_blocking`); reads run inline
/// when they cannot wait, else on a blocking thread too ([`SqliteConfig::with_inline_reads`]).
#[derive(Clone)]
pub struct SqliteLeaseStore {
    pool: Pool,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for SqliteLeaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteLeaseStore")
            .field("pool", &self.pool)
            .field("clock", &self.clock)
            .finish()
    }
}

impl SqliteLeaseStore {
    /// Opens (creating if needed) the lease database at `path` with the default
    /// [`SqliteConfig`]: system clock, `synchronous = FULL`, 5 s timeouts, 4 connections.
    ///
    /// # Errors
    /// See [`open_with`](Self::open_with).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, LeaseError> {
        Self::open_with(path, SqliteConfig::default()).await
    }

    /// Opens (creating if needed) the lease database at `path`, switches it to WAL mode
    /// and migrates its schema to [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
    ///
    /// # Errors
    /// - `LeaseError::InvalidRequest` naming the option when [`SqliteConfig::validate`]
    ///   refuses `config`.
    /// - `LeaseError::Backend` holding a [`SqliteStoreError`]: `MissingDirectory` when
    ///   the parent directory does not exist, `SchemaTooNew` when the file was written by
    ///   a newer version of this crate, `Open` or `NotWal` when SQLite cannot use it.
    /// - `LeaseError::Unavailable` holding `SqliteStoreError::Open` if another
    ///   connection kept the database locked past the busy timeout.
    pub async fn open_with(
        path: impl AsRef<Path>,
        config: SqliteConfig,
    ) -> Result<Self, LeaseError> {
        config.validate()?;
        let path = path.as_ref().to_path_buf();
        let conn_config = ConnConfig {
            busy_timeout: config.busy_timeout,
            synchronous: config.synchronous,
            inline_reads: config.inline_reads,
        };
        let opened = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_first(&path, conn_config))
        };
        let first = opened.await.map_err(LeaseError::backend)??;
        Ok(Self {
            pool: Pool::new(
                path,
                conn_config,
                config.pool_size,
                config.pool_timeout,
                first,
            ),
            // A backwards step of the system clock stops this process's time instead of
            // reviving leases it has seen expire (see the crate docs for other processes).
            clock: Arc::new(MonotonicClock::new(config.clock)),
        })
    }
}

/// Opens the first connection and prepares the file (blocking).
fn open_first(path: &Path, conn_config: ConnConfig) -> Result<rusqlite::Connection, LeaseError> {
    // SQLite's own message for a missing directory is "unable to open database file";
    // say what is actually wrong, with the path.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(LeaseError::backend(SqliteStoreError::MissingDirectory {
            path: path.to_owned(),
        }));
    }
    let mut conn = connect(path, conn_config).map_err(|source| open_error(path, source))?;
    schema::prepare(&mut conn, path).map_err(|e| match e {
        SqliteStoreError::Open { path, source } => open_error(&path, source),
        other => LeaseError::backend(other),
    })?;
    Ok(conn)
}

fn open_error(path: &Path, source: rusqlite::Error) -> LeaseError {
    let busy = is_busy(&source);
    let error = SqliteStoreError::Open {
        path: PathBuf::from(path),
        source,
    };
    if busy {
        LeaseError::unavailable(error)
    } else {
        LeaseError::backend(error)
    }
}

#[async_trait]
impl LeaseStore for SqliteLeaseStore {
    async fn create(&self, request: CreateLease) -> Result<Lease, LeaseError> {
        request.validate()?;
        let id = LeaseId::generate()?;
        let clock = self.clock.clone();
        self.pool
            .write(move |conn| queries::create(conn, &*clock, id, request))
            .await
    }

    async fn renew(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        validate_ttl(ttl)?;
        let (clock, id, viewer) = (self.clock.clone(), lease_id.clone(), viewer.clone());
        self.pool
            .write(move |conn| queries::renew(conn, &*clock, &id, &viewer, ttl))
            .await
    }

    async fn check(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        content: &ContentId,
    ) -> Result<Lease, LeaseError> {
        let (clock, id, viewer, content) = (
            self.clock.clone(),
            lease_id.clone(),
            viewer.clone(),
            content.clone(),
        );
        self.pool
            .read(move |conn| queries::check(conn, &*clock, &id, &viewer, &content))
            .await
    }

    async fn release(&self, lease_id: &LeaseId, viewer: &ViewerId) -> Result<(), LeaseError> {
        let (clock, id, viewer) = (self.clock.clone(), lease_id.clone(), viewer.clone());
        self.pool
            .write(move |conn| queries::release(conn, &*clock, &id, &viewer))
            .await
    }

    async fn purge_expired(&self) -> Result<u64, LeaseError> {
        // One pool round trip per batch, so callers queued on the pool get in between.
        let mut purged = 0u64;
        loop {
            let clock = self.clock.clone();
            let deleted = self
                .pool
                .write(move |conn| queries::purge_batch(conn, &*clock))
                .await?;
            purged += deleted;
            if deleted < PURGE_BATCH as u64 {
                return Ok(purged);
            }
        }
    }

    async fn ping(&self) -> Result<(), LeaseError> {
        self.pool.read(queries::ping).await
    }
}

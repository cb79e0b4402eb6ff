//! A small pool of SQLite connections, each used on a blocking thread.
//!
//! rusqlite connections are blocking and `!Sync`, so every operation takes a connection
//! out of the pool and runs on `tokio::task::spawn_blocking`, never on a runtime worker.
//! A semaphore bounds how many connections exist and how long a caller waits for one.
//!
//! Writers of one store also queue on an async gate before taking a connection. SQLite
//! admits one writer at a time anyway, and a connection that finds the write lock taken
//! sleeps in its busy handler (1, 2, 5, ... 100 ms) instead of being woken: letting
//! this store's writers contend inside SQLite cost 40-50% of write throughput with 8
//! clients (benches/results/lease-sqlite.md).
//! Other processes (and other stores on the file) still meet at SQLite's lock.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use blindcast_keys_core::lease::LeaseError;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::error::{OpError, SqliteStoreError, sql_to_lease};
use crate::options::Synchronous;

/// Per-connection settings (the journal mode lives in the file and is set once at open).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnSettings {
    pub(crate) busy_timeout: Duration,
    pub(crate) synchronous: Synchronous,
}

/// Opens and configures one connection to `path`.
pub(crate) fn connect(path: &Path, settings: ConnSettings) -> Result<Connection, rusqlite::Error> {
    // No URI parsing: the path is a file name, never a query string.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(settings.busy_timeout)?;
    conn.pragma_update(None, "synchronous", settings.synchronous.pragma_value())?;
    Ok(conn)
}

/// A bounded set of connections to one database file. Clones share the pool.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    settings: ConnSettings,
    size: usize,
    acquire_timeout: Duration,
    permits: Arc<Semaphore>,
    /// One permit: the writer of this store allowed to ask SQLite for the write lock.
    write_gate: Arc<Semaphore>,
    idle: Mutex<Vec<Connection>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("path", &self.inner.path)
            .field("size", &self.inner.size)
            .field("available", &self.inner.permits.available_permits())
            .field("busy_timeout", &self.inner.settings.busy_timeout)
            .field("acquire_timeout", &self.inner.acquire_timeout)
            .field("synchronous", &self.inner.settings.synchronous)
            .finish()
    }
}

impl Pool {
    /// A pool of at most `size` connections (at least 1), seeded with `first`.
    pub(crate) fn new(
        path: PathBuf,
        settings: ConnSettings,
        size: usize,
        acquire_timeout: Duration,
        first: Connection,
    ) -> Self {
        let size = size.max(1);
        Self {
            inner: Arc::new(Inner {
                path,
                settings,
                size,
                acquire_timeout,
                permits: Arc::new(Semaphore::new(size)),
                write_gate: Arc::new(Semaphore::new(1)),
                idle: Mutex::new(vec![first]),
            }),
        }
    }

    /// Runs a read-only `op` with a connection on a blocking thread.
    ///
    /// # Errors
    /// `Unavailable` when no connection frees up within the acquire timeout, or when
    /// SQLite stays busy past its busy timeout; whatever `op` returns otherwise.
    pub(crate) async fn read<T, F>(&self, op: F) -> Result<T, LeaseError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, OpError> + Send + 'static,
    {
        self.run(false, op).await
    }

    /// Runs `op`, which writes, after this store's earlier writers: see the module docs.
    ///
    /// # Errors
    /// As [`read`](Self::read); the acquire timeout covers the wait for the gate too.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T, LeaseError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, OpError> + Send + 'static,
    {
        self.run(true, op).await
    }

    async fn run<T, F>(&self, write: bool, op: F) -> Result<T, LeaseError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, OpError> + Send + 'static,
    {
        let acquire = async {
            // Gate first, then a connection: readers never wait for the gate, so a
            // writer holding it always gets a connection eventually.
            let gate = if write {
                Some(self.inner.write_gate.clone().acquire_owned().await?)
            } else {
                None
            };
            let conn = self.inner.permits.clone().acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>((gate, conn))
        };
        let permits = tokio::time::timeout(self.inner.acquire_timeout, acquire)
            .await
            .map_err(|_| {
                LeaseError::unavailable(SqliteStoreError::PoolTimeout(self.inner.acquire_timeout))
            })?
            // The semaphores are never closed; treat it as unavailable if one ever is.
            .map_err(LeaseError::unavailable)?;
        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let _permits = permits;
            let mut conn = match inner.take_idle() {
                Some(conn) => conn,
                None => connect(&inner.path, inner.settings).map_err(sql_to_lease)?,
            };
            let result = op(&mut conn);
            inner.put_back(conn);
            result.map_err(LeaseError::from)
        })
        .await;
        // A panic inside `op` drops its connection (rolling back any transaction) and
        // comes back as a backend error rather than tearing down the caller.
        joined.map_err(LeaseError::backend)?
    }
}

impl Inner {
    fn take_idle(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn put_back(&self, conn: Connection) {
        // A connection left inside a transaction would hold SQLite's write lock; drop it.
        if conn.is_autocommit() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }
}

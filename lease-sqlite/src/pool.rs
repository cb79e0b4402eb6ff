//! A small pool of SQLite connections, and where each operation runs.
//!
//! rusqlite connections are blocking and `!Sync`, so every operation takes a connection
//! out of the pool. A semaphore bounds how many connections exist and how long a caller
//! waits for one.
//!
//! - Writes queue for this store's write gate and are committed in groups
//!   ([`crate::batch`]). SQLite admits one writer at a time anyway, and a connection
//!   that finds the write lock taken sleeps in its busy handler (1, 2, 5, ... 100 ms)
//!   instead of being woken: letting this store's writers contend inside SQLite cost
//!   40-50% of write throughput with 8 clients (benches/results/lease-sqlite.md).
//!   Other processes (and other stores on the file) still meet at SQLite's lock. A batch
//!   can wait (for the write lock, for `fsync`), so it never runs on a runtime worker as
//!   such: on a multi-thread runtime it runs under `tokio::task::block_in_place`, which
//!   hands the worker's other tasks to another thread first, and saves a hand-off to
//!   another thread and back on every write; on a current-thread runtime, on
//!   `spawn_blocking`.
//! - Reads run inline when a connection is idle ([`SqliteConfig::with_inline_reads`],
//!   on by default). A WAL-mode read never waits for a writer, and the inline attempt
//!   runs with the busy handler off, so it cannot sleep: if SQLite answers busy (a
//!   checkpoint or WAL recovery in progress), the read is retried on `spawn_blocking`
//!   with the normal busy timeout. Handing a read of a few microseconds to another
//!   thread and back cost more than the read itself: lease-checked key requests under
//!   load went from 0.34 to 0.74 × the unleased rate when reads moved inline
//!   (BENCHMARKS.md).
//!
//! [`SqliteConfig::with_inline_reads`]: crate::SqliteConfig::with_inline_reads

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use blindcast_keys_core::lease::LeaseError;
use rusqlite::{Connection, OpenFlags};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::batch::{self, Claim, Failure, Job, MAX_BATCH, Pending};
use crate::config::Synchronous;
use crate::error::{OpError, SqliteStoreError, is_busy, sql_to_lease};

/// Per-connection configuration (the journal mode lives in the file and is set once at open).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnConfig {
    pub(crate) busy_timeout: Duration,
    pub(crate) synchronous: Synchronous,
    pub(crate) inline_reads: bool,
}

/// Opens and configures one connection to `path`.
pub(crate) fn connect(path: &Path, conn_config: ConnConfig) -> Result<Connection, rusqlite::Error> {
    // No URI parsing: the path is a file name, never a query string.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(conn_config.busy_timeout)?;
    conn.pragma_update(None, "synchronous", conn_config.synchronous.pragma_value())?;
    Ok(conn)
}

/// A bounded set of connections to one database file. Clones share the pool.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn_config: ConnConfig,
    size: usize,
    pool_timeout: Duration,
    permits: Arc<Semaphore>,
    /// One permit: the writer of this store allowed to run a batch of queued writes.
    write_gate: Arc<Semaphore>,
    /// Writes waiting for a batch, oldest first.
    queue: Mutex<VecDeque<Box<dyn Pending>>>,
    idle: Mutex<Vec<Connection>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("path", &self.inner.path)
            .field("size", &self.inner.size)
            .field("available", &self.inner.permits.available_permits())
            .field("busy_timeout", &self.inner.conn_config.busy_timeout)
            .field("pool_timeout", &self.inner.pool_timeout)
            .field("synchronous", &self.inner.conn_config.synchronous)
            .field("inline_reads", &self.inner.conn_config.inline_reads)
            .finish()
    }
}

impl Pool {
    /// A pool of at most `size` connections (at least 1), seeded with `first`.
    pub(crate) fn new(
        path: PathBuf,
        conn_config: ConnConfig,
        size: usize,
        pool_timeout: Duration,
        first: Connection,
    ) -> Self {
        let size = size.max(1);
        Self {
            inner: Arc::new(Inner {
                path,
                conn_config,
                size,
                pool_timeout,
                permits: Arc::new(Semaphore::new(size)),
                write_gate: Arc::new(Semaphore::new(1)),
                queue: Mutex::new(VecDeque::new()),
                idle: Mutex::new(vec![first]),
            }),
        }
    }

    /// Runs a read-only `op` with a connection: inline if one is idle and inline reads
    /// are on, else on a blocking thread (see the module docs).
    ///
    /// # Errors
    /// `Unavailable` when no connection frees up within the pool timeout, or when
    /// SQLite stays busy past its busy timeout; whatever `op` returns otherwise.
    pub(crate) async fn read<T, F>(&self, op: F) -> Result<T, LeaseError>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> Result<T, OpError> + Send + 'static,
    {
        if self.inner.conn_config.inline_reads
            && let Some(result) = self.inner.try_read_inline(&op)
        {
            return result;
        }
        self.run_blocking(op).await
    }

    /// Runs `op`, which writes, in a savepoint of a write transaction shared with the
    /// writes queued beside it (group commit, see the module docs); answers once that
    /// transaction has committed.
    ///
    /// # Errors
    /// `Unavailable` when the write could not start within the pool timeout (it then
    /// never runs), or SQLite stayed busy past its busy timeout; `Backend` when the
    /// transaction failed; whatever `op` returns otherwise.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T, LeaseError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, OpError> + Send + 'static,
    {
        let claim = Claim::default();
        let (reply, mut answer) = oneshot::channel();
        self.inner
            .lock_queue()
            .push_back(Box::new(Job::new(claim.clone(), op, reply)));
        let deadline = tokio::time::Instant::now() + self.inner.pool_timeout;
        let dropped = |_| LeaseError::unavailable(SqliteStoreError::WriteDropped);
        loop {
            tokio::select! {
                biased;
                answered = &mut answer => return answered.unwrap_or_else(|e| Err(dropped(e))),
                gate = self.inner.write_gate.clone().acquire_owned() => {
                    // The semaphore is never closed; if it were, the timeout below ends this.
                    if let Ok(gate) = gate {
                        self.lead(gate, deadline).await;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    if claim.abandon() {
                        return Err(LeaseError::unavailable(SqliteStoreError::PoolTimeout(
                            self.inner.pool_timeout,
                        )));
                    }
                    // A batch holds the write already: its answer is on the way.
                    return (&mut answer).await.unwrap_or_else(|e| Err(dropped(e)));
                }
            }
        }
    }

    /// Holding the write gate: runs what is queued as one batch.
    async fn lead(&self, gate: OwnedSemaphorePermit, deadline: tokio::time::Instant) {
        let jobs = self.inner.claim_queued();
        if jobs.is_empty() {
            return; // another batch ran this caller's write; its answer is ready
        }
        let permits = self.inner.permits.clone();
        let Ok(Ok(permit)) = tokio::time::timeout_at(deadline, permits.acquire_owned()).await
        else {
            let failure = Failure::PoolTimeout(self.inner.pool_timeout);
            return batch::answer_all(jobs, Some(&failure));
        };
        let inner = self.inner.clone();
        let work = move || {
            let _held = (gate, permit);
            match inner.connection() {
                Ok(mut conn) => {
                    batch::run_batch(&mut conn, jobs);
                    inner.put_back(conn);
                }
                Err(e) => batch::answer_all(jobs, Some(&Failure::sql(e))),
            }
        };
        let multi_thread = Handle::try_current()
            .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
        // Operations catch their own panics; anything else that panics drops the jobs'
        // reply channels, and their callers get `WriteDropped`.
        if multi_thread {
            let _ = tokio::task::block_in_place(|| catch_unwind(AssertUnwindSafe(work)));
        } else {
            let _ = tokio::task::spawn_blocking(work).await;
        }
    }

    /// A read on the blocking pool, after waiting for a connection.
    async fn run_blocking<T, F>(&self, op: F) -> Result<T, LeaseError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, OpError> + Send + 'static,
    {
        let permit = tokio::time::timeout(
            self.inner.pool_timeout,
            self.inner.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| {
            LeaseError::unavailable(SqliteStoreError::PoolTimeout(self.inner.pool_timeout))
        })?
        // The semaphore is never closed; treat it as unavailable if it ever is.
        .map_err(LeaseError::unavailable)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = inner.connection().map_err(sql_to_lease)?;
            let result = op(&mut conn);
            inner.put_back(conn);
            result.map_err(LeaseError::from)
        })
        .await
        // A panic inside `op` drops its connection and comes back as a backend error
        // rather than tearing down the caller.
        .map_err(LeaseError::backend)?
    }
}

impl Inner {
    fn lock_queue(&self) -> MutexGuard<'_, VecDeque<Box<dyn Pending>>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes up to [`MAX_BATCH`] queued writes whose callers still wait.
    fn claim_queued(&self) -> Vec<Box<dyn Pending>> {
        let mut queue = self.lock_queue();
        let mut jobs = Vec::with_capacity(queue.len().min(MAX_BATCH));
        while jobs.len() < MAX_BATCH
            && let Some(job) = queue.pop_front()
        {
            if job.claim() {
                jobs.push(job);
            }
        }
        jobs
    }

    /// One attempt at `op` on this thread, with an idle connection and without waiting
    /// for anything; `None` when it would have to wait (no idle connection, SQLite busy),
    /// so that the caller takes the blocking path.
    fn try_read_inline<T, F>(&self, op: &F) -> Option<Result<T, LeaseError>>
    where
        F: Fn(&mut Connection) -> Result<T, OpError>,
    {
        let _permit = self.permits.try_acquire().ok()?;
        let mut conn = self.take_idle()?;
        // Busy handler off: an inline read must fail fast rather than sleep on a worker.
        if conn.busy_timeout(Duration::ZERO).is_err() {
            return None; // dropping the connection; the blocking path opens another
        }
        let result = catch_unwind(AssertUnwindSafe(|| op(&mut conn)));
        // A connection that panicked, or whose busy timeout cannot be restored, is
        // dropped, not pooled.
        let Ok(result) = result else {
            return Some(Err(LeaseError::backend(
                SqliteStoreError::OperationPanicked,
            )));
        };
        if conn.busy_timeout(self.conn_config.busy_timeout).is_ok() {
            self.put_back(conn);
        }
        match result {
            Err(OpError::Sql(e)) if is_busy(&e) => None,
            result => Some(result.map_err(LeaseError::from)),
        }
    }

    /// An idle connection, or a new one (blocking).
    fn connection(&self) -> Result<Connection, rusqlite::Error> {
        match self.take_idle() {
            Some(conn) => Ok(conn),
            None => connect(&self.path, self.conn_config),
        }
    }

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

#[cfg(test)]
mod tests;

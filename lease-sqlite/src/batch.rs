//! Group commit: the writes of one store that queue up together share one transaction
//! and one sync to disk.
//!
//! A write (`create`, `renew`, `release`, one purge batch) is queued as a [`Pending`]
//! operation. The writer that gets the store's write gate takes everything queued so
//! far and runs it, in queue order, inside one `BEGIN IMMEDIATE` transaction, each
//! operation in a savepoint of its own, then commits once: one `fsync` with
//! `synchronous = FULL`, however many writes the batch holds. Then it answers every
//! caller.
//!
//! What this keeps from one transaction per write:
//! - Nobody is answered before the commit: an acknowledged write is on disk.
//! - An operation that fails (a limit reached, an expired lease) rolls back to its own
//!   savepoint, leaves the others alone and gets its own error; if the commit fails, or
//!   SQLite rolls the whole transaction back, every operation that had succeeded in the
//!   batch fails with it.
//! - Operations run one after the other, each on the state the earlier ones left, all
//!   under SQLite's write lock: a limit holds inside a batch exactly as between batches.
//! - A caller that gave up (timed out, or its request was cancelled) before its
//!   operation was claimed for a batch is skipped: it was told its write failed, or
//!   nobody would learn of it, so the write must not happen.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use blindcast_keys_core::lease::LeaseError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{OpError, SqliteStoreError, is_busy};

/// Most operations one transaction carries, so one batch holds the write lock briefly.
pub(crate) const MAX_BATCH: usize = 64;

const QUEUED: u8 = 0;
const CLAIMED: u8 = 1;
const ABANDONED: u8 = 2;

/// Whether a queued operation still waits, was claimed by a batch, or was given up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Claim(Arc<AtomicU8>);

impl Claim {
    /// The batch side: true if the operation is now this batch's to run.
    fn claim(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The caller side: true if the operation will never run; false if a batch has
    /// claimed it already, so its answer is on the way.
    pub(crate) fn abandon(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Why a whole batch failed; every operation in it gets this as its error.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// `BEGIN IMMEDIATE` or `COMMIT` failed.
    Transaction(Arc<rusqlite::Error>),
    /// SQLite ended the transaction itself after an operation failed.
    RolledBack,
    /// No connection became free in time.
    PoolTimeout(std::time::Duration),
}

impl Failure {
    /// `BEGIN`, `COMMIT` or opening a connection failed with `e`.
    pub(crate) fn sql(e: rusqlite::Error) -> Self {
        Self::Transaction(Arc::new(e))
    }

    fn to_lease_error(&self) -> LeaseError {
        match self {
            // Busy or locked after the busy timeout: try again later, as for one write.
            Self::Transaction(e) if is_busy(e) => {
                LeaseError::unavailable(SqliteStoreError::Transaction(e.clone()))
            }
            Self::Transaction(e) => LeaseError::backend(SqliteStoreError::Transaction(e.clone())),
            Self::RolledBack => LeaseError::backend(SqliteStoreError::RolledBack),
            Self::PoolTimeout(after) => {
                LeaseError::unavailable(SqliteStoreError::PoolTimeout(*after))
            }
        }
    }
}

/// One queued write, whatever its result type.
pub(crate) trait Pending: Send {
    /// Takes the operation for a batch; false if its caller is gone or gave up.
    fn claim(&self) -> bool;
    /// Runs the operation in a savepoint of the open transaction.
    fn run(&mut self, conn: &mut Connection);
    /// Sends the caller its answer: the operation's result, or the batch's failure.
    fn answer(self: Box<Self>, failure: Option<&Failure>);
}

/// A write and the channel its caller waits on.
pub(crate) struct Job<T, F> {
    claim: Claim,
    op: Option<F>,
    result: Option<Result<T, LeaseError>>,
    reply: oneshot::Sender<Result<T, LeaseError>>,
}

impl<T, F> Job<T, F> {
    pub(crate) fn new(claim: Claim, op: F, reply: oneshot::Sender<Result<T, LeaseError>>) -> Self {
        Self {
            claim,
            op: Some(op),
            result: None,
            reply,
        }
    }
}

impl<T, F> Pending for Job<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, OpError> + Send,
{
    fn claim(&self) -> bool {
        // A caller whose request was cancelled while queued has dropped its receiver:
        // nobody would learn of the write, so it does not happen.
        !self.reply.is_closed() && self.claim.claim()
    }

    fn run(&mut self, conn: &mut Connection) {
        let Some(op) = self.op.take() else { return };
        // A panic unwinds through the savepoint, which rolls its changes back.
        let outcome = catch_unwind(AssertUnwindSafe(|| in_savepoint(conn, op)));
        self.result = Some(
            outcome
                .unwrap_or_else(|_| Err(LeaseError::backend(SqliteStoreError::OperationPanicked))),
        );
    }

    fn answer(self: Box<Self>, failure: Option<&Failure>) {
        let result = match (self.result, failure) {
            // A refusal or error of its own stands whatever became of the batch: the
            // operation changed nothing.
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(done)), None) => Ok(done),
            (_, Some(failure)) => Err(failure.to_lease_error()),
            (None, None) => Err(LeaseError::backend(SqliteStoreError::WriteDropped)),
        };
        // The caller may have stopped waiting (its request was cancelled); nothing to do.
        let _ = self.reply.send(result);
    }
}

fn in_savepoint<T, F>(conn: &mut Connection, op: F) -> Result<T, LeaseError>
where
    F: FnOnce(&Connection) -> Result<T, OpError>,
{
    let savepoint = conn.savepoint().map_err(OpError::from)?;
    let result = op(&savepoint)?;
    savepoint.commit().map_err(OpError::from)?;
    Ok(result)
    // On an early return the savepoint is dropped, which rolls back to it.
}

/// Runs `jobs` (already claimed) in one transaction on `conn` and answers each.
pub(crate) fn run_batch(conn: &mut Connection, mut jobs: Vec<Box<dyn Pending>>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return answer_all(jobs, Some(&Failure::sql(e)));
    }
    for job in &mut jobs {
        job.run(conn);
        if conn.is_autocommit() {
            // SQLite rolled the transaction back (I/O error, disk full...): the earlier
            // operations' changes are gone too.
            return answer_all(jobs, Some(&Failure::RolledBack));
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => answer_all(jobs, None),
        Err(e) => {
            // Leave no half-open transaction behind; a connection still inside one is
            // dropped by the pool rather than reused.
            let _ = conn.execute_batch("ROLLBACK");
            answer_all(jobs, Some(&Failure::sql(e)));
        }
    }
}

pub(crate) fn answer_all(jobs: Vec<Box<dyn Pending>>, failure: Option<&Failure>) {
    for job in jobs {
        job.answer(failure);
    }
}

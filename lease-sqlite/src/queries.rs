//! The blocking SQL behind each store operation, on one connection.
//!
//! The writes (`create`, `renew`, `release`, `purge_batch`) run inside a `BEGIN
//! IMMEDIATE` transaction that the pool has opened, each in a savepoint of its own
//! ([`crate::batch`]). `BEGIN IMMEDIATE` takes SQLite's single write lock before the
//! first read, so the count-then-insert of `create` cannot interleave with another writer
//! in any process, and waiting writers queue on `busy_timeout` instead of failing with
//! "database is locked" as a deferred `BEGIN` does when it upgrades from reader to
//! writer.

use std::time::Duration;

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{Clock, CreateLease, Lease, LeaseError, LeaseId, ViewerId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{OpError, SqliteStoreError};
use crate::time::{from_millis, to_millis, ttl_millis};

/// Most expired rows one purge transaction deletes, so other writers get the lock
/// between batches.
pub(crate) const PURGE_BATCH: i64 = 1000;

/// A lease row as stored.
struct LeaseRow {
    id: String,
    viewer: String,
    content: String,
    created_at_ms: i64,
    expires_at_ms: i64,
    renewals: i64,
}

/// The columns [`LeaseRow::read`] expects, in order.
macro_rules! lease_columns {
    () => {
        "id, viewer, content, created_at_ms, expires_at_ms, renewals"
    };
}

impl LeaseRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            viewer: row.get(1)?,
            content: row.get(2)?,
            created_at_ms: row.get(3)?,
            expires_at_ms: row.get(4)?,
            renewals: row.get(5)?,
        })
    }

    /// Inclusive expiry, as in [`Lease::is_expired_at`].
    fn is_expired_at(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at_ms
    }

    fn into_lease(self) -> Result<Lease, SqliteStoreError> {
        let corrupt = SqliteStoreError::CorruptRow;
        Ok(Lease {
            id: self
                .id
                .parse::<LeaseId>()
                .map_err(|_| corrupt("lease id"))?,
            viewer: ViewerId::new(self.viewer).map_err(|_| corrupt("viewer id"))?,
            content: ContentId::new(self.content).map_err(|_| corrupt("content id"))?,
            created_at: from_millis(self.created_at_ms)?,
            expires_at: from_millis(self.expires_at_ms)?,
            renewals: u64::try_from(self.renewals).map_err(|_| corrupt("renewals"))?,
        })
    }
}

/// The store clock, read inside the write transaction (so after the write lock is taken:
/// stored times follow commit order). Refuses to run a write outside one.
fn write_now(conn: &Connection, clock: &dyn Clock) -> Result<i64, OpError> {
    if conn.is_autocommit() {
        return Err(SqliteStoreError::NotInTransaction.into());
    }
    Ok(to_millis(clock.now())?)
}

pub(crate) fn create(
    tx: &Connection,
    clock: &dyn Clock,
    id: LeaseId,
    request: CreateLease,
) -> Result<Lease, OpError> {
    let now = write_now(tx, clock)?;
    let viewer = request.viewer.as_str();
    let key = request.idempotency_key.as_ref().map(|k| k.as_str());
    if let Some(key) = key {
        let replay = tx
            .prepare_cached(concat!(
                "SELECT ",
                lease_columns!(),
                " FROM leases WHERE viewer = ?1 AND idempotency_key = ?2 AND expires_at_ms > ?3"
            ))?
            .query_row(params![viewer, key, now], LeaseRow::read)
            .optional()?;
        if let Some(row) = replay {
            if row.content != request.content.as_str() {
                return Err(LeaseError::IdempotencyConflict.into());
            }
            // A replay takes no slot, even if the limit has been lowered since.
            return Ok(row.into_lease()?);
        }
    }
    let active: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM leases WHERE viewer = ?1 AND expires_at_ms > ?2")?
        .query_row(params![viewer, now], |row| row.get(0))?;
    if active >= i64::from(request.max_active) {
        return Err(LeaseError::LimitReached {
            active: u32::try_from(active).unwrap_or(u32::MAX),
            max: request.max_active,
        }
        .into());
    }
    if let Some(key) = key {
        // The key may still name an expired lease; it now starts a new one.
        tx.prepare_cached(
            "UPDATE leases SET idempotency_key = NULL \
             WHERE viewer = ?1 AND idempotency_key = ?2 AND expires_at_ms <= ?3",
        )?
        .execute(params![viewer, key, now])?;
    }
    let expires = now.saturating_add(ttl_millis(request.ttl));
    tx.prepare_cached(
        "INSERT INTO leases \
         (id, viewer, content, created_at_ms, expires_at_ms, renewals, idempotency_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
    )?
    .execute(params![
        id.as_str(),
        viewer,
        request.content.as_str(),
        now,
        expires,
        key
    ])?;
    // Built from the stored milliseconds, so it equals what later reads return.
    Ok(Lease {
        id,
        viewer: request.viewer,
        content: request.content,
        created_at: from_millis(now)?,
        expires_at: from_millis(expires)?,
        renewals: 0,
    })
}

pub(crate) fn renew(
    tx: &Connection,
    clock: &dyn Clock,
    id: &LeaseId,
    viewer: &ViewerId,
    ttl: Duration,
) -> Result<Lease, OpError> {
    let now = write_now(tx, clock)?;
    let renewed = tx
        .prepare_cached(concat!(
            "UPDATE leases SET expires_at_ms = MAX(expires_at_ms, ?4), renewals = renewals + 1 \
             WHERE id = ?1 AND viewer = ?2 AND expires_at_ms > ?3 RETURNING ",
            lease_columns!()
        ))?
        .query_row(
            params![
                id.as_str(),
                viewer.as_str(),
                now,
                now.saturating_add(ttl_millis(ttl))
            ],
            LeaseRow::read,
        )
        .optional()?;
    if let Some(row) = renewed {
        return Ok(row.into_lease()?);
    }
    // Nothing renewed: tell an expired lease from a missing one.
    let exists = tx
        .prepare_cached("SELECT 1 FROM leases WHERE id = ?1 AND viewer = ?2")?
        .query_row(params![id.as_str(), viewer.as_str()], |_| Ok(()))
        .optional()?;
    Err(match exists {
        Some(()) => LeaseError::Expired,
        None => LeaseError::NotFound,
    }
    .into())
}

pub(crate) fn check(
    conn: &mut Connection,
    clock: &dyn Clock,
    id: &LeaseId,
    viewer: &ViewerId,
    content: &ContentId,
) -> Result<Lease, OpError> {
    // One SELECT in autocommit mode: a consistent snapshot, no write lock.
    let now = to_millis(clock.now())?;
    let row = conn
        .prepare_cached(concat!(
            "SELECT ",
            lease_columns!(),
            " FROM leases WHERE id = ?1 AND viewer = ?2"
        ))?
        .query_row(params![id.as_str(), viewer.as_str()], LeaseRow::read)
        .optional()?
        .ok_or(LeaseError::NotFound)?;
    if row.is_expired_at(now) {
        return Err(LeaseError::Expired.into());
    }
    if row.content != content.as_str() {
        return Err(LeaseError::WrongContent.into());
    }
    Ok(row.into_lease()?)
}

pub(crate) fn release(
    tx: &Connection,
    clock: &dyn Clock,
    id: &LeaseId,
    viewer: &ViewerId,
) -> Result<(), OpError> {
    write_now(tx, clock)?;
    tx.prepare_cached("DELETE FROM leases WHERE id = ?1 AND viewer = ?2")?
        .execute(params![id.as_str(), viewer.as_str()])?;
    Ok(())
}

/// Deletes up to [`PURGE_BATCH`] expired leases; returns how many.
pub(crate) fn purge_batch(tx: &Connection, clock: &dyn Clock) -> Result<u64, OpError> {
    let now = write_now(tx, clock)?;
    let deleted = tx
        .prepare_cached(
            "DELETE FROM leases WHERE rowid IN \
             (SELECT rowid FROM leases WHERE expires_at_ms <= ?1 LIMIT ?2)",
        )?
        .execute(params![now, PURGE_BATCH])?;
    Ok(deleted as u64)
}

pub(crate) fn ping(conn: &mut Connection) -> Result<(), OpError> {
    conn.prepare_cached("SELECT 1")?
        .query_row([], |row| row.get::<_, i64>(0))?;
    Ok(())
}

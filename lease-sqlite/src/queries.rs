//! The SQL of each store operation, as named consts, and the blocking code that runs it
//! on one connection. Parameters are named (`:viewer`) and bound by name; rows are read
//! by column name.
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
use rusqlite::{Connection, OptionalExtension, Row, named_params};

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

/// The columns [`LeaseRow::read`] reads.
macro_rules! lease_columns {
    () => {
        "id, viewer, content, created_at_ms, expires_at_ms, renewals"
    };
}

/// The viewer's unexpired lease created with this idempotency key.
const FIND_REPLAY: &str = concat!(
    "SELECT ",
    lease_columns!(),
    " FROM leases \
     WHERE viewer = :viewer AND idempotency_key = :idempotency_key AND expires_at_ms > :now_ms"
);

/// Column: the viewer's unexpired leases.
const COUNT_ACTIVE: &str =
    "SELECT COUNT(*) AS active FROM leases WHERE viewer = :viewer AND expires_at_ms > :now_ms";

/// Frees an idempotency key that still names an expired lease of the viewer.
const FREE_EXPIRED_KEY: &str = "UPDATE leases SET idempotency_key = NULL \
     WHERE viewer = :viewer AND idempotency_key = :idempotency_key AND expires_at_ms <= :now_ms";

const INSERT: &str = "INSERT INTO leases \
     (id, viewer, content, created_at_ms, expires_at_ms, renewals, idempotency_key) \
     VALUES (:id, :viewer, :content, :now_ms, :expires_at_ms, 0, :idempotency_key)";

/// Extends an unexpired lease to at least `:until_ms`; returns it.
const RENEW: &str = concat!(
    "UPDATE leases \
     SET expires_at_ms = MAX(expires_at_ms, :until_ms), renewals = renewals + 1 \
     WHERE id = :id AND viewer = :viewer AND expires_at_ms > :now_ms RETURNING ",
    lease_columns!()
);

/// Whether the viewer has this lease at all (expired or not).
const EXISTS: &str = "SELECT 1 FROM leases WHERE id = :id AND viewer = :viewer";

const CHECK: &str = concat!(
    "SELECT ",
    lease_columns!(),
    " FROM leases WHERE id = :id AND viewer = :viewer"
);

const RELEASE: &str = "DELETE FROM leases WHERE id = :id AND viewer = :viewer";

const PURGE: &str = "DELETE FROM leases WHERE rowid IN \
     (SELECT rowid FROM leases WHERE expires_at_ms <= :now_ms LIMIT :batch)";

const PING: &str = "SELECT 1";

impl LeaseRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            viewer: row.get("viewer")?,
            content: row.get("content")?,
            created_at_ms: row.get("created_at_ms")?,
            expires_at_ms: row.get("expires_at_ms")?,
            renewals: row.get("renewals")?,
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
            .prepare_cached(FIND_REPLAY)?
            .query_row(
                named_params! { ":viewer": viewer, ":idempotency_key": key, ":now_ms": now },
                LeaseRow::read,
            )
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
        .prepare_cached(COUNT_ACTIVE)?
        .query_row(named_params! { ":viewer": viewer, ":now_ms": now }, |row| {
            row.get("active")
        })?;
    if active >= i64::from(request.max_leases_per_viewer) {
        return Err(LeaseError::LimitReached {
            active: u32::try_from(active).unwrap_or(u32::MAX),
            max: request.max_leases_per_viewer,
        }
        .into());
    }
    if let Some(key) = key {
        // The key may still name an expired lease; it now starts a new one.
        tx.prepare_cached(FREE_EXPIRED_KEY)?.execute(
            named_params! { ":viewer": viewer, ":idempotency_key": key, ":now_ms": now },
        )?;
    }
    let expires = now.saturating_add(ttl_millis(request.ttl));
    tx.prepare_cached(INSERT)?.execute(named_params! {
        ":id": id.as_str(),
        ":viewer": viewer,
        ":content": request.content.as_str(),
        ":now_ms": now,
        ":expires_at_ms": expires,
        ":idempotency_key": key,
    })?;
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
        .prepare_cached(RENEW)?
        .query_row(
            named_params! {
                ":id": id.as_str(),
                ":viewer": viewer.as_str(),
                ":now_ms": now,
                ":until_ms": now.saturating_add(ttl_millis(ttl)),
            },
            LeaseRow::read,
        )
        .optional()?;
    if let Some(row) = renewed {
        return Ok(row.into_lease()?);
    }
    // Nothing renewed: tell an expired lease from a missing one.
    let exists = tx
        .prepare_cached(EXISTS)?
        .query_row(
            named_params! { ":id": id.as_str(), ":viewer": viewer.as_str() },
            |_| Ok(()),
        )
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
        .prepare_cached(CHECK)?
        .query_row(
            named_params! { ":id": id.as_str(), ":viewer": viewer.as_str() },
            LeaseRow::read,
        )
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
    tx.prepare_cached(RELEASE)?
        .execute(named_params! { ":id": id.as_str(), ":viewer": viewer.as_str() })?;
    Ok(())
}

/// Deletes up to [`PURGE_BATCH`] expired leases; returns how many.
pub(crate) fn purge_batch(tx: &Connection, clock: &dyn Clock) -> Result<u64, OpError> {
    let now = write_now(tx, clock)?;
    let deleted = tx
        .prepare_cached(PURGE)?
        .execute(named_params! { ":now_ms": now, ":batch": PURGE_BATCH })?;
    Ok(deleted as u64)
}

pub(crate) fn ping(conn: &mut Connection) -> Result<(), OpError> {
    conn.prepare_cached(PING)?
        .query_row([], |row| row.get::<_, i64>(0))?;
    Ok(())
}

//! The database layout and its migrations, versioned with `PRAGMA user_version`.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::SqliteStoreError;

/// Migrations in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Append only; never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: leases, times in unix milliseconds of the store clock.
    "CREATE TABLE leases (
        id              TEXT    NOT NULL PRIMARY KEY,
        viewer          TEXT    NOT NULL,
        content         TEXT    NOT NULL,
        created_at_ms   INTEGER NOT NULL,
        expires_at_ms   INTEGER NOT NULL,
        renewals        INTEGER NOT NULL DEFAULT 0,
        idempotency_key TEXT
    ) STRICT;
    -- The per-viewer active count: viewer = ? AND expires_at_ms > now.
    CREATE INDEX leases_viewer_expires ON leases (viewer, expires_at_ms);
    -- Idempotency lookup; unique so one key never names two leases of a viewer.
    CREATE UNIQUE INDEX leases_viewer_idempotency ON leases (viewer, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    -- Purge: expires_at_ms <= now.
    CREATE INDEX leases_expires ON leases (expires_at_ms);",
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Puts the file in WAL mode and brings its schema up to [`SCHEMA_VERSION`].
///
/// All pending migrations run in one `BEGIN IMMEDIATE` transaction, so two processes
/// opening a new file at once cannot both migrate it, and a crash leaves it unchanged.
pub(crate) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), SqliteStoreError> {
    let open_err = |source| SqliteStoreError::Open {
        path: path.to_owned(),
        source,
    };
    // journal_mode cannot change inside a transaction, and WAL persists in the file.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SqliteStoreError::NotWal {
            path: path.to_owned(),
            mode,
        });
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_err)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(open_err)?;
    let applied = usize::try_from(found).map_err(|_| SqliteStoreError::UnknownSchema {
        path: path.to_owned(),
        found,
    })?;
    if found > SCHEMA_VERSION {
        return Err(SqliteStoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if applied < MIGRATIONS.len() {
        for migration in &MIGRATIONS[applied..] {
            tx.execute_batch(migration).map_err(open_err)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_err)?;
    }
    tx.commit().map_err(open_err)
}

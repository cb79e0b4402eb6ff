//! The schema: versioned migrations, recorded in `{prefix}schema_migrations`.
//!
//! All of them run in one transaction under a transaction-scoped advisory lock, so
//! servers starting at once do not race; a migration applied by a newer version of the
//! crate is left alone (migrations only add).

use deadpool_postgres::Client;
use tokio_postgres::types::Type;

use crate::error::Failure;
use crate::queries::numbered;

/// One schema change. Versions only grow; a released migration never changes.
struct Migration {
    version: i32,
    description: &'static str,
    /// SQL with `{p}` for the table prefix.
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "leases",
        sql: "
        CREATE TABLE {p}leases (
            id text PRIMARY KEY,
            viewer text NOT NULL,
            content text NOT NULL,
            idempotency_key text,
            created_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            renewals bigint NOT NULL DEFAULT 0
        );
        CREATE INDEX {p}leases_viewer_expires_idx ON {p}leases (viewer, expires_at);
        CREATE INDEX {p}leases_viewer_idem_idx ON {p}leases (viewer, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE INDEX {p}leases_expires_idx ON {p}leases (expires_at);
    ",
    },
    Migration {
        version: 2,
        description: "notify deletes of unexpired leases",
        // Every delete of a lease still in force notifies the lease-check caches, whoever
        // deletes it: an instance of a version whose release sends no notification (during a
        // rolling upgrade), or an operator revoking leases in SQL. A release also notifies
        // itself with the same payload in the same transaction, and PostgreSQL delivers
        // identical notifications of one transaction once. Purges delete only expired leases,
        // which no cache holds, so they send nothing. The channel is `listener::channel`.
        sql: "
        CREATE FUNCTION {p}notify_lease_deleted() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            PERFORM pg_notify('{p}lease_released',
                              encode(sha256(convert_to(d.id, 'UTF8')), 'hex'))
            FROM {p}deleted_leases d
            WHERE d.expires_at > clock_timestamp();
            RETURN NULL;
        END
        $f$;
        CREATE TRIGGER {p}leases_deleted_notify AFTER DELETE ON {p}leases
            REFERENCING OLD TABLE AS {p}deleted_leases
            FOR EACH STATEMENT EXECUTE FUNCTION {p}notify_lease_deleted();
    ",
    },
];

/// Serializes the migrations of one prefix until commit.
const LOCK_MIGRATIONS: &str = "SELECT pg_advisory_xact_lock(hashtext($lock_name), 0)";

/// Where applied migrations are recorded (`{p}`: the table prefix).
const CREATE_MIGRATIONS_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS {p}schema_migrations (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )";

/// Column: `version`.
const APPLIED_VERSIONS: &str = "SELECT version FROM {p}schema_migrations";

const RECORD_MIGRATION: &str =
    "INSERT INTO {p}schema_migrations (version, description) VALUES ($version, $description)";

/// The advisory-lock namespace of the migrations of `prefix`.
fn lock_name(prefix: &str) -> String {
    format!("blindcast_lease_migrations:{prefix}")
}

/// Applies the migrations `prefix` lacks; returns how many it applied.
pub(crate) async fn run(client: &mut Client, prefix: &str) -> Result<usize, Failure> {
    let tx = client.transaction().await?;
    let sql = |template: &str| template.replace("{p}", prefix);
    // Unnamed statements only (query_typed), so this also works behind PgBouncer.
    tx.query_typed(
        &numbered(LOCK_MIGRATIONS, &["lock_name"]),
        &[(&lock_name(prefix), Type::TEXT)],
    )
    .await?;
    tx.batch_execute(&sql(CREATE_MIGRATIONS_TABLE)).await?;
    let applied: Vec<i32> = tx
        .query_typed(&sql(APPLIED_VERSIONS), &[])
        .await?
        .iter()
        .map(|row| row.try_get("version"))
        .collect::<Result<_, _>>()?;
    let record = numbered(&sql(RECORD_MIGRATION), &["version", "description"]);
    let mut count = 0;
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(&sql(m.sql)).await?;
        tx.query_typed(
            &record,
            &[(&m.version, Type::INT4), (&m.description, Type::TEXT)],
        )
        .await?;
        count += 1;
    }
    tx.commit().await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_trigger_notifies_the_listeners_channel() {
        let sql = MIGRATIONS[1].sql.replace("{p}", "blindcast_");
        let channel = crate::listener::channel("blindcast_");
        assert!(sql.contains(&format!("pg_notify('{channel}',")), "{sql}");
    }

    #[test]
    fn versions_strictly_increase() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        assert!(MIGRATIONS.iter().all(|m| m.sql.contains("{p}")));
    }

    #[test]
    fn parameters_are_numbered() {
        assert_eq!(
            numbered(RECORD_MIGRATION, &["version", "description"]),
            "INSERT INTO {p}schema_migrations (version, description) VALUES ($1, $2)"
        );
        assert!(numbered(LOCK_MIGRATIONS, &["lock_name"]).contains("hashtext($1), 0"));
    }
}

//! The SQL of every store operation, as named consts, and the parameters each binds.
//!
//! tokio-postgres binds parameters by position (`$1`) only. The statements here name
//! theirs (`$viewer`) and each parameter struct lists its fields once, in binding order:
//! [`Statements::new`] numbers the names by that list, and `bind` passes the values in
//! the same order. `{p}` stands for the table prefix, `{now}` for the database clock.

use tokio_postgres::types::{ToSql, Type};

/// Defines a parameter struct whose field names are the `$names` of its statement, in
/// binding order, with the PostgreSQL type each is sent as.
macro_rules! params {
    (
        $(#[$doc:meta])*
        $name:ident $(<$lt:lifetime>)? { $($field:ident: $ty:ty => $pg:ident),* $(,)? }
    ) => {
        $(#[$doc])*
        pub(crate) struct $name $(<$lt>)? {
            $(pub(crate) $field: $ty,)*
        }

        impl $(<$lt>)? $name $(<$lt>)? {
            /// The parameter names, in binding order.
            pub(crate) const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The values with their types, in binding order.
            pub(crate) fn bind(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
                vec![$((&self.$field as &(dyn ToSql + Sync), Type::$pg)),*]
            }
        }
    };
}

params! {
    /// [`LOCK_VIEWER`].
    LockViewer<'a> {
        lock_name: &'a str => TEXT,
        viewer: &'a str => TEXT,
    }
}

params! {
    /// [`CREATE`].
    Create<'a> {
        clock_offset_us: i64 => INT8,
        viewer: &'a str => TEXT,
        idempotency_key: Option<&'a str> => TEXT,
        id: &'a str => TEXT,
        content: &'a str => TEXT,
        ttl_us: i64 => INT8,
        max_leases_per_viewer: i64 => INT8,
    }
}

params! {
    /// [`RENEW`].
    Renew<'a> {
        clock_offset_us: i64 => INT8,
        id: &'a str => TEXT,
        viewer: &'a str => TEXT,
        ttl_us: i64 => INT8,
        lock_name: &'a str => TEXT,
    }
}

params! {
    /// [`CHECK`].
    Check<'a> {
        clock_offset_us: i64 => INT8,
        id: &'a str => TEXT,
        viewer: &'a str => TEXT,
    }
}

params! {
    /// [`RELEASE`].
    Release<'a> {
        id: &'a str => TEXT,
        viewer: &'a str => TEXT,
        channel: &'a str => TEXT,
    }
}

params! {
    /// [`PROBE`].
    Probe<'a> {
        channel: &'a str => TEXT,
        payload: &'a str => TEXT,
    }
}

params! {
    /// [`PURGE`].
    Purge {
        clock_offset_us: i64 => INT8,
        batch: i64 => INT8,
    }
}

/// The database clock (`clock_timestamp()`), shifted by a test-only offset (0 outside
/// tests).
const NOW: &str = "clock_timestamp() + $clock_offset_us::int8 * interval '1 microsecond'";

/// Serializes creates and renews of one viewer (and only this viewer, up to hash
/// collisions) until commit. Transaction-scoped, so safe behind PgBouncer and RDS Proxy.
pub(crate) const LOCK_VIEWER: &str =
    "SELECT pg_advisory_xact_lock(hashtext($lock_name), hashtext($viewer))";

/// Runs after the viewer's advisory lock is held, so its snapshot sees every lease
/// committed before; one statement counts, replays, and inserts.
///
/// Columns: `active`; the replayed lease `replay_id`, `replay_content`,
/// `replay_created_at`, `replay_expires_at`, `replay_renewals` (null without one); the
/// inserted lease `new_id`, `new_created_at`, `new_expires_at` (null when none was).
pub(crate) const CREATE: &str = "
    WITH t AS MATERIALIZED (SELECT {now} AS now),
    active AS (
        SELECT count(*) AS n FROM {p}leases l, t
        WHERE l.viewer = $viewer AND l.expires_at > t.now),
    idem AS (
        SELECT l.id, l.content, l.created_at, l.expires_at, l.renewals
        FROM {p}leases l, t
        WHERE $idempotency_key::text IS NOT NULL AND l.viewer = $viewer
          AND l.idempotency_key = $idempotency_key AND l.expires_at > t.now
        ORDER BY l.expires_at DESC LIMIT 1),
    ins AS (
        INSERT INTO {p}leases
            (id, viewer, content, idempotency_key, created_at, expires_at, renewals)
        SELECT $id, $viewer, $content, $idempotency_key, t.now,
               t.now + $ttl_us::int8 * interval '1 microsecond', 0
        FROM t, active
        WHERE active.n < $max_leases_per_viewer::int8 AND NOT EXISTS (SELECT 1 FROM idem)
        RETURNING id, created_at, expires_at)
    SELECT active.n AS active,
           idem.id AS replay_id, idem.content AS replay_content,
           idem.created_at AS replay_created_at, idem.expires_at AS replay_expires_at,
           idem.renewals AS replay_renewals,
           ins.id AS new_id, ins.created_at AS new_created_at,
           ins.expires_at AS new_expires_at
    FROM active LEFT JOIN idem ON true LEFT JOIN ins ON true";

/// Takes the viewer's advisory lock (as a create does) before reading the clock, so a
/// renew and a create of one viewer never overlap: a renew that read the clock before
/// expiry commits before any create that counts this viewer's leases can start, and one
/// that reads it after finds the lease expired. Without it, a renew delayed on the row
/// lock revived a lease that a create had already counted as expired (two usable leases
/// for a limit of one).
///
/// Columns: the renewed lease `content`, `created_at`, `expires_at`, `renewals` and
/// `remaining_us` (its lifetime left by the database clock; null when nothing was
/// renewed), and `expired` (null when the viewer has no such lease).
pub(crate) const RENEW: &str = "
    WITH lock AS MATERIALIZED (
        SELECT pg_advisory_xact_lock(hashtext($lock_name), hashtext($viewer))),
    t AS MATERIALIZED (SELECT {now} AS now FROM lock),
    upd AS (
        UPDATE {p}leases l
        SET expires_at = greatest(l.expires_at,
                                  t.now + $ttl_us::int8 * interval '1 microsecond'),
            renewals = l.renewals + 1
        FROM t
        WHERE l.id = $id AND l.viewer = $viewer AND l.expires_at > t.now
        RETURNING l.content, l.created_at, l.expires_at, l.renewals),
    old AS (
        SELECT l.expires_at <= t.now AS expired FROM {p}leases l, t
        WHERE l.id = $id AND l.viewer = $viewer)
    SELECT upd.content, upd.created_at, upd.expires_at, upd.renewals, old.expired,
           (extract(epoch FROM upd.expires_at - t.now) * 1000000)::int8 AS remaining_us
    FROM t LEFT JOIN upd ON true LEFT JOIN old ON true";

/// Columns: `content`, `created_at`, `expires_at`, `renewals`, `expired`, and
/// `remaining_us` (the lifetime left by the database clock, for the lease-check cache);
/// no row when the viewer has no such lease.
pub(crate) const CHECK: &str = "
    SELECT l.content, l.created_at, l.expires_at, l.renewals,
           l.expires_at <= t.now AS expired,
           (extract(epoch FROM l.expires_at - t.now) * 1000000)::int8 AS remaining_us
    FROM {p}leases l, (SELECT {now} AS now) t
    WHERE l.id = $id AND l.viewer = $viewer";

/// Deletes the lease and, in the same statement (so in the same transaction: delivered
/// at its commit, and only if a row was deleted), notifies `$channel` with the SHA-256 of
/// the lease id, never the id itself (a bearer credential). Every instance's lease-check
/// cache drops the lease when the notification arrives; releases notify whether or not
/// the releasing instance has a cache. One row per deleted lease.
pub(crate) const RELEASE: &str = "
    WITH d AS (DELETE FROM {p}leases WHERE id = $id AND viewer = $viewer RETURNING id)
    SELECT pg_notify($channel, encode(sha256(convert_to(d.id, 'UTF8')), 'hex'))::text
    FROM d";

/// The start-up probe of the lease-check cache: a notification sent through the pool,
/// which the listener must receive (`$payload` starts with `probe:`, so no instance
/// takes it for a release).
pub(crate) const PROBE: &str = "SELECT pg_notify($channel, $payload)::text";

/// How many expired leases one [`PURGE`] statement deletes.
pub(crate) const PURGE_BATCH: i64 = 1000;

/// One short statement per batch, so purging never holds many row locks long.
pub(crate) const PURGE: &str = "
    DELETE FROM {p}leases WHERE id IN (
        SELECT id FROM {p}leases WHERE expires_at <= {now}
        LIMIT $batch FOR UPDATE SKIP LOCKED)";

/// The statements of one table prefix, with their parameters numbered.
pub(crate) struct Statements {
    pub(crate) lock_viewer: String,
    pub(crate) create: String,
    pub(crate) renew: String,
    pub(crate) check: String,
    pub(crate) release: String,
    pub(crate) probe: String,
    pub(crate) purge: String,
}

impl Statements {
    pub(crate) fn new(prefix: &str) -> Self {
        let build = |sql: &str, names: &[&str]| {
            numbered(&sql.replace("{now}", NOW).replace("{p}", prefix), names)
        };
        Self {
            lock_viewer: build(LOCK_VIEWER, LockViewer::NAMES),
            create: build(CREATE, Create::NAMES),
            renew: build(RENEW, Renew::NAMES),
            check: build(CHECK, Check::NAMES),
            release: build(RELEASE, Release::NAMES),
            probe: build(PROBE, Probe::NAMES),
            purge: build(PURGE, Purge::NAMES),
        }
    }
}

/// Replaces each `$name` of `sql` by `$n`, `n` being the 1-based position of `name` in
/// `names`. A `$` not followed by a listed name is kept (the tests require none).
pub(crate) fn numbered(sql: &str, names: &[&str]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        match names.iter().position(|n| *n == &after[..len]) {
            Some(i) => {
                out.push('$');
                out.push_str(&(i + 1).to_string());
            }
            None => {
                out.push('$');
                out.push_str(&after[..len]);
            }
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$name` is listed and every listed name is used: the numbered statement
    /// holds only `$1`..`$n`, each of them.
    fn assert_fully_numbered(sql: &str, names: &[&str]) {
        let statement = numbered(sql, names);
        let mut used = vec![false; names.len()];
        for piece in statement.split('$').skip(1) {
            let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
            let n: usize = digits
                .parse()
                .unwrap_or_else(|_| panic!("unlisted parameter ${piece:.20} in {sql}"));
            assert!((1..=names.len()).contains(&n), "${n} in {statement}");
            used[n - 1] = true;
        }
        for (name, used) in names.iter().zip(used) {
            assert!(used, "${name} is bound but not used in {sql}");
        }
    }

    #[test]
    fn every_parameter_is_named_listed_and_used() {
        let with_now = |sql: &str| sql.replace("{now}", NOW);
        assert_fully_numbered(&with_now(LOCK_VIEWER), LockViewer::NAMES);
        assert_fully_numbered(&with_now(CREATE), Create::NAMES);
        assert_fully_numbered(&with_now(RENEW), Renew::NAMES);
        assert_fully_numbered(&with_now(CHECK), Check::NAMES);
        assert_fully_numbered(&with_now(RELEASE), Release::NAMES);
        assert_fully_numbered(&with_now(PROBE), Probe::NAMES);
        assert_fully_numbered(&with_now(PURGE), Purge::NAMES);
    }

    #[test]
    fn names_become_their_positions() {
        assert_eq!(
            numbered(
                "a = $viewer AND b < $max::int8 AND c = $viewer_id",
                &["viewer", "max", "viewer_id"]
            ),
            "a = $1 AND b < $2::int8 AND c = $3"
        );
        let create = Statements::new("t_").create;
        assert!(create.contains("active.n < $7::int8"), "{create}");
        assert!(create.contains("FROM t_leases l"), "{create}");
        assert!(!create.contains('{'), "{create}");
    }
}

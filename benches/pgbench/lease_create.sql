-- The create transaction of blindcast-lease-postgres as a pgbench script, for comparing
-- the Rust store's throughput with what the server does for the same SQL.
-- Needs the store's tables with prefix bench_pg_ (created by the setup command in
-- benches/results/lease-postgres.md). Each transaction creates a lease for a random one
-- of a million viewers with a limit no bench reaches. chr(58) is ':', which pgbench
-- would otherwise read as a variable inside the string.
\set v random(1, 1000000)
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('blindcast_lease' || chr(58) || 'bench_pg_'), hashtext('viewer-' || CAST(:v AS int8)));
WITH t AS MATERIALIZED (SELECT clock_timestamp() + 0::int8 * interval '1 microsecond' AS now),
active AS (
    SELECT count(*) AS n FROM bench_pg_leases l, t
    WHERE l.viewer = 'viewer-' || CAST(:v AS int8) AND l.expires_at > t.now),
idem AS (
    SELECT l.id, l.content, l.created_at, l.expires_at, l.renewals
    FROM bench_pg_leases l, t
    WHERE NULL::text IS NOT NULL AND l.viewer = 'viewer-' || CAST(:v AS int8)
      AND l.idempotency_key = NULL::text AND l.expires_at > t.now
    ORDER BY l.expires_at DESC LIMIT 1),
ins AS (
    INSERT INTO bench_pg_leases
        (id, viewer, content, idempotency_key, created_at, expires_at, renewals)
    SELECT left(md5(random()::text || clock_timestamp()::text), 22), 'viewer-' || CAST(:v AS int8),
           'bench-movie', NULL, t.now, t.now + 600000000::int8 * interval '1 microsecond', 0
    FROM t, active
    WHERE active.n < 1000000 AND NOT EXISTS (SELECT 1 FROM idem)
    RETURNING id, created_at, expires_at)
SELECT active.n, idem.id, idem.content, idem.created_at, idem.expires_at,
       idem.renewals, ins.id, ins.created_at, ins.expires_at
FROM active LEFT JOIN idem ON true LEFT JOIN ins ON true;
COMMIT;

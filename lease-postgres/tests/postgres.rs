//! PostgreSQL-specific behavior: races across OS processes, an unreachable database,
//! migrations and prefixes, the database clock, and TLS.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use blindcast_keys_core::lease::{LeaseError, LeaseStore};
use blindcast_lease_postgres::{
    CacheConfig, DbClockOffset, PostgresConfig, PostgresLeaseStore, RetryPolicy,
};
use blindcast_lease_testkit::{
    LONG_TTL, RACE_CLIENTS, RACE_ROUNDS, content, postgres_url, race_round, request, viewer,
};

/// Selects the worker role of `race_worker`; holds the table prefix.
const WORKER_ENV: &str = "BLINDCAST_PG_RACE_WORKER";
/// Worker processes in the cross-process race.
const WORKERS: usize = 2;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// The worker side of `race_across_processes_holds_limit` (does nothing in a normal
/// run). For each `go ROUND` line on stdin it races `RACE_CLIENTS / WORKERS` creates
/// through its own pool and answers `RACE ROUND CREATED`.
#[test]
fn race_worker() {
    let Ok(prefix) = std::env::var(WORKER_ENV) else {
        return;
    };
    let rt = runtime();
    let store: Arc<dyn LeaseStore> = Arc::new(rt.block_on(common::store(
        common::config("unused").with_table_prefix(prefix),
    )));
    let stores = [store];
    println!("READY");
    std::io::stdout().flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let Some(round) = line.strip_prefix("go ") else {
            break;
        };
        let created = rt.block_on(race_round(
            &stores,
            &format!("process-racer-{round}"),
            RACE_CLIENTS / WORKERS,
        ));
        println!("RACE {round} {created}");
        std::io::stdout().flush().unwrap();
    }
}

/// 100 simultaneous creates with a limit of 2, split across two OS processes with their
/// own pools, leave exactly 2 leases, round after round.
#[test]
fn race_across_processes_holds_limit() {
    // A stuck worker must fail this test, not hang it: after 300 s (ample on a loaded
    // 2-core machine) the watchdog kills the workers, and reading their answers fails.
    // It kills only the workers, so the rest of the test binary runs on.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let worker_pids = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let watched = Arc::clone(&worker_pids);
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(300)).is_err() {
            for pid in watched.lock().unwrap().iter() {
                eprintln!(
                    "race_across_processes_holds_limit: no answer in 300 s, killing worker {pid}"
                );
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    });
    let config = common::config("xproc");
    let prefix = config.table_prefix.clone();
    // Migrate once up front, so the workers start on an existing schema.
    let rt = runtime();
    let store = rt.block_on(common::store(config));
    let exe = std::env::current_exe().unwrap();
    let mut workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let mut child = Command::new(&exe)
                .args(["race_worker", "--exact", "--nocapture", "--test-threads=1"])
                .env(WORKER_ENV, &prefix)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            worker_pids.lock().unwrap().push(child.id());
            let stdin = child.stdin.take().unwrap();
            let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
            (child, stdin, stdout)
        })
        .collect();
    let next_line = |lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>,
                     prefix: &str|
     -> String {
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("worker exited before {prefix:?}"))
                .unwrap();
            // libtest may print "test race_worker ... " before it on the same line.
            if let Some(at) = line.find(prefix) {
                return line[at..].to_owned();
            }
        }
    };
    for (_, _, out) in &mut workers {
        next_line(out, "READY");
    }
    for round in 0..RACE_ROUNDS {
        for (_, stdin, _) in &mut workers {
            writeln!(stdin, "go {round}").unwrap();
            stdin.flush().unwrap();
        }
        let mut created = 0;
        for (_, _, out) in &mut workers {
            let line = next_line(out, &format!("RACE {round} "));
            created += line.rsplit(' ').next().unwrap().parse::<usize>().unwrap();
        }
        assert_eq!(
            created, 2,
            "round {round}: {created} leases created across processes with a limit of 2"
        );
    }
    for (mut child, stdin, _) in workers {
        drop(stdin);
        assert!(child.wait().unwrap().success(), "a worker failed");
    }
    // The database agrees: exactly two leases per round's viewer.
    let counts: Vec<i64> = rt.block_on(async {
        let client = store.pool().get().await.unwrap();
        client
            .query(
                &format!("SELECT count(*) FROM {prefix}leases GROUP BY viewer"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    assert_eq!(counts.len(), RACE_ROUNDS);
    assert!(counts.iter().all(|&n| n == 2), "{counts:?}");
    let _ = done.send(());
    watchdog.join().unwrap();
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn fast_failing(config: PostgresConfig) -> PostgresConfig {
    config
        .with_connect_timeout(Duration::from_secs(1))
        .with_wait_timeout(Duration::from_secs(1))
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, LeaseError>, started: Instant) {
    assert!(
        matches!(result, Err(LeaseError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

/// An unreachable database is `Unavailable` within the timeouts, at connect time and for
/// every operation of a store built without connecting.
#[tokio::test]
async fn unreachable_database_is_unavailable_promptly() {
    let url = format!("postgres://postgres@127.0.0.1:{}/none", closed_port());
    let started = Instant::now();
    assert_unavailable(
        PostgresLeaseStore::connect_with(&url, fast_failing(PostgresConfig::default())).await,
        started,
    );

    let lazy = PostgresLeaseStore::connect_with(
        &url,
        fast_failing(PostgresConfig::default()).with_run_migrations(false),
    )
    .await
    .unwrap();
    let started = Instant::now();
    assert_unavailable(lazy.ping().await, started);
    let started = Instant::now();
    assert_unavailable(lazy.create(request("v", "c", LONG_TTL, 1)).await, started);
    let lease = blindcast_keys_core::lease::LeaseId::generate().unwrap();
    let started = Instant::now();
    assert_unavailable(
        lazy.check(&lease, &viewer("v"), &content("c")).await,
        started,
    );
    let started = Instant::now();
    assert_unavailable(lazy.purge_expired().await, started);
}

/// A host that never answers (TEST-NET-1) runs into the connect timeout, not a hang.
#[tokio::test]
async fn silent_host_is_unavailable_within_the_connect_timeout() {
    let started = Instant::now();
    assert_unavailable(
        PostgresLeaseStore::connect_with(
            "postgres://postgres@192.0.2.1:5432/none",
            fast_failing(PostgresConfig::default()),
        )
        .await,
        started,
    );
}

/// Connecting again (and concurrently) to a migrated prefix is fine; prefixes are
/// separate stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_are_idempotent_and_prefixes_are_isolated() {
    let config = common::config("mig");
    let connects: Vec<_> = (0..4)
        .map(|_| tokio::spawn(common::store(config.clone())))
        .collect();
    let mut stores = Vec::new();
    for c in connects {
        stores.push(c.await.unwrap());
    }
    let a = &stores[0];
    assert_eq!(a.migrate().await.unwrap(), 0, "nothing left to apply");
    let again = common::store(config.clone()).await;
    let versions: Vec<i32> = again
        .pool()
        .get()
        .await
        .unwrap()
        .query(
            &format!(
                "SELECT version FROM {}schema_migrations ORDER BY version",
                config.table_prefix
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2]);

    let lease = a.create(request("pat", "m", LONG_TTL, 1)).await.unwrap();
    again
        .check(&lease.id, &viewer("pat"), &content("m"))
        .await
        .unwrap();
    let b = common::store(common::config("mig_other")).await;
    assert!(matches!(
        b.check(&lease.id, &viewer("pat"), &content("m")).await,
        Err(LeaseError::NotFound)
    ));
    // The other prefix's limit is its own.
    b.create(request("pat", "m", LONG_TTL, 1)).await.unwrap();
}

/// Invalid prefixes are rejected before any SQL is built from them.
#[tokio::test]
async fn invalid_prefix_is_rejected() {
    let result = PostgresLeaseStore::connect_with(
        &postgres_url(),
        PostgresConfig::default().with_table_prefix("x; DROP TABLE y"),
    )
    .await;
    assert!(
        matches!(result, Err(LeaseError::InvalidRequest(m)) if m.starts_with("table_prefix ")),
        "{result:?}"
    );
}

/// Each bad option is refused by name before anything connects: the URL names a port
/// nothing listens on, so an attempt to connect would be `Unavailable` instead.
#[tokio::test]
async fn invalid_options_are_refused_by_name_before_connecting() {
    let url = format!("postgres://postgres@127.0.0.1:{}/none", closed_port());
    let cases = [
        (
            PostgresConfig::default().with_max_connections(0),
            "max_connections ",
        ),
        (
            PostgresConfig::default().with_wait_timeout(Duration::ZERO),
            "wait_timeout ",
        ),
        (
            PostgresConfig::default().with_connect_timeout(Duration::MAX),
            "connect_timeout ",
        ),
        (
            PostgresConfig::default().with_retry(RetryPolicy::new(
                0,
                Duration::from_millis(1),
                Duration::from_millis(1),
            )),
            "retry.max_attempts ",
        ),
        (
            PostgresConfig::default().with_cache(CacheConfig::on().with_max_entries(0)),
            "cache.max_entries ",
        ),
        (
            PostgresConfig::default().with_cache(CacheConfig::on().with_heartbeat(Duration::ZERO)),
            "cache.heartbeat ",
        ),
    ];
    for (config, option) in cases {
        let result = PostgresLeaseStore::connect_with(&url, config).await;
        assert!(
            matches!(result, Err(LeaseError::InvalidRequest(m)) if m.starts_with(option)),
            "{option}: {result:?}"
        );
    }
}

async fn db_now(store: &PostgresLeaseStore) -> SystemTime {
    let client = store.pool().get().await.unwrap();
    client
        .query_one("SELECT clock_timestamp()", &[])
        .await
        .unwrap()
        .get(0)
}

/// Timestamps come from the database clock (shifted by the test offset), never from the
/// client's.
#[tokio::test]
async fn database_clock_decides_expiry() {
    let clock = DbClockOffset::new();
    let store = common::store(common::config("clock").with_clock_offset(clock.clone())).await;
    let before = db_now(&store).await;
    let lease = store
        .create(request("quinn", "m", LONG_TTL, 5))
        .await
        .unwrap();
    let after = db_now(&store).await;
    assert!(before <= lease.created_at && lease.created_at <= after);
    assert_eq!(
        lease.expires_at.duration_since(lease.created_at).unwrap(),
        LONG_TTL
    );

    // With the offset, the store's "now" is an hour ahead of the database clock, which
    // proves every timestamp is computed in SQL.
    let hour = Duration::from_secs(3600);
    clock.advance(hour);
    let before = db_now(&store).await;
    let shifted = store
        .create(request("quinn", "m", LONG_TTL, 5))
        .await
        .unwrap();
    let after = db_now(&store).await;
    assert!(before + hour <= shifted.created_at && shifted.created_at <= after + hour);
    // A lease whose expiry lies behind the shifted clock is expired.
    assert!(matches!(
        store
            .check(&lease.id, &viewer("quinn"), &content("m"))
            .await,
        Err(LeaseError::Expired)
    ));
    assert_eq!(store.purge_expired().await.unwrap(), 1);
}

/// The statements work without named prepared statements (PgBouncer < 1.21 mode).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unnamed_statements_work_and_hold_the_limit() {
    let store: Arc<dyn LeaseStore> =
        Arc::new(common::store(common::config("unnamed").with_prepared_statements(false)).await);
    let lease = store
        .create(request("rae", "m", LONG_TTL, 2))
        .await
        .unwrap();
    store
        .renew(&lease.id, &viewer("rae"), LONG_TTL)
        .await
        .unwrap();
    store
        .check(&lease.id, &viewer("rae"), &content("m"))
        .await
        .unwrap();
    store.release(&lease.id, &viewer("rae")).await.unwrap();
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    for round in 0..3 {
        assert_eq!(
            race_round(
                std::slice::from_ref(&store),
                &format!("unnamed-{round}"),
                RACE_CLIENTS
            )
            .await,
            2
        );
    }
}

fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

async fn uses_tls(store: &PostgresLeaseStore) -> bool {
    let client = store.pool().get().await.unwrap();
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// A TLS-enabled throwaway cluster of its own (`scripts/postgres.sh start-tls`, with a
/// test CA in its data directory), stopped and removed on drop.
struct TlsCluster {
    dir: std::path::PathBuf,
    url: String,
}

impl TlsCluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(blindcast_lease_testkit::unique_name("pg-tls"));
        let output = Command::new(Self::script())
            .arg("start-tls")
            .arg(&dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run scripts/postgres.sh");
        assert!(
            output.status.success(),
            "scripts/postgres.sh start-tls failed (PostgreSQL and openssl are needed: \
             apt-get install postgresql openssl)"
        );
        let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        Self { dir, url }
    }

    fn script() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh")
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// `sslmode=require` encrypts through rustls; `verify-full` rejects an untrusted
/// certificate and accepts one from `sslrootcert`. Against a cluster of its own with TLS
/// on, so every mode is checked whatever the shared test database does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_modes() {
    let cluster = TlsCluster::start();
    let url = cluster.url.clone();
    let config = || common::config("tls");
    let plain = PostgresLeaseStore::connect_with(&url, config())
        .await
        .unwrap();
    assert!(!uses_tls(&plain).await, "no sslmode means plain TCP");
    let client = plain.pool().get().await.unwrap();
    let ssl_on: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    assert_eq!(ssl_on, "on", "the TLS cluster has ssl off");
    let data_dir: String = client
        .query_one("SHOW data_directory", &[])
        .await
        .unwrap()
        .get(0);
    drop(client);
    let require = PostgresLeaseStore::connect_with(
        &with_params(&url, "sslmode=require"),
        fast_failing(config()),
    )
    .await
    .unwrap();
    assert!(uses_tls(&require).await, "sslmode=require must encrypt");
    require
        .create(request("sam", "m", LONG_TTL, 1))
        .await
        .unwrap();

    let started = Instant::now();
    let untrusted = PostgresLeaseStore::connect_with(
        &with_params(&url, "sslmode=verify-full"),
        fast_failing(config()),
    )
    .await;
    assert_unavailable(untrusted, started);

    let ca = std::path::Path::new(&data_dir).join("blindcast-test-ca.crt");
    assert!(ca.exists(), "no test CA at {}", ca.display());
    let verified = PostgresLeaseStore::connect_with(
        &with_params(
            &url,
            &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        ),
        fast_failing(config()),
    )
    .await
    .unwrap();
    assert!(uses_tls(&verified).await);
    drop((plain, require, verified));
}

/// `Debug` never shows the password.
#[tokio::test]
async fn debug_hides_the_password() {
    let store = PostgresLeaseStore::connect_with(
        &format!(
            "postgres://user:hunter2secret@127.0.0.1:{}/db",
            closed_port()
        ),
        PostgresConfig::default().with_run_migrations(false),
    )
    .await
    .unwrap();
    let text = format!("{store:?} {:?}", store.pool());
    assert!(!text.contains("hunter2secret"), "{text}");
}

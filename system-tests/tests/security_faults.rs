//! Security suite, faults with real servers: PostgreSQL killed (immediate shutdown) and
//! restarted under load; the server `kill -9`ed under load with SQLite; two servers whose
//! clocks differ by 5 minutes (libfaketime) sharing PostgreSQL. Each test prints its
//! figure for SECURITY.md.
#![allow(clippy::unwrap_used)]

mod common;
use common::server;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use server::{PgCluster, bounded, client, metric, start, token};

/// These tests kill things and time them: run them one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const QUIET: (&str, &str) = ("LOG_LEVEL", server::QUIET);

#[derive(Debug, Clone)]
struct Sample {
    started: Instant,
    ended: Instant,
    kind: &'static str,
    status: u16,
}

async fn create(
    http: &reqwest::Client,
    base: &str,
    t: &str,
    content: &str,
) -> (u16, Option<String>) {
    match http
        .post(format!("{base}/keys/leases"))
        .bearer_auth(t)
        .header("content-type", "application/json")
        .body(format!(r#"{{"contentId":"{content}"}}"#))
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body["leaseId"].as_str().map(str::to_owned))
        }
        Err(_) => (0, None),
    }
}

async fn key(http: &reqwest::Client, base: &str, t: &str, content: &str, lease: &str) -> u16 {
    match http
        .get(format!("{base}/keys/{content}"))
        .bearer_auth(t)
        .header("x-blindcast-lease", lease)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            if status == 200 {
                assert_eq!(r.bytes().await.unwrap().len(), 16);
            }
            status
        }
        Err(_) => 0,
    }
}

async fn renew(http: &reqwest::Client, base: &str, t: &str, lease: &str) -> (u16, String) {
    let r = http
        .post(format!("{base}/keys/leases/renew"))
        .bearer_auth(t)
        .header("content-type", "application/json")
        .body(format!(r#"{{"leaseId":"{lease}"}}"#))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    (
        status,
        body["expiresAt"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn release(http: &reqwest::Client, base: &str, t: &str, lease: &str) -> u16 {
    match http
        .delete(format!("{base}/keys/leases/{lease}"))
        .bearer_auth(t)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// With the lease-check cache (the server's default): the cache is forgotten when the
/// listener's connection dies with the database, so no key is served from it while the
/// database is down, and it answers again after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_and_restarted_under_load() {
    killed_and_restarted(true).await;
}

/// Without the cache: every check is a query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_and_restarted_under_load_without_the_lease_cache() {
    killed_and_restarted(false).await;
}

async fn killed_and_restarted(cache: bool) {
    let _serial = SERIAL.lock().await;
    let cluster = Arc::new(tokio::task::spawn_blocking(PgCluster::start).await.unwrap());
    let mut srv = start(&[
        ("LEASE_STORE", &cluster.url),
        ("MAX_LEASES_PER_VIEWER", "100000"),
        ("LEASE_TTL", "10m"),
        ("LEASE_CACHE", if cache { "true" } else { "false" }),
        ("METRICS", "true"),
        QUIET,
    ]);
    let pid = srv.pid();
    let base = srv.base.clone();
    bounded(Duration::from_secs(120), "postgres restart", async {
        let http = client(Duration::from_secs(30));
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
        // (viewer, content, lease) of every 201 the server sent.
        let acked = Arc::new(Mutex::new(Vec::<(String, String, String)>::new()));
        // A lease no worker touches, for the recovery probe.
        let probe_t = token("pg-restart-probe");
        let (status, probe) = create(&http, &base, &probe_t, "movie-probe").await;
        assert_eq!(status, 201);
        let probe = probe.unwrap();
        // Leases whose release the server acknowledged.
        let released = Arc::new(Mutex::new(std::collections::BTreeSet::<String>::new()));
        let mut workers = Vec::new();
        for w in 0..8 {
            let (http, stop, samples, acked, base) =
                (http.clone(), stop.clone(), samples.clone(), acked.clone(), base.clone());
            let released = released.clone();
            workers.push(tokio::spawn(async move {
                let viewer = format!("pg-restart-{w}");
                let t = token(&viewer);
                let mut mine: Vec<(String, String)> = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let content = format!("movie-{w}-{i}");
                    let started = Instant::now();
                    let (status, lease) = create(&http, &base, &t, &content).await;
                    samples.lock().unwrap().push(Sample { started, ended: Instant::now(), kind: "create", status });
                    if let (201, Some(lease)) = (status, lease) {
                        acked.lock().unwrap().push((viewer.clone(), content.clone(), lease.clone()));
                        mine.push((content, lease));
                    }
                    // A key request under one of this viewer's leases (the newest).
                    if let Some((content, lease)) = mine.last() {
                        let started = Instant::now();
                        let status = key(&http, &base, &t, content, lease).await;
                        samples.lock().unwrap().push(Sample { started, ended: Instant::now(), kind: "key", status });
                    }
                    // Every third round, release the oldest lease (once it was used, so a
                    // cache holds it) and ask for a key under it right after the answer.
                    if i.is_multiple_of(3) && mine.len() > 1 {
                        let (content, lease) = mine.remove(0);
                        let started = Instant::now();
                        let status = release(&http, &base, &t, &lease).await;
                        samples.lock().unwrap().push(Sample { started, ended: Instant::now(), kind: "release", status });
                        if status == 204 || status == 200 {
                            released.lock().unwrap().insert(lease.clone());
                            let started = Instant::now();
                            let status = key(&http, &base, &t, &content, &lease).await;
                            samples.lock().unwrap().push(Sample { started, ended: Instant::now(), kind: "key-after-release", status });
                        } else {
                            mine.push((content, lease));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let c = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || c.kill_immediate()).await.unwrap();
        let down_from = Instant::now();
        let acked_before_kill = acked.lock().unwrap().len();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let down_until = Instant::now();
        let c = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || c.restart()).await.unwrap();
        let restarted = Instant::now();
        // Recovery: the first key request that succeeds after the restart, same process.
        let recovered = loop {
            if key(&http, &base, &probe_t, "movie-probe", &probe).await == 200 {
                break restarted.elapsed();
            }
            assert!(restarted.elapsed() < Duration::from_secs(30), "no recovery within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        tokio::time::sleep(Duration::from_millis(1000)).await;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.unwrap();
        }

        let samples = samples.lock().unwrap().clone();
        let during: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.started >= down_from && s.ended <= down_until)
            .collect();
        let mut statuses = BTreeMap::<(&str, u16), usize>::new();
        for s in &during {
            *statuses.entry((s.kind, s.status)).or_default() += 1;
        }
        let max_down_ms = during
            .iter()
            .map(|s| s.ended.duration_since(s.started).as_secs_f64() * 1000.0)
            .fold(0.0, f64::max);
        let keys_served_down = during.iter().filter(|s| s.kind == "key" && s.status == 200).count();
        // With the cache, a key answered from it in the instant before the listener saw its
        // connection die is a correct answer (no release can commit while the database is
        // down); everything else must be 503.
        let not_503 = during
            .iter()
            .filter(|s| s.status != 503 && !(cache && s.kind == "key" && s.status == 200))
            .count();
        let after_ok = samples
            .iter()
            .filter(|s| matches!(s.kind, "create" | "key"))
            .filter(|s| s.started >= restarted + recovered && s.status != 200 && s.status != 201)
            .count();
        // Every lease acknowledged (before the kill, and after the restart) and not
        // released still works; every released one is refused.
        let acked = acked.lock().unwrap().clone();
        let released = released.lock().unwrap().clone();
        let mut lost = Vec::new();
        let mut revived = Vec::new();
        for (viewer, content, lease) in &acked {
            if released.contains(lease) {
                if key(&http, &base, &token(viewer), content, lease).await == 200 {
                    revived.push(lease.clone());
                }
                continue;
            }
            let t = token(viewer);
            if key(&http, &base, &t, content, lease).await != 200 {
                lost.push(lease.clone());
            }
        }
        let released_served = samples
            .iter()
            .filter(|s| s.kind == "key-after-release" && s.status == 200)
            .count();
        let releases_checked = samples.iter().filter(|s| s.kind == "key-after-release").count();
        // The cache after the restart: it lost its listener (a resync), listens again, and
        // answers checks again.
        let cache_line = if cache {
            let resyncs = metric(&http, &base, "blindcast_lease_cache_resyncs_total").await;
            let hits_before = metric(&http, &base, "blindcast_lease_cache_hits_total").await;
            let mut listening = None;
            for _ in 0..100 {
                listening = metric(&http, &base, "blindcast_lease_cache_listening").await;
                if listening == Some(1.0) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            for _ in 0..3 {
                assert_eq!(key(&http, &base, &probe_t, "movie-probe", &probe).await, 200);
            }
            let hits_after = metric(&http, &base, "blindcast_lease_cache_hits_total").await;
            assert!(resyncs >= Some(1.0), "the cache was not dropped with its listener: {resyncs:?}");
            assert_eq!(listening, Some(1.0), "the listener did not listen again");
            assert!(
                hits_after.unwrap_or(0.0) >= hits_before.unwrap_or(0.0) + 2.0,
                "the cache does not answer after the restart: {hits_before:?} -> {hits_after:?}"
            );
            format!("lease-check cache on: {resyncs:?} resyncs, listening again, hits {hits_before:?} -> {hits_after:?}")
        } else {
            let lines = metric(&http, &base, "blindcast_lease_cache_listening").await;
            assert_eq!(lines, None, "LEASE_CACHE=false still shows a cache");
            "lease-check cache off".to_owned()
        };
        let running = srv.is_running() && srv.pid() == pid;
        println!(
            "FIGURE PostgreSQL kill/restart ({cache_line}): {} requests while down: {} not 503, {keys_served_down} keys served, \
             slowest answer {max_down_ms:.1} ms (pool wait timeout 5 s); recovered {:.2} s after restart \
             without a server restart; {} of {} acknowledged leases lost ({acked_before_kill} acknowledged \
             before the kill); {after_ok} failures after recovery; {} releases acknowledged, \
             {released_served} of {releases_checked} keys asked right after a release served, {} released \
             leases served at the end; statuses while down {statuses:?}",
            during.len(),
            not_503,
            recovered.as_secs_f64(),
            lost.len(),
            acked.len(),
            released.len(),
            revived.len(),
        );
        assert!(releases_checked >= 5, "too few releases: {releases_checked}");
        assert_eq!(released_served, 0, "a key was served under a lease just released");
        assert!(revived.is_empty(), "released leases served: {revived:?}");
        assert!(during.len() >= 20, "too little load while down: {}", during.len());
        if cache {
            // Dropped with its listener: at most the requests in flight at that instant
            // (one per worker), not the whole outage's.
            assert!(keys_served_down <= 8, "{keys_served_down} keys served from the cache while the database was down");
        } else {
            assert_eq!(keys_served_down, 0, "a key was served while leases could not be checked");
        }
        assert_eq!(not_503, 0, "{statuses:?}");
        // The pool wait timeout (5 s) bounds an answer; the rest is headroom for a loaded
        // 2-core machine. Without the timeout, answers would hang until the restart.
        assert!(max_down_ms <= 15_000.0, "an answer took {max_down_ms} ms while down");
        assert!(lost.is_empty(), "acknowledged leases lost: {lost:?}");
        assert!(running, "the server process restarted or died");
        assert_eq!(after_ok, 0, "requests failed after recovery");
    })
    .await;
    let _ = &mut srv;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_keeps_every_acknowledged_sqlite_lease() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("leases.db").display());
    let env = [
        ("LEASE_STORE", store.as_str()),
        ("MAX_LEASES_PER_VIEWER", "2"),
        ("LEASE_TTL", "10m"),
        QUIET,
    ];
    let mut first = start(&env);
    let base = first.base.clone();
    bounded(Duration::from_secs(120), "kill -9", async {
        let http = client(Duration::from_secs(10));
        let next_viewer = Arc::new(AtomicU64::new(0));
        // viewer -> acknowledged lease ids
        let acked = Arc::new(Mutex::new(BTreeMap::<u64, Vec<String>>::new()));
        let mut workers = Vec::new();
        for _ in 0..16 {
            let (http, next_viewer, acked, base) =
                (http.clone(), next_viewer.clone(), acked.clone(), base.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let v = next_viewer.fetch_add(1, Ordering::Relaxed);
                    let t = token(&format!("crash-{v}"));
                    // Three creates against a limit of 2: the third must be 409.
                    for attempt in 0..3 {
                        let (status, lease) = create(&http, &base, &t, "movie-1").await;
                        match (status, lease) {
                            (201, Some(lease)) => acked.lock().unwrap().entry(v).or_default().push(lease),
                            (409, _) => assert_eq!(attempt, 2, "409 before the limit"),
                            // The server died mid-request: stop this worker.
                            (0, _) => return,
                            (other, _) => panic!("status {other}"),
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        first.kill9();
        for w in workers {
            w.await.unwrap();
        }
        let attempted = next_viewer.load(Ordering::Relaxed);
        let acked = acked.lock().unwrap().clone();
        let total: usize = acked.values().map(Vec::len).sum();

        let second = start(&env);
        let http = client(Duration::from_secs(10));
        let mut lost = Vec::new();
        let mut over = Vec::new();
        let mut max_active = 0usize;
        for (v, leases) in &acked {
            let t = token(&format!("crash-{v}"));
            for lease in leases {
                let k = key(&http, &second.base, &t, "movie-1", lease).await;
                let (r, _) = renew(&http, &second.base, &t, lease).await;
                if k != 200 || r != 200 {
                    lost.push(format!("crash-{v} {lease}: key {k}, renew {r}"));
                }
            }
            // The limit still holds: acknowledged + new must stay within 2.
            let mut new = 0;
            for _ in 0..3 {
                if create(&http, &second.base, &t, "movie-2").await.0 == 201 {
                    new += 1;
                }
            }
            let active = leases.len() + new;
            max_active = max_active.max(active);
            if active > 2 {
                over.push(format!("crash-{v}: {} acknowledged + {new} new", leases.len()));
            }
        }
        println!(
            "FIGURE kill -9 with SQLite: {} of {total} acknowledged leases lost after restart \
             ({} viewers, {attempted} attempted, killed mid-load); limit held: max active {max_active} of 2, \
             {} viewers over",
            lost.len(),
            acked.len(),
            over.len()
        );
        assert!(total >= 20, "too little load before the kill: {total}");
        assert!(lost.is_empty(), "{lost:#?}");
        assert!(over.is_empty(), "{over:#?}");
        assert_eq!(max_active, 2);
    })
    .await;
}

fn faketime_lib() -> Option<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ]
    .iter()
    .map(|d| PathBuf::from(d).join("faketime/libfaketime.so.1"))
    .find(|p| p.exists())
}

/// The `timestamp` of a server's "listening" JSON log line.
fn listening_time(output: &str) -> SystemTime {
    output
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "listening" || v["fields"]["message"] == "listening")
        .and_then(|v| {
            humantime::parse_rfc3339_weak(
                v["timestamp"]
                    .as_str()?
                    .trim_end_matches('Z')
                    .split('.')
                    .next()?,
            )
            .ok()
        })
        .unwrap()
}

fn parse_time(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).unwrap()
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_with_skewed_clocks_agree_on_expiry_with_postgres() {
    let _serial = SERIAL.lock().await;
    // Never skipped: without libfaketime the test fails saying what to install.
    let lib = faketime_lib().expect("libfaketime is not installed: apt-get install faketime");
    let url = blindcast_lease_testkit::postgres_url();
    let env = server::server_env(&[
        ("LEASE_STORE", &url),
        ("LEASE_TTL", "4s"),
        ("MAX_LEASES_PER_VIEWER", "5"),
        QUIET,
    ]);
    let real = server::start_with(env.clone(), &[]);
    let skewed = server::start_with(
        env,
        &[
            ("LD_PRELOAD", lib.to_str().unwrap()),
            ("FAKETIME", "+5m"),
            // Only the wall clock moves; timers and timeouts keep real time.
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
            ("DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    bounded(Duration::from_secs(60), "clock skew", async {
        // The skew really applies to the process: its log timestamps are 5 minutes ahead.
        let now = SystemTime::now();
        let skew_real = secs_between(listening_time(&real.output.text()), now);
        let skew_fake = secs_between(listening_time(&skewed.output.text()), now);
        assert!(skew_real.abs() < 5.0, "real server clock off by {skew_real} s");
        assert!((skew_fake - 300.0).abs() < 10.0, "faketime did not apply: {skew_fake} s");

        let http = client(Duration::from_secs(10));
        let viewer = blindcast_lease_testkit::unique_name("skew");
        let t = token(&viewer);
        // A lease made by the real-clock server, checked and renewed by the skewed one.
        let (status, lease) = create(&http, &real.base, &t, "movie-1").await;
        assert_eq!(status, 201);
        let lease = lease.unwrap();
        let created = Instant::now();
        assert_eq!(key(&http, &skewed.base, &t, "movie-1", &lease).await, 200, "the skewed server thinks the lease expired");
        let (s1, exp_real) = renew(&http, &real.base, &t, &lease).await;
        let (s2, exp_skewed) = renew(&http, &skewed.base, &t, &lease).await;
        assert_eq!((s1, s2), (200, 200));
        let exp_diff = secs_between(parse_time(&exp_skewed), parse_time(&exp_real));
        // A lease made by the skewed server: the real one sees the same expiry.
        let (status, lease2) = create(&http, &skewed.base, &t, "movie-2").await;
        assert_eq!(status, 201);
        assert_eq!(key(&http, &real.base, &t, "movie-2", &lease2.unwrap()).await, 200);

        // Poll both until each refuses the first lease: they must flip together.
        let mut flipped: [Option<Duration>; 2] = [None, None];
        while flipped.iter().any(Option::is_none) {
            assert!(created.elapsed() < Duration::from_secs(20), "lease never expired: {flipped:?}");
            for (i, base) in [&real.base, &skewed.base].into_iter().enumerate() {
                if flipped[i].is_none() && key(&http, base, &t, "movie-1", &lease).await != 200 {
                    flipped[i] = Some(created.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let [a, b] = flipped.map(Option::unwrap);
        let apart_ms = (a.as_secs_f64() - b.as_secs_f64()).abs() * 1000.0;
        println!(
            "FIGURE clock skew: server clocks {skew_real:+.1} s and {skew_fake:+.1} s (libfaketime); \
             expiresAt from each differs by {exp_diff:.2} s; lease refused by the real-clock server \
             after {:.2} s and by the skewed one after {:.2} s ({apart_ms:.0} ms apart, TTL 4 s)",
            a.as_secs_f64(),
            b.as_secs_f64()
        );
        assert!(exp_diff.abs() < 2.0, "expiresAt differs by {exp_diff} s");
        // Both read the database's clock, so they flip together up to the polling: the
        // bound leaves headroom for slow polls on a loaded machine, far below the 5-minute
        // skew a server clock would cause.
        assert!(apart_ms < 2500.0, "expiry seen {apart_ms} ms apart");
        // Neither ended the lease early, or 5 minutes late.
        assert!(a >= Duration::from_secs(3) && b >= Duration::from_secs(3), "{a:?} {b:?}");
    })
    .await;
}

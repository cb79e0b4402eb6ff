//! Several OS processes on one database file: the limit holds across them, and every
//! lease acknowledged before a `kill -9` is still there afterwards.
//!
//! The children are this same test binary, re-executed with `WORKER_ROLE` set so that
//! one designated `#[test]` (a no-op in a normal run) acts as the worker. Workers talk to
//! the parent through lines on stdin/stdout that start with a tag; libtest's own lines
//! are ignored.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{CreateLease, LeaseError, LeaseId, LeaseStore, ViewerId};
use blindcast_lease_sqlite::SqliteLeaseStore;

const ROLE_VAR: &str = "BLINDCAST_SQLITE_WORKER_ROLE";
const PATH_VAR: &str = "BLINDCAST_SQLITE_WORKER_DB";

const RACE_PROCESSES: usize = 2;
const RACE_CLIENTS_PER_PROCESS: usize = 50;
const RACE_ROUNDS: usize = 20;
const LONG_TTL: Duration = Duration::from_secs(600);

/// Leases the parent waits to see acknowledged before it kills the crash worker.
const ACKS_BEFORE_KILL: usize = 150;
const CRASH_TASKS: usize = 4;
/// Nothing here should take long; a hung child fails the test instead of the run.
const DEADLINE: Duration = Duration::from_secs(30);

fn viewer(name: &str) -> ViewerId {
    ViewerId::new(name).expect("valid viewer id")
}

fn content(name: &str) -> ContentId {
    ContentId::new(name).expect("valid content id")
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Starts this test binary as a worker running only the test `name`.
fn spawn_worker(name: &str, role: &str, db: &Path) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE_VAR, role)
        .env(PATH_VAR, db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("worker process starts")
}

/// Forwards a child's tagged stdout lines to a channel, so the parent can wait with a
/// deadline.
fn tagged_lines(stdout: ChildStdout, tag: &'static str) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix(tag)
                && tx.send(rest.trim().to_owned()).is_err()
            {
                break;
            }
        }
    });
    rx
}

fn recv_by(rx: &mpsc::Receiver<String>, deadline: Instant, what: &str) -> String {
    let left = deadline.saturating_duration_since(Instant::now());
    rx.recv_timeout(left)
        .unwrap_or_else(|e| panic!("no {what} from worker before the deadline: {e}"))
}

fn worker_role() -> Option<(String, PathBuf)> {
    let role = std::env::var(ROLE_VAR).ok()?;
    let path = std::env::var_os(PATH_VAR)?;
    Some((role, PathBuf::from(path)))
}

struct RaceWorker {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

/// 100 simultaneous creates per round (50 in each of two processes) for one viewer with
/// `max_leases_per_viewer = 2`: exactly two succeed, every round.
#[test]
fn race_across_processes_holds_limit() {
    if worker_role().is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let rt = runtime();
    // Create the schema first, so the workers only open an existing file.
    let store = rt
        .block_on(SqliteLeaseStore::open(&db))
        .expect("store opens");
    let deadline = Instant::now() + DEADLINE;
    let mut workers: Vec<RaceWorker> = (0..RACE_PROCESSES)
        .map(|_| {
            let mut child = spawn_worker("race_worker", "race", &db);
            let stdin = child.stdin.take().expect("piped stdin");
            let stdout = child.stdout.take().expect("piped stdout");
            RaceWorker {
                child,
                stdin,
                lines: tagged_lines(stdout, "RACE"),
            }
        })
        .collect();
    for w in &workers {
        assert_eq!(recv_by(&w.lines, deadline, "READY"), "READY");
    }
    for round in 0..RACE_ROUNDS {
        // Both processes start their burst at the same wall-clock moment.
        let start = unix_ms() + 30;
        for w in &mut workers {
            writeln!(w.stdin, "{round} {start}").expect("worker stdin");
            w.stdin.flush().expect("worker stdin");
        }
        let mut created = 0;
        let mut split = Vec::new();
        for w in &workers {
            let answer = recv_by(&w.lines, deadline, "round result");
            let (r, n) = answer
                .split_once(' ')
                .unwrap_or_else(|| panic!("worker said {answer:?}"));
            assert_eq!(r, round.to_string(), "worker answered another round");
            let n = n
                .parse::<usize>()
                .unwrap_or_else(|_| panic!("worker said {answer:?}"));
            created += n;
            split.push(n);
        }
        eprintln!("round {round}: created per process {split:?}");
        assert_eq!(
            created, 2,
            "round {round}: {created} leases across processes with a limit of 2"
        );
        // And the file agrees.
        let again = rt.block_on(store.create(CreateLease::new(
            viewer(&format!("xracer-{round}")),
            content("race"),
            LONG_TTL,
            2,
        )));
        assert!(
            matches!(again, Err(LeaseError::LimitReached { active: 2, max: 2 })),
            "round {round}: {again:?}"
        );
    }
    for mut w in workers {
        drop(w.stdin); // EOF ends the worker's loop.
        let status = w.child.wait().expect("worker exits");
        assert!(status.success(), "race worker failed: {status}");
    }
}

/// The child side of [`race_across_processes_holds_limit`]: per line `ROUND START_MS`
/// on stdin, waits until `START_MS`, races its creates and prints `RACE ROUND CREATED`.
#[test]
fn race_worker() {
    let Some((role, db)) = worker_role() else {
        return;
    };
    if role != "race" {
        return;
    }
    let rt = runtime();
    let store: Arc<dyn LeaseStore> = Arc::new(
        rt.block_on(SqliteLeaseStore::open(&db))
            .expect("worker store opens"),
    );
    println!("RACE READY");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin line");
        let (round, start) = line.split_once(' ').expect("ROUND START_MS");
        let start: u64 = start.parse().expect("start time");
        let created = rt.block_on(async {
            tokio::time::sleep(Duration::from_millis(start.saturating_sub(unix_ms()))).await;
            let barrier = Arc::new(tokio::sync::Barrier::new(RACE_CLIENTS_PER_PROCESS));
            let tasks: Vec<_> = (0..RACE_CLIENTS_PER_PROCESS)
                .map(|_| {
                    let (store, barrier) = (store.clone(), barrier.clone());
                    let req = CreateLease::new(
                        viewer(&format!("xracer-{round}")),
                        content("race"),
                        LONG_TTL,
                        2,
                    );
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store.create(req).await
                    })
                })
                .collect();
            let mut created = 0;
            for task in tasks {
                match task.await.expect("task joins") {
                    Ok(_) => created += 1,
                    Err(LeaseError::LimitReached { max: 2, .. }) => {}
                    Err(e) => panic!("racing create failed: {e:?}"),
                }
            }
            created
        });
        println!("RACE {round} {created}");
    }
}

/// A worker acknowledging leases is killed with SIGKILL; every lease it printed is in
/// the file afterwards, and the limit still holds for those viewers.
#[test]
fn acknowledged_leases_survive_kill_9() {
    if worker_role().is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let deadline = Instant::now() + DEADLINE;
    let mut child = spawn_worker("crash_worker", "crash", &db);
    let lines = tagged_lines(child.stdout.take().expect("piped stdout"), "ACK");
    let mut acked: Vec<(String, String)> = Vec::new();
    while acked.len() < ACKS_BEFORE_KILL {
        let line = recv_by(&lines, deadline, "acknowledged lease");
        let (v, id) = line.split_once(' ').expect("VIEWER ID");
        acked.push((v.to_owned(), id.to_owned()));
    }
    child.kill().expect("SIGKILL the worker"); // Child::kill is SIGKILL on Unix.
    child.wait().expect("worker reaped");
    // Lines the worker wrote before it died were acknowledged too.
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        let (v, id) = line.split_once(' ').expect("VIEWER ID");
        acked.push((v.to_owned(), id.to_owned()));
    }

    eprintln!("worker killed after {} acknowledged leases", acked.len());
    let rt = runtime();
    let store = rt
        .block_on(SqliteLeaseStore::open(&db))
        .expect("store reopens after kill -9");
    let mut per_viewer: BTreeMap<&str, usize> = BTreeMap::new();
    for (v, id) in &acked {
        let id: LeaseId = id.parse().expect("lease id");
        rt.block_on(store.check(&id, &viewer(v), &content("crash")))
            .unwrap_or_else(|e| panic!("acknowledged lease {id} of {v} lost: {e:?}"));
        *per_viewer.entry(v).or_default() += 1;
    }
    let full: Vec<&str> = per_viewer
        .iter()
        .filter(|(_, n)| **n == 2)
        .map(|(v, _)| *v)
        .collect();
    assert!(!full.is_empty(), "the worker acknowledged complete pairs");
    for v in full {
        let more =
            rt.block_on(store.create(CreateLease::new(viewer(v), content("crash"), LONG_TTL, 2)));
        assert!(
            matches!(more, Err(LeaseError::LimitReached { active: 2, max: 2 })),
            "limit after the crash for {v}: {more:?}"
        );
    }
    let conn = rusqlite_check(&db);
    assert_eq!(conn, "ok", "integrity_check after kill -9");
}

fn rusqlite_check(db: &Path) -> String {
    let conn = blindcast_lease_sqlite::rusqlite::Connection::open(db).expect("raw open");
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check")
}

/// The child side of [`acknowledged_leases_survive_kill_9`]: several tasks each take two
/// leases per viewer (printing `ACK VIEWER ID` as soon as `create` returns), confirm a
/// third is refused, and move on to the next viewer, until killed.
#[test]
fn crash_worker() {
    let Some((role, db)) = worker_role() else {
        return;
    };
    if role != "crash" {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let store: Arc<dyn LeaseStore> = Arc::new(
            SqliteLeaseStore::open(&db)
                .await
                .expect("worker store opens"),
        );
        let tasks: Vec<_> = (0..CRASH_TASKS)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        let name = format!("crash-{t}-{i}");
                        let req = || CreateLease::new(viewer(&name), content("crash"), LONG_TTL, 2);
                        for _ in 0..2 {
                            let lease = store.create(req()).await.expect("create under limit");
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ACK {name} {}", lease.id).expect("stdout");
                            out.flush().expect("stdout");
                        }
                        let third = store.create(req()).await;
                        assert!(
                            matches!(third, Err(LeaseError::LimitReached { active: 2, max: 2 })),
                            "{third:?}"
                        );
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task joins");
        }
    });
}

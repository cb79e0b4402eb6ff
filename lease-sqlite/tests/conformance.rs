//! The shared lease-store conformance suite, on a fresh SQLite file per test: once with
//! the default inline reads, once with every read on the blocking pool. During the
//! randomized histories a second process (Python's sqlite3) keeps taking the write lock.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blindcast_keys_core::lease::{LeaseStore, ManualClock};
use blindcast_lease_sqlite::{SqliteConfig, SqliteLeaseStore};
use blindcast_lease_testkit::history::{Faults, Stop};
use blindcast_lease_testkit::{Harness, lease_store_conformance};

#[derive(Debug)]
struct Sqlite {
    // Held so the directory (and the database in it) lives as long as the test.
    _dir: tempfile::TempDir,
    path: PathBuf,
    clock: ManualClock,
    inline_reads: bool,
    store: Arc<SqliteLeaseStore>,
    /// The file of the latest history, for the fault injector.
    history_db: Mutex<Option<PathBuf>>,
    histories: std::sync::atomic::AtomicUsize,
}

impl Sqlite {
    fn config(&self) -> SqliteConfig {
        config(&self.clock, self.inline_reads)
    }
}

fn config(clock: &ManualClock, inline_reads: bool) -> SqliteConfig {
    SqliteConfig::default()
        .with_clock(Arc::new(clock.clone()))
        .with_inline_reads(inline_reads)
}

#[async_trait::async_trait]
impl Harness for Sqlite {
    fn store(&self) -> Arc<dyn LeaseStore> {
        self.store.clone()
    }

    async fn sibling(&self) -> Arc<dyn LeaseStore> {
        // Its own pool and connections on the same file, sharing the clock.
        Arc::new(
            SqliteLeaseStore::open_with(&self.path, self.config())
                .await
                .expect("sibling store opens"),
        )
    }

    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    async fn history_stores(&self, clients: usize) -> Vec<Arc<dyn LeaseStore>> {
        let n = self
            .histories
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self._dir.path().join(format!("history-{n}.db"));
        *self.history_db.lock().expect("harness lock") = Some(path.clone());
        let config = SqliteConfig::default().with_inline_reads(self.inline_reads);
        let mut stores: Vec<Arc<dyn LeaseStore>> = Vec::new();
        for _ in 0..clients {
            // Each its own pool on the same file, on the system clock.
            let store = SqliteLeaseStore::open_with(&path, config.clone())
                .await
                .expect("history store opens");
            stores.push(Arc::new(store));
        }
        stores
    }

    async fn inject_faults(&self, mut stop: Stop) -> Faults {
        let path = self
            .history_db
            .lock()
            .expect("harness lock")
            .clone()
            .expect("a history file");
        // Another process that keeps taking SQLite's write lock for up to 30 ms at a time,
        // so the stores' writes wait on the busy handler mid-history.
        let mut child = Command::new("python3")
            .args(["-c", LOCK_HOLDER, path.to_str().expect("utf-8 path")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (apt-get install python3)");
        while !stop.sleep(Duration::from_secs(3600)).await {}
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"stop\n")
            .expect("tell the lock holder to stop");
        drop(stdin);
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("lock holder output");
        assert!(
            child.wait().expect("lock holder exits").success(),
            "lock holder failed"
        );
        let lock_holds: u64 = out.trim().parse().expect("lock holder prints its count");
        assert!(
            lock_holds > 0,
            "the second process never took the write lock"
        );
        Faults {
            lock_holds,
            killed_connections: 0,
        }
    }

    fn min_faults(&self, histories: usize) -> Faults {
        Faults {
            lock_holds: u64::try_from(histories).unwrap_or(u64::MAX),
            killed_connections: 0,
        }
    }
}

/// Python: takes the write lock (`BEGIN IMMEDIATE`) for 1-30 ms every 5-40 ms until a line
/// arrives on stdin, then prints how many times it held it.
const LOCK_HOLDER: &str = "
import random, select, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
n = 0
while not select.select([sys.stdin], [], [], random.uniform(0.005, 0.04))[0]:
    db.execute('BEGIN IMMEDIATE')
    time.sleep(random.uniform(0.001, 0.03))
    db.execute('COMMIT')
    n += 1
print(n)
";

async fn harness(inline_reads: bool) -> Sqlite {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leases.db");
    let clock = ManualClock::default();
    let store = SqliteLeaseStore::open_with(&path, config(&clock, inline_reads))
        .await
        .expect("store opens");
    Sqlite {
        _dir: dir,
        path,
        clock,
        inline_reads,
        store: Arc::new(store),
        history_db: Mutex::new(None),
        histories: std::sync::atomic::AtomicUsize::new(0),
    }
}

lease_store_conformance!(harness(true));

mod blocking_reads {
    use blindcast_lease_testkit::lease_store_conformance;

    lease_store_conformance!(super::harness(false));
}

//! The shared lease-store conformance suite, on a fresh SQLite file per test: once with
//! the default inline reads, once with every read on the blocking pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::lease::{LeaseStore, ManualClock};
use blindcast_lease_sqlite::{SqliteLeaseStore, SqliteOptions};
use blindcast_lease_testkit::{Harness, lease_store_conformance};

#[derive(Debug)]
struct Sqlite {
    // Held so the directory (and the database in it) lives as long as the test.
    _dir: tempfile::TempDir,
    path: PathBuf,
    clock: ManualClock,
    inline_reads: bool,
    store: Arc<SqliteLeaseStore>,
}

impl Sqlite {
    fn options(&self) -> SqliteOptions {
        options(&self.clock, self.inline_reads)
    }
}

fn options(clock: &ManualClock, inline_reads: bool) -> SqliteOptions {
    SqliteOptions::default()
        .clock(Arc::new(clock.clone()))
        .inline_reads(inline_reads)
}

#[async_trait::async_trait]
impl Harness for Sqlite {
    fn store(&self) -> Arc<dyn LeaseStore> {
        self.store.clone()
    }

    async fn sibling(&self) -> Arc<dyn LeaseStore> {
        // Its own pool and connections on the same file, sharing the clock.
        Arc::new(
            SqliteLeaseStore::open_with(&self.path, self.options())
                .await
                .expect("sibling store opens"),
        )
    }

    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

async fn harness(inline_reads: bool) -> Sqlite {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leases.db");
    let clock = ManualClock::default();
    let store = SqliteLeaseStore::open_with(&path, options(&clock, inline_reads))
        .await
        .expect("store opens");
    Sqlite {
        _dir: dir,
        path,
        clock,
        inline_reads,
        store: Arc::new(store),
    }
}

lease_store_conformance!(harness(true));

mod blocking_reads {
    use blindcast_lease_testkit::lease_store_conformance;

    lease_store_conformance!(super::harness(false));
}

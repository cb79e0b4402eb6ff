//! The shared lease-store conformance suite against a real PostgreSQL.
//!
//! Each harness gets its own table prefix on the shared test database, so the checks run
//! in parallel; time moves through the store's test-only database clock offset. During
//! the randomized histories a fault injector holds lease rows and viewers' advisory locks
//! and terminates the stores' backends mid-operation.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use blindcast_keys_core::lease::LeaseStore;
use blindcast_lease_postgres::{DbClockOffset, PostgresConfig, PostgresLeaseStore};
use blindcast_lease_testkit::history::{Faults, Stop, VIEWERS};
use blindcast_lease_testkit::{Harness, lease_store_conformance};

#[derive(Debug)]
struct Postgres {
    store: Arc<PostgresLeaseStore>,
    config: PostgresConfig,
    clock: DbClockOffset,
    /// The table prefix of the latest history, for the fault injector.
    history_prefix: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Harness for Postgres {
    fn store(&self) -> Arc<dyn LeaseStore> {
        self.store.clone()
    }

    async fn sibling(&self) -> Arc<dyn LeaseStore> {
        // Its own pool, same database, prefix and clock offset.
        Arc::new(common::store(self.config.clone()).await)
    }

    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    async fn history_stores(&self, clients: usize) -> Vec<Arc<dyn LeaseStore>> {
        // A fresh prefix on the real database clock; each client its own pool.
        let config = common::config("hist");
        *self.history_prefix.lock().expect("prefix lock") = Some(config.table_prefix.clone());
        let mut stores: Vec<Arc<dyn LeaseStore>> = Vec::new();
        for _ in 0..clients {
            stores.push(Arc::new(common::store(config.clone()).await));
        }
        stores
    }

    async fn inject_faults(&self, stop: Stop) -> Faults {
        let prefix = self
            .history_prefix
            .lock()
            .expect("harness lock")
            .clone()
            .expect("a history prefix");
        faults(prefix, stop).await
    }

    fn release_window(&self) -> Duration {
        // Each client is its own instance with its own cache.
        common::RELEASE_WINDOW
    }

    fn min_faults(&self, histories: usize) -> Faults {
        Faults {
            lock_holds: u64::try_from(histories).unwrap_or(u64::MAX),
            killed_connections: 1,
        }
    }
}

/// Until `stop`: holds a random lease row (`FOR UPDATE`) or a viewer's advisory lock for
/// 5-60 ms, or terminates the history stores' backends that are inside an operation.
async fn faults(prefix: String, mut stop: Stop) -> Faults {
    // Its own pool, so the stores' pools see only their own connections die.
    let injector = common::store(common::config("fault")).await;
    let client = injector.pool().get().await.expect("fault connection");
    let lock_name = format!("blindcast_lease:{prefix}");
    let mut faults = Faults::default();
    let mut round = 0u64;
    while !stop.is_set() {
        round += 1;
        let hold = Duration::from_millis(5 + (round * 37) % 56);
        let held = match round % 4 {
            0 => {
                let killed = client
                    .query_one(
                        "/* fault-injector */ SELECT count(pg_terminate_backend(pid)) \
                         FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
                         AND state IN ('active', 'idle in transaction') \
                         AND query LIKE '%' || $1 || 'leases%' \
                         AND query NOT LIKE '%fault-injector%'",
                        &[&prefix],
                    )
                    .await
                    .expect("terminate backends")
                    .get::<_, i64>(0);
                faults.killed_connections += u64::try_from(killed).unwrap_or(0);
                false
            }
            1 | 3 => {
                client.batch_execute("BEGIN").await.expect("begin");
                let rows = client
                    .query(
                        &format!(
                            "/* fault-injector */ SELECT 1 FROM {prefix}leases \
                             WHERE id IN (SELECT id FROM {prefix}leases \
                                          ORDER BY random() LIMIT 1) FOR UPDATE"
                        ),
                        &[],
                    )
                    .await
                    .expect("lock a lease row");
                !rows.is_empty()
            }
            _ => {
                let viewer = VIEWERS[usize::try_from(round / 4).unwrap_or(0) % VIEWERS.len()];
                client.batch_execute("BEGIN").await.expect("begin");
                client
                    .execute(
                        "/* fault-injector */ \
                         SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
                        &[&lock_name, &viewer],
                    )
                    .await
                    .expect("take a viewer's advisory lock");
                true
            }
        };
        if held {
            faults.lock_holds += 1;
        }
        if !round.is_multiple_of(4) {
            stop.sleep(hold).await;
            client.batch_execute("COMMIT").await.expect("commit");
        }
        stop.sleep(Duration::from_millis(10 + (round * 13) % 30))
            .await;
    }
    assert!(faults.lock_holds > 0, "no lock was held");
    faults
}

async fn make_harness() -> Postgres {
    let clock = DbClockOffset::new();
    let config = common::config("conf").with_clock_offset(clock.clone());
    Postgres {
        store: Arc::new(common::store(config.clone()).await),
        config,
        clock,
        history_prefix: Mutex::new(None),
    }
}

lease_store_conformance!(make_harness());

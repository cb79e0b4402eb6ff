//! The shared lease-store conformance suite against a real PostgreSQL.
//!
//! Each harness gets its own table prefix on the shared test database, so the checks run
//! in parallel; time moves through the store's test-only database clock offset.

mod common;

use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::lease::LeaseStore;
use blindcast_lease_postgres::{DbClockOffset, PostgresLeaseStore, PostgresOptions};
use blindcast_lease_testkit::{Harness, lease_store_conformance};

#[derive(Debug)]
struct Postgres {
    store: Arc<PostgresLeaseStore>,
    options: PostgresOptions,
    clock: DbClockOffset,
}

#[async_trait::async_trait]
impl Harness for Postgres {
    fn store(&self) -> Arc<dyn LeaseStore> {
        self.store.clone()
    }

    async fn sibling(&self) -> Arc<dyn LeaseStore> {
        // Its own pool, same database, prefix and clock offset.
        Arc::new(common::store(self.options.clone()).await)
    }

    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

async fn make_harness() -> Postgres {
    let clock = DbClockOffset::new();
    let options = common::options("conf").with_clock_offset(clock.clone());
    Postgres {
        store: Arc::new(common::store(options.clone()).await),
        options,
        clock,
    }
}

lease_store_conformance!(make_harness());

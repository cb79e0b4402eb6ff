//! What the integration tests share: stores on the test database, each on its own prefix.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use blindcast_lease_postgres::{CacheConfig, DbClockOffset, PostgresConfig, PostgresLeaseStore};
use blindcast_lease_testkit::{postgres_url, unique_name};

/// How long after a release completed on one instance the tests allow another instance's
/// cache to still answer with the lease: the bound asserted on the measured propagation
/// delay (`tests/cache.rs`) and the window the history checks allow.
pub const RELEASE_WINDOW: Duration = Duration::from_millis(500);

/// The configuration of a test store: a fresh prefix, a small pool, generous waits, the
/// lease-check cache on (so every test also runs through it).
pub fn config(stem: &str) -> PostgresConfig {
    PostgresConfig::default()
        .with_table_prefix(unique_name(stem))
        .with_max_connections(8)
        .with_wait_timeout(Duration::from_secs(30))
        .with_clock_offset(DbClockOffset::new())
        .with_cache(CacheConfig::on())
}

/// A store on the test database with `config`.
pub async fn store(config: PostgresConfig) -> PostgresLeaseStore {
    PostgresLeaseStore::connect_with(&postgres_url(), config)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test database: {e:?}"))
}

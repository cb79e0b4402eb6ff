//! Finding the real services the tests run against.

use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variables that name the test database, in order of preference.
pub const DATABASE_URL_VARS: [&str; 2] = ["BLINDCAST_TEST_DATABASE_URL", "DATABASE_URL"];

/// The URL of the PostgreSQL server the tests use.
///
/// # Panics
/// When neither variable is set: PostgreSQL tests never skip. The message says how to get
/// one: `./scripts/test` starts a throwaway cluster and sets the variable.
pub fn postgres_url() -> String {
    DATABASE_URL_VARS.iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty())).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL for the tests: run them with ./scripts/test, which starts a throwaway \
             PostgreSQL 15 cluster (install it with `apt-get install postgresql`), or set \
             BLINDCAST_TEST_DATABASE_URL=postgres://... to a database the tests may write to"
        )
    })
}

/// A name unique within this test run (process id, a counter, and the time), for table
/// prefixes and temp names so tests can share one database.
pub fn unique_name(stem: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{stem}_{}_{n}_{nanos:x}", std::process::id())
}

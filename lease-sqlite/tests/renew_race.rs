//! The review's renew/create race on SQLite, with the write lock held by another
//! connection, and what a backwards step of the system clock does.

use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::lease::ManualClock;
use blindcast_lease_sqlite::rusqlite::Connection;
use blindcast_lease_sqlite::{SqliteConfig, SqliteLeaseStore};
use blindcast_lease_testkit::renew_delayed_past_expiry_keeps_the_limit;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renew_held_on_the_write_lock_cannot_outrun_a_create() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let store = Arc::new(SqliteLeaseStore::open(&db).await.expect("opens"));
    let outcome = renew_delayed_past_expiry_keeps_the_limit(
        store,
        Duration::from_secs(3),
        async |_| {
            let conn = Connection::open(&db).expect("raw open");
            conn.execute_batch("BEGIN IMMEDIATE")
                .expect("take the write lock");
            conn
        },
        async |conn: Connection| conn.execute_batch("COMMIT").expect("commit"),
    )
    .await;
    eprintln!("write-lock race: {outcome:?}");
    // Writes read the clock after taking the write lock: the renew finds the lease
    // expired, and the create takes the free slot.
    outcome.assert_create_won();
}

/// A step back of the system clock stops the store's time instead of reviving a lease
/// that expired and whose slot another lease took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backwards_clock_step_never_revives() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::default();
    let store = SqliteLeaseStore::open_with(
        dir.path().join("leases.db"),
        SqliteConfig::default().with_clock(Arc::new(clock.clone())),
    )
    .await
    .expect("opens");
    blindcast_lease_testkit::backwards_clock_step_never_revives(&store, &clock).await;
}

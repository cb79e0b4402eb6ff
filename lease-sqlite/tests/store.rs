//! Behaviour beyond the conformance suite: lock timeouts, pool timeouts, batched purge,
//! configuration and `Debug`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{CreateLease, LeaseError, LeaseStore, ManualClock, ViewerId};
use blindcast_lease_sqlite::rusqlite::Connection;
use blindcast_lease_sqlite::{SqliteConfig, SqliteLeaseStore, SqliteStoreError, Synchronous};

fn request(v: &str, ttl: Duration, max: u32) -> CreateLease {
    CreateLease::new(
        ViewerId::new(v).expect("viewer"),
        ContentId::new("m").expect("content"),
        ttl,
        max,
    )
}

/// A raw connection holding SQLite's write lock until dropped or committed.
fn hold_write_lock(db: &Path) -> Connection {
    let conn = Connection::open(db).expect("raw open");
    conn.execute_batch("BEGIN IMMEDIATE")
        .expect("take write lock");
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_locked_out_past_busy_timeout_is_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let store = SqliteLeaseStore::open_with(
        &db,
        SqliteConfig::default().with_busy_timeout(Duration::from_millis(100)),
    )
    .await
    .expect("opens");
    let lease = store
        .create(request("olga", Duration::from_secs(60), 1))
        .await
        .expect("create");

    let locker = hold_write_lock(&db);
    let started = Instant::now();
    let err = store
        .create(request("olga", Duration::from_secs(60), 5))
        .await
        .expect_err("write lock is held elsewhere");
    assert!(matches!(err, LeaseError::Unavailable(_)), "{err:?}");
    assert!(err.is_store_failure());
    assert!(
        started.elapsed() >= Duration::from_millis(90),
        "waited for the lock"
    );
    // Reads do not need the write lock in WAL mode.
    store
        .check(
            &lease.id,
            &ViewerId::new("olga").expect("viewer"),
            &ContentId::new("m").expect("content"),
        )
        .await
        .expect("check while another process writes");
    store
        .ping()
        .await
        .expect("ping while another process writes");

    drop(locker); // rolls back, releasing the lock
    store
        .create(request("olga", Duration::from_secs(60), 5))
        .await
        .expect("create once the lock is free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_pooled_connection_times_out_as_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let store = SqliteLeaseStore::open_with(
        &db,
        SqliteConfig::default()
            .with_pool_size(1)
            // The create waits on the lock until the test releases it, however slow the
            // machine.
            .with_busy_timeout(Duration::from_secs(60))
            .with_pool_timeout(Duration::from_millis(50)),
    )
    .await
    .expect("opens");
    let locker = hold_write_lock(&db);
    // This one takes the only connection and waits on SQLite's lock.
    let first = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create(request("pete", Duration::from_secs(60), 1))
                .await
        })
    };
    // No sleep as synchronisation: ping until the create holds the only connection (a
    // ping succeeds while it does not yet), bounded generously for a loaded machine.
    let started = std::time::Instant::now();
    let err = loop {
        match store.ping().await {
            Err(err) => break err,
            Ok(()) => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the create never took the connection"
                );
                tokio::task::yield_now().await;
            }
        }
    };
    assert!(
        matches!(
            (&err, SqliteStoreError::from_lease_error(&err)),
            (
                LeaseError::Unavailable(_),
                Some(SqliteStoreError::PoolTimeout(_))
            )
        ),
        "{err:?}"
    );
    drop(locker);
    first
        .await
        .expect("task joins")
        .expect("the waiting create succeeds once the lock is free");
    store.ping().await.expect("connection back in the pool");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_in_batches_and_keeps_live_leases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let clock = ManualClock::default();
    let store = SqliteLeaseStore::open_with(
        &db,
        SqliteConfig::default()
            .with_clock(Arc::new(clock.clone()))
            .with_synchronous(Synchronous::Normal),
    )
    .await
    .expect("opens");
    // More than two batches of 1000.
    let expired = 2_345;
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (t..expired).step_by(8) {
                    store
                        .create(request(
                            &format!("v{}", i % 50),
                            Duration::from_secs(1),
                            1000,
                        ))
                        .await
                        .expect("create");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task joins");
    }
    clock.advance(Duration::from_secs(2));
    let live = store
        .create(request("v0", Duration::from_secs(60), 1))
        .await
        .expect("expired leases no longer count");
    assert_eq!(store.purge_expired().await.expect("purge"), expired as u64);
    assert_eq!(store.purge_expired().await.expect("purge again"), 0);
    store
        .check(&live.id, &live.viewer, &live.content)
        .await
        .expect("live lease kept");
}

#[tokio::test]
async fn store_is_clone_debug_and_object_safe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let store = SqliteLeaseStore::open_with(
        &db,
        SqliteConfig::default()
            .with_synchronous(Synchronous::Normal)
            .with_pool_size(2),
    )
    .await
    .expect("opens");
    let debug = format!("{store:?}");
    assert!(debug.starts_with("SqliteLeaseStore"), "{debug}");
    assert!(debug.contains("leases.db"), "{debug}");
    assert!(debug.contains("Normal"), "{debug}");

    // Clones share the pool and the file.
    let clone = store.clone();
    let lease = clone
        .create(request("quinn", Duration::from_secs(60), 1))
        .await
        .expect("create");
    let dyn_store: Arc<dyn LeaseStore> = Arc::new(store);
    dyn_store
        .check(&lease.id, &lease.viewer, &lease.content)
        .await
        .expect("seen through the original");
}

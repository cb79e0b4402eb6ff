//! Regression test of the review's finding: a renew held on the lease's row lock past the
//! lease's expiry, racing a create of the same viewer, gave two usable leases for a limit
//! of one. The row is held from another connection, as a slow transaction, a lock wait
//! or an fsync would.

mod common;

use std::sync::Arc;
use std::time::Duration;

use blindcast_lease_testkit::renew_delayed_past_expiry_keeps_the_limit;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renew_held_on_the_row_lock_cannot_outrun_a_create() {
    let config = common::config("rowlock");
    let prefix = config.table_prefix.clone();
    let store = Arc::new(common::store(config).await);
    let holder = common::store(common::config("rowholder")).await;
    let client = holder.pool().get().await.expect("holder connection");
    let outcome = renew_delayed_past_expiry_keeps_the_limit(
        store,
        Duration::from_secs(3),
        async |id| {
            client.batch_execute("BEGIN").await.expect("begin");
            let rows = client
                .query(
                    &format!("SELECT 1 FROM {prefix}leases WHERE id = $1 FOR UPDATE"),
                    &[&id.as_str()],
                )
                .await
                .expect("lock the lease row");
            assert_eq!(rows.len(), 1, "the lease row exists");
        },
        async |()| client.batch_execute("COMMIT").await.expect("commit"),
    )
    .await;
    eprintln!("row-lock race: {outcome:?}");
    // The renew read the clock before expiry under the viewer's lock: it wins, and the
    // create, which waited for that lock, sees the renewed lease.
    outcome.assert_renew_won();
}

//! Where reads and writes run, group commit, and what callers get back when things go
//! wrong, on real SQLite files.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, ThreadId};

use super::*;

fn pool_with(dir: &Path, inline_reads: bool, pool_timeout: Duration) -> Pool {
    let path = dir.join("pool.db");
    let conn_config = ConnConfig {
        busy_timeout: Duration::from_secs(1),
        synchronous: Synchronous::Full,
        inline_reads,
    };
    let first = connect(&path, conn_config).expect("connect");
    first
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        .expect("table");
    Pool::new(path, conn_config, 2, pool_timeout, first)
}

fn pool(dir: &Path, inline_reads: bool) -> Pool {
    pool_with(dir, inline_reads, Duration::from_secs(1))
}

fn here(_: &mut Connection) -> Result<ThreadId, OpError> {
    Ok(thread::current().id())
}

fn busy() -> OpError {
    OpError::Sql(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        None,
    ))
}

fn insert(x: i64) -> impl FnOnce(&Connection) -> Result<(), OpError> + Send + 'static {
    move |conn| {
        conn.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
        Ok(())
    }
}

async fn rows(pool: &Pool) -> Vec<i64> {
    pool.read(|conn| {
        let mut stmt = conn.prepare("SELECT x FROM t ORDER BY rowid")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<Vec<i64>, _>>()?)
    })
    .await
    .expect("read rows")
}

/// Takes the store's write gate, so that writes queue until it is dropped.
async fn hold_write_gate(pool: &Pool) -> OwnedSemaphorePermit {
    pool.inner
        .write_gate
        .clone()
        .acquire_owned()
        .await
        .expect("gate")
}

/// Waits until `n` writes are queued (the test holds the write gate meanwhile).
async fn queued(pool: &Pool, n: usize) {
    while pool.inner.lock_queue().len() < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn reads_run_inline_by_default_and_on_the_blocking_pool_when_off() {
    let dir = tempfile::tempdir().expect("temp dir");
    let caller = thread::current().id();
    let inline = pool(dir.path(), true);
    assert_eq!(inline.read(here).await.expect("read"), caller);
    let blocking = pool(dir.path(), false);
    assert_ne!(blocking.read(here).await.expect("read"), caller);
}

#[tokio::test]
async fn a_busy_inline_read_is_retried_on_the_blocking_pool() {
    let dir = tempfile::tempdir().expect("temp dir");
    let caller = thread::current().id();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let ran_on = pool(dir.path(), true)
        .read(move |conn| {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(busy());
            }
            here(conn)
        })
        .await
        .expect("the retry succeeds");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_ne!(ran_on, caller, "the retry ran on a blocking thread");
}

#[tokio::test]
async fn a_read_that_stays_busy_is_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = pool(dir.path(), true)
        .read(|_| Err::<(), _>(busy()))
        .await
        .expect_err("busy");
    assert!(matches!(err, LeaseError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_panicking_inline_read_is_a_backend_error_and_the_pool_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = pool(dir.path(), true);
    let err = pool
        .read(|_| -> Result<(), OpError> { panic!("bug in a query") })
        .await
        .expect_err("panicked");
    assert!(
        matches!(
            (&err, SqliteStoreError::from_lease_error(&err)),
            (
                LeaseError::Backend(_),
                Some(SqliteStoreError::OperationPanicked)
            )
        ),
        "{err:?}"
    );
    pool.read(here).await.expect("later reads work");
}

#[tokio::test]
async fn writes_leave_a_current_thread_runtime_for_the_blocking_pool() {
    let dir = tempfile::tempdir().expect("temp dir");
    let caller = thread::current().id();
    let ran_on = pool(dir.path(), true)
        .write(|_| Ok(thread::current().id()))
        .await
        .expect("write");
    assert_ne!(ran_on, caller);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_on_a_multi_thread_runtime_run_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = pool(dir.path(), true);
    let writer = pool.clone();
    let (worker, ran_on) = tokio::spawn(async move {
        let worker = thread::current().id();
        let ran_on = writer.write(|_| Ok(thread::current().id())).await;
        (worker, ran_on.expect("write"))
    })
    .await
    .expect("joins");
    assert_eq!(worker, ran_on, "no hand-off to another thread");
    let err = tokio::spawn(async move {
        pool.write(|_| -> Result<(), OpError> { panic!("bug in a write") })
            .await
    })
    .await
    .expect("the panic stays inside the store")
    .expect_err("panicked");
    assert!(matches!(err, LeaseError::Backend(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_commit_together_in_order_and_a_failed_one_alone_rolls_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = pool(dir.path(), true);
    let gate = hold_write_gate(&pool).await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for x in 1..=3_i64 {
        let (writer, order) = (pool.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            writer
                .write(move |conn| {
                    order.lock().expect("order").push((x, conn.is_autocommit()));
                    insert(x)(conn)?;
                    if x == 2 {
                        return Err(LeaseError::NotFound.into()); // after its insert
                    }
                    Ok(x)
                })
                .await
        }));
        queued(&pool, usize::try_from(x).expect("small")).await;
    }
    drop(gate); // the first writer to get it runs all three
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("joins"));
    }
    assert!(matches!(answers[0], Ok(1)), "{answers:?}");
    assert!(
        matches!(answers[1], Err(LeaseError::NotFound)),
        "{answers:?}"
    );
    assert!(matches!(answers[2], Ok(3)), "{answers:?}");
    assert_eq!(
        *order.lock().expect("order"),
        vec![(1, false), (2, false), (3, false)],
        "in queue order, inside one transaction"
    );
    assert_eq!(
        rows(&pool).await,
        vec![1, 3],
        "only the failed write rolled back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_caller_gave_up_never_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = pool_with(dir.path(), true, Duration::from_millis(50));
    let gate = hold_write_gate(&pool).await;
    let err = pool.write(insert(7)).await.expect_err("times out");
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
    drop(gate);
    pool.write(insert(8)).await.expect("next write");
    assert_eq!(rows(&pool).await, vec![8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_request_was_cancelled_while_queued_never_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = pool(dir.path(), true);
    let gate = hold_write_gate(&pool).await;
    let cancelled = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.write(insert(5)).await })
    };
    queued(&pool, 1).await;
    cancelled.abort();
    assert!(cancelled.await.expect_err("aborted").is_cancelled());
    drop(gate);
    pool.write(insert(6)).await.expect("next write");
    assert_eq!(rows(&pool).await, vec![6]);
}

#[tokio::test]
async fn when_sqlite_ends_the_transaction_no_write_of_the_batch_is_acknowledged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = pool(dir.path(), true);
    let answers: Vec<_> = (0..3).map(|_| oneshot::channel()).collect();
    let mut jobs: Vec<Box<dyn Pending>> = Vec::new();
    let mut receivers = Vec::new();
    for (x, (reply, answer)) in (1_i64..).zip(answers) {
        let op = move |conn: &Connection| -> Result<(), OpError> {
            insert(x)(conn)?;
            if x == 2 {
                // What SQLite does on a full disk: ends the transaction, and says so.
                conn.execute_batch("ROLLBACK TO SAVEPOINT _rusqlite_sp; ROLLBACK")?;
                return Err(OpError::Sql(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                    None,
                )));
            }
            Ok(())
        };
        let claim = Claim::default();
        let job = Job::new(claim.clone(), op, reply);
        assert!(Pending::claim(&job));
        jobs.push(Box::new(job));
        receivers.push(answer);
    }
    let mut conn = pool.inner.take_idle().expect("idle connection");
    batch::run_batch(&mut conn, jobs);
    assert!(conn.is_autocommit());
    pool.inner.put_back(conn);
    for (x, answer) in (1..).zip(receivers) {
        let err = answer
            .await
            .expect("answered")
            .expect_err("not acknowledged");
        if x == 2 {
            // The write that failed gets its own error.
            assert!(
                matches!(&err, LeaseError::Backend(_)) && format!("{err:?}").contains("DiskFull"),
                "{err:?}"
            );
        } else {
            assert!(
                matches!(
                    SqliteStoreError::from_lease_error(&err),
                    Some(SqliteStoreError::RolledBack)
                ),
                "{err:?}"
            );
        }
    }
    assert_eq!(rows(&pool).await, Vec::<i64>::new());
}

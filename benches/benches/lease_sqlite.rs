//! SQLite lease store throughput: create, renew and check with 1 and 8 concurrent
//! clients, with `synchronous = FULL` (the default) and `NORMAL`, on a temp-file store.
//!
//! Each sample spawns N tasks that share the `iters` operations and times them all, so
//! the reported time per iteration is wall time per operation across all clients, and
//! the throughput figure is total ops/s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{CreateLease, Lease, LeaseStore, ViewerId};
use blindcast_lease_sqlite::{SqliteConfig, SqliteLeaseStore, Synchronous};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const CLIENTS: [u64; 2] = [1, 8];
const TTL: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy)]
enum Op {
    Create,
    Renew,
    Check,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Renew => "renew",
            Self::Check => "check",
        }
    }
}

fn viewer(name: &str) -> ViewerId {
    ViewerId::new(name).expect("valid viewer id")
}

fn content() -> ContentId {
    ContentId::new("movie-1").expect("valid content id")
}

/// Runs `iters` operations split over `clients` tasks and returns the wall time.
async fn run(
    store: Arc<SqliteLeaseStore>,
    op: Op,
    clients: u64,
    iters: u64,
    leases: Arc<Vec<Lease>>,
    next_viewer: Arc<AtomicU64>,
) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (store, leases, next_viewer) = (store.clone(), leases.clone(), next_viewer.clone());
            let share = iters / clients + u64::from(client < iters % clients);
            tokio::spawn(async move {
                let lease = &leases[usize::try_from(client).expect("small")];
                for _ in 0..share {
                    match op {
                        Op::Create => {
                            // A fresh viewer each time: the common case of a viewer
                            // starting a stream well under the limit.
                            let n = next_viewer.fetch_add(1, Ordering::Relaxed);
                            let req =
                                CreateLease::new(viewer(&format!("bench-{n}")), content(), TTL, 3);
                            store.create(req).await.expect("create");
                        }
                        Op::Renew => {
                            store
                                .renew(&lease.id, &lease.viewer, TTL)
                                .await
                                .expect("renew");
                        }
                        Op::Check => {
                            store
                                .check(&lease.id, &lease.viewer, &lease.content)
                                .await
                                .expect("check");
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
    start.elapsed()
}

fn lease_sqlite(c: &mut Criterion) {
    // Two workers: the machine these figures come from has two cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    for (label, sync) in [("full", Synchronous::Full), ("normal", Synchronous::Normal)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(
            rt.block_on(SqliteLeaseStore::open_with(
                dir.path().join("leases.db"),
                SqliteConfig::default().with_synchronous(sync),
            ))
            .expect("store opens"),
        );
        // One long-lived lease per client for renew and check.
        let leases: Arc<Vec<Lease>> = Arc::new(
            (0..*CLIENTS.iter().max().expect("clients"))
                .map(|i| {
                    let req = CreateLease::new(viewer(&format!("renewer-{i}")), content(), TTL, 1);
                    rt.block_on(store.create(req)).expect("seed lease")
                })
                .collect(),
        );
        let next_viewer = Arc::new(AtomicU64::new(0));
        let mut group = c.benchmark_group(format!("lease_sqlite_{label}"));
        group.throughput(Throughput::Elements(1));
        for op in [Op::Create, Op::Renew, Op::Check] {
            for clients in CLIENTS {
                group.bench_with_input(
                    BenchmarkId::new(op.name(), clients),
                    &clients,
                    |b, &clients| {
                        b.to_async(&rt).iter_custom(|iters| {
                            run(
                                store.clone(),
                                op,
                                clients,
                                iters,
                                leases.clone(),
                                next_viewer.clone(),
                            )
                        });
                    },
                );
            }
        }
        group.finish();
    }
}

criterion_group!(benches, lease_sqlite);
criterion_main!(benches);

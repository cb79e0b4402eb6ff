//! PostgreSQL lease store: create / renew / check throughput with 1 and 8 concurrent
//! clients, against the database named by BLINDCAST_TEST_DATABASE_URL (or DATABASE_URL).
//!
//! `scripts/postgres.sh start DIR` prints a URL for a throwaway cluster. One iteration is
//! one operation by each of the N clients, so criterion's `elem/s` is operations/s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{CreateLease, Lease, LeaseStore, ViewerId};
use blindcast_lease_postgres::{PostgresConfig, PostgresLeaseStore};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const CLIENTS: [usize; 2] = [1, 8];

fn database_url() -> String {
    ["BLINDCAST_TEST_DATABASE_URL", "DATABASE_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| {
            eprintln!(
                "lease_postgres bench: set BLINDCAST_TEST_DATABASE_URL to a PostgreSQL the \
                 bench may write to (scripts/postgres.sh start DIR prints one)"
            );
            std::process::exit(2)
        })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn request(viewer: u64) -> CreateLease {
    CreateLease::new(
        ViewerId::new(format!("bench-viewer-{viewer}")).expect("viewer id"),
        ContentId::new("bench-movie").expect("content id"),
        Duration::from_secs(600),
        1_000_000,
    )
}

/// Runs `op(client, i)` for i in 0..iters on each of `clients` tasks at once; the time of
/// the slowest.
async fn concurrent<F, Fut>(clients: usize, iters: u64, op: F) -> Duration
where
    F: Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let op = op.clone();
            tokio::spawn(async move {
                for i in 0..iters {
                    op(c, i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("bench task");
    }
    start.elapsed()
}

fn lease_postgres(c: &mut Criterion) {
    let url = database_url();
    let rt = runtime();
    let prefix = format!("bench_{}_", std::process::id());
    let pg = rt
        .block_on(PostgresLeaseStore::connect_with(
            &url,
            PostgresConfig::default()
                .with_table_prefix(prefix.as_str())
                .with_max_connections(8),
        ))
        .expect("connect to the bench database");
    let store: Arc<dyn LeaseStore> = Arc::new(pg.clone());
    let next_viewer = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group("lease_postgres");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    for clients in CLIENTS {
        group.throughput(Throughput::Elements(clients as u64));
        group.bench_function(BenchmarkId::new("create", clients), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let store = store.clone();
                let next = next_viewer.clone();
                concurrent(clients, iters, move |_, _| {
                    let store = store.clone();
                    let viewer = next.fetch_add(1, Ordering::Relaxed);
                    async move {
                        store.create(request(viewer)).await.expect("create");
                    }
                })
            })
        });
        // One lease per client, renewed / checked over and over.
        let leases: Arc<Vec<Lease>> = Arc::new(
            (0..clients)
                .map(|_| {
                    let viewer = next_viewer.fetch_add(1, Ordering::Relaxed);
                    rt.block_on(store.create(request(viewer))).expect("create")
                })
                .collect(),
        );
        group.bench_function(BenchmarkId::new("renew", clients), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let store = store.clone();
                let leases = leases.clone();
                concurrent(clients, iters, move |c, _| {
                    let store = store.clone();
                    let leases = leases.clone();
                    async move {
                        let lease = &leases[c];
                        store
                            .renew(&lease.id, &lease.viewer, Duration::from_secs(600))
                            .await
                            .expect("renew");
                    }
                })
            })
        });
        group.bench_function(BenchmarkId::new("check", clients), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let store = store.clone();
                let leases = leases.clone();
                concurrent(clients, iters, move |c, _| {
                    let store = store.clone();
                    let leases = leases.clone();
                    async move {
                        let lease = &leases[c];
                        store
                            .check(&lease.id, &lease.viewer, &lease.content)
                            .await
                            .expect("check");
                    }
                })
            })
        });
    }
    group.finish();
    // Leave the bench database as it was.
    rt.block_on(async {
        if let Ok(client) = pg.pool().get().await {
            let _ = client
                .batch_execute(&format!(
                    "DROP TABLE IF EXISTS {prefix}leases; DROP TABLE IF EXISTS {prefix}schema_migrations"
                ))
                .await;
        }
    });
}

criterion_group!(benches, lease_postgres);
criterion_main!(benches);

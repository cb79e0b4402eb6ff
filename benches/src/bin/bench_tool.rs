//! Helpers of the load script `benches/http/run.sh` (see `BENCHMARKS.md`).
//!
//! ```text
//! bench-tool mint ALG KEY SUB TTL_SECS
//!     ALG: HS256 (KEY: the secret, or `env` for $JWT_SECRET), RS256, ES256 or EdDSA (KEY: a
//!     PEM private key file). Prints one token for subject SUB, valid TTL_SECS.
//! bench-tool lease-load STORE CLIENTS SECONDS
//!     Creates leases (a fresh viewer each time) from CLIENTS concurrent tasks for SECONDS
//!     (after a 1 s warm-up) and prints `ops_per_s=... p99_ms=... ops=...`.
//!     STORE: `sqlite:PATH` (blindcast-lease-sqlite, its defaults: WAL,
//!     synchronous=FULL, pool of 4), `sqlite-direct:PATH` (the reference: the same
//!     BEGIN IMMEDIATE / COUNT / INSERT / COMMIT transaction run with rusqlite, one
//!     connection per client thread, same pragmas, no store around it), or
//!     `postgres://...` (blindcast-lease-postgres with table prefix `bench_pg_`, the
//!     tables `benches/pgbench/lease_create.sql` writes to).
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{CreateLease, LeaseStore, ViewerId};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

fn usage() -> ExitCode {
    eprintln!(
        "usage: bench-tool mint ALG KEY SUB TTL_SECS | bench-tool lease-load STORE CLIENTS SECONDS"
    );
    ExitCode::from(2)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn mint(alg: &str, key: &str, sub: &str, ttl: u64) -> Result<String, String> {
    let read = || std::fs::read(key).map_err(|e| format!("{key}: {e}"));
    let (alg, key) = match alg {
        "HS256" => {
            let secret = if key == "env" {
                std::env::var("JWT_SECRET").map_err(|_| "JWT_SECRET is not set".to_owned())?
            } else {
                key.to_owned()
            };
            (
                Algorithm::HS256,
                EncodingKey::from_secret(secret.as_bytes()),
            )
        }
        "RS256" => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&read()?).map_err(|e| e.to_string())?,
        ),
        "ES256" => (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&read()?).map_err(|e| e.to_string())?,
        ),
        "EdDSA" => (
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(&read()?).map_err(|e| e.to_string())?,
        ),
        other => return Err(format!("unknown algorithm {other}")),
    };
    let now = now_secs();
    let claims = serde_json::json!({ "sub": sub, "iat": now, "exp": now + ttl });
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).map_err(|e| e.to_string())
}

/// Per-client results: operations done and their latencies in microseconds.
type Samples = Vec<u32>;

fn report(samples: Vec<Samples>, elapsed: Duration, errors: u64) {
    let mut all: Vec<u32> = samples.into_iter().flatten().collect();
    all.sort_unstable();
    let ops = all.len();
    let p = |q: f64| {
        if all.is_empty() {
            0.0
        } else {
            let i = ((ops as f64 - 1.0) * q).round() as usize;
            f64::from(all[i]) / 1000.0
        }
    };
    println!(
        "ops_per_s={:.0} p50_ms={:.3} p99_ms={:.3} ops={ops} errors={errors} seconds={:.2}",
        ops as f64 / elapsed.as_secs_f64(),
        p(0.5),
        p(0.99),
        elapsed.as_secs_f64()
    );
}

/// A viewer-number base unlikely to repeat between runs on the same tables.
fn viewer_base() -> u64 {
    (now_secs() % 100_000) * 1_000_000_000
}

async fn store_load(
    store: Arc<dyn LeaseStore>,
    clients: usize,
    seconds: u64,
    max_leases_per_viewer: u32,
) {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(viewer_base()));
    let content = ContentId::new("bench-movie").expect("content id");
    let run = |until: Instant| {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (store, next, content) = (store.clone(), next.clone(), content.clone());
                tokio::spawn(async move {
                    let mut lat: Samples = Vec::with_capacity(1 << 16);
                    let mut errors = 0u64;
                    while Instant::now() < until {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let viewer = ViewerId::new(format!("bench-viewer-{n}")).expect("viewer");
                        let req = CreateLease::new(
                            viewer,
                            content.clone(),
                            Duration::from_secs(600),
                            max_leases_per_viewer,
                        );
                        let t = Instant::now();
                        match store.create(req).await {
                            Ok(_) => {
                                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX))
                            }
                            Err(_) => errors += 1,
                        }
                    }
                    (lat, errors)
                })
            })
            .collect::<Vec<_>>();
        async move {
            let mut samples = Vec::new();
            let mut errors = 0;
            for t in tasks {
                let (lat, e) = t.await.expect("client task");
                samples.push(lat);
                errors += e;
            }
            (samples, errors)
        }
    };
    let _ = run(Instant::now() + Duration::from_secs(1)).await;
    let start = Instant::now();
    let (samples, errors) = run(start + Duration::from_secs(seconds)).await;
    report(samples, start.elapsed(), errors);
}

/// The reference: the store's create transaction run straight through rusqlite.
fn sqlite_direct(path: &str, clients: usize, seconds: u64) -> Result<(), String> {
    use rusqlite::{Connection, TransactionBehavior, params};
    let run = |until: Instant, base: u64| {
        let threads: Vec<_> = (0..clients)
            .map(|c| {
                let path = path.to_owned();
                std::thread::spawn(move || -> Result<(Samples, u64), rusqlite::Error> {
                    let mut conn = Connection::open(&path)?;
                    conn.busy_timeout(Duration::from_secs(5))?;
                    conn.pragma_update(None, "synchronous", "FULL")?;
                    let mut lat: Samples = Vec::with_capacity(1 << 16);
                    let mut errors = 0;
                    let mut i = 0u64;
                    while Instant::now() < until {
                        i += 1;
                        let viewer = format!("bench-viewer-{base}-{c}-{i}");
                        let id = format!("{:022x}", (base << 24) ^ ((c as u64) << 40) ^ i);
                        let t = Instant::now();
                        let result = (|| {
                            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                            let now = i64::try_from(now_millis()).unwrap_or(i64::MAX);
                            let active: i64 = tx
                                .prepare_cached(
                                    "SELECT COUNT(*) FROM leases WHERE viewer = ?1 AND expires_at_ms > ?2",
                                )?
                                .query_row(params![viewer, now], |row| row.get(0))?;
                            if active < 3 {
                                tx.prepare_cached(
                                    "INSERT INTO leases \
                                     (id, viewer, content, created_at_ms, expires_at_ms, renewals, idempotency_key) \
                                     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                                )?
                                .execute(params![
                                    id,
                                    viewer,
                                    "bench-movie",
                                    now,
                                    now + 600_000,
                                    Option::<String>::None
                                ])?;
                            }
                            tx.commit()
                        })();
                        match result {
                            Ok(()) => lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX)),
                            Err(_) => errors += 1,
                        }
                    }
                    Ok((lat, errors))
                })
            })
            .collect::<Vec<_>>();
        let mut samples = Vec::new();
        let mut errors = 0;
        for t in threads {
            let (lat, e) = t.join().expect("thread").map_err(|e| e.to_string())?;
            samples.push(lat);
            errors += e;
        }
        Ok::<_, String>((samples, errors))
    };
    let base = viewer_base();
    run(Instant::now() + Duration::from_secs(1), base)?;
    let start = Instant::now();
    let (samples, errors) = run(start + Duration::from_secs(seconds), base + 1)?;
    report(samples, start.elapsed(), errors);
    Ok(())
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn lease_load(store: &str, clients: usize, seconds: u64) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    if let Some(path) = store.strip_prefix("sqlite-direct:") {
        // The store creates the schema (and WAL mode); then it is dropped.
        rt.block_on(blindcast_lease_sqlite::SqliteLeaseStore::open(path))
            .map_err(|e| e.to_string())?;
        return sqlite_direct(path, clients, seconds);
    }
    rt.block_on(async {
        let (store, max_leases_per_viewer): (Arc<dyn LeaseStore>, u32) =
            if let Some(path) = store.strip_prefix("sqlite:") {
                let s = blindcast_lease_sqlite::SqliteLeaseStore::open(path)
                    .await
                    .map_err(|e| e.to_string())?;
                (Arc::new(s), 3)
            } else if store.starts_with("postgres://") || store.starts_with("postgresql://") {
                let config = blindcast_lease_postgres::PostgresConfig::default()
                    .with_table_prefix("bench_pg_");
                let s = blindcast_lease_postgres::PostgresLeaseStore::connect_with(store, config)
                    .await
                    .map_err(|e| e.to_string())?;
                // The limit of lease_create.sql.
                (Arc::new(s), 1_000_000)
            } else {
                return Err(format!("unknown store {store}"));
            };
        store_load(store, clients, seconds, max_leases_per_viewer).await;
        Ok(())
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["mint", alg, key, sub, ttl] => match ttl.parse() {
            Ok(ttl) => mint(alg, key, sub, ttl).map(|t| println!("{t}")),
            Err(_) => return usage(),
        },
        ["lease-load", store, clients, seconds] => match (clients.parse(), seconds.parse()) {
            (Ok(c), Ok(s)) if c > 0 => lease_load(store, c, s),
            _ => return usage(),
        },
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-tool: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Security suite, lease over-admission with real servers: 100 simultaneous creates for
//! one viewer with a limit of 2, for 100 rounds, through 4 `blindcast-keys serve`
//! processes sharing one PostgreSQL database and through 2 processes sharing one SQLite
//! file. Prints the most active leases ever seen (must equal the limit).
#![allow(clippy::unwrap_used)]

mod common;
use common::server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use server::{Server, bounded, client, start, token};

const ROUNDS: usize = 100;
const CLIENTS: usize = 100;
const LIMIT: u64 = 2;

/// Both tests load the machine: run them one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn race(name: &str, servers: &[Server]) {
    let http = client(Duration::from_secs(30));
    let started = Instant::now();
    let mut max_active = 0u64;
    let mut statuses = BTreeMap::<u16, usize>::new();
    for round in 0..ROUNDS {
        // A distinct viewer per round, so rounds never see each other's leases.
        let viewer = blindcast_lease_testkit::unique_name("race");
        let t = token(&viewer);
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let url = format!("{}/keys/leases", servers[i % servers.len()].base);
                let (http, t) = (http.clone(), t.clone());
                tokio::spawn(async move {
                    let r = http
                        .post(url)
                        .bearer_auth(t)
                        .header("content-type", "application/json")
                        .body(format!(r#"{{"contentId":"movie-{i}"}}"#))
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let body: serde_json::Value = r.json().await.unwrap();
                    (status, body["active"].as_u64())
                })
            })
            .collect();
        let mut created = 0u64;
        for task in tasks {
            let (status, active) = task.await.unwrap();
            *statuses.entry(status).or_default() += 1;
            match status {
                201 => created += 1,
                409 => max_active = max_active.max(active.unwrap_or(0)),
                other => panic!("{name} round {round}: status {other}"),
            }
        }
        max_active = max_active.max(created);
        assert_eq!(
            created, LIMIT,
            "{name} round {round}: {created} leases created with a limit of {LIMIT}"
        );
    }
    println!(
        "FIGURE over-admission {name}: max active leases {max_active} of {LIMIT} over \
         {ROUNDS} rounds x {CLIENTS} simultaneous creates x {} processes ({:.1} s); statuses {statuses:?}",
        servers.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(max_active, LIMIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_sharing_postgres_never_over_admit() {
    let _serial = SERIAL.lock().await;
    let url = blindcast_lease_testkit::postgres_url();
    let servers: Vec<Server> = (0..4)
        .map(|_| {
            start(&[
                ("LEASE_STORE", &url),
                ("MAX_LEASES_PER_VIEWER", "2"),
                ("LOG_LEVEL", server::QUIET),
            ])
        })
        .collect();
    bounded(
        Duration::from_secs(240),
        "postgres race",
        race("PostgreSQL", &servers),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_sqlite_never_over_admit() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("leases.db").display());
    let servers: Vec<Server> = (0..2)
        .map(|_| {
            start(&[
                ("LEASE_STORE", &store),
                ("MAX_LEASES_PER_VIEWER", "2"),
                ("LOG_LEVEL", server::QUIET),
            ])
        })
        .collect();
    bounded(
        Duration::from_secs(240),
        "sqlite race",
        race("SQLite", &servers),
    )
    .await;
}

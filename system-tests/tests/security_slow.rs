//! Security suite, slow clients and floods against the real server: slowloris headers and
//! trickled bodies are cut off by HEADER_READ_TIMEOUT / REQUEST_TIMEOUT while a normal
//! client keeps being served; a connection flood stays within MAX_CONNECTIONS. Each test
//! prints its figure for SECURITY.md.
#![allow(clippy::unwrap_used)]

mod common;
use common::server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use server::{bounded, client, start, token};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sends `head` then one byte of `drip` every `every`, until the server answers or closes.
/// Returns how long the server let it hang on, and the status it sent (0: none).
async fn drip(addr: String, head: Vec<u8>, drip: Vec<u8>, every: Duration) -> (Duration, u16) {
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&head).await.unwrap();
    let mut buf = [0u8; 1024];
    for byte in drip.iter().cycle() {
        tokio::select! {
            read = s.read(&mut buf) => {
                let status = match read {
                    Ok(n) if n > 0 => String::from_utf8_lossy(&buf[..n])
                        .split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    _ => 0,
                };
                return (started.elapsed(), status);
            }
            () = tokio::time::sleep(every) => {
                if s.write_all(&[*byte]).await.is_err() {
                    return (started.elapsed(), 0);
                }
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never cut off");
    }
    unreachable!()
}

/// A normal viewer fetching a key every 50 ms until `stop`: (requests, failures, slowest).
async fn normal_client(base: String, stop: Arc<AtomicBool>) -> (usize, usize, Duration) {
    let http = client(Duration::from_secs(10));
    let t = token("normal");
    // With a lease store, keys need a lease; without one the header is ignored.
    let lease: serde_json::Value = match http
        .post(format!("{base}/keys/leases"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(r#"{"contentId":"movie-1"}"#)
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    };
    let lease = lease["leaseId"].as_str().unwrap_or("none").to_owned();
    let (mut n, mut failed, mut slowest) = (0, 0, Duration::ZERO);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let ok = http
            .get(format!("{base}/keys/movie-1"))
            .bearer_auth(&t)
            .header("x-blindcast-lease", &lease)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        slowest = slowest.max(started.elapsed());
        n += 1;
        if !ok {
            failed += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (n, failed, slowest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_without_starving_others() {
    let _serial = SERIAL.lock().await;
    let srv = start(&[
        ("LEASE_STORE", "memory"),
        ("HEADER_READ_TIMEOUT", "1s"),
        ("REQUEST_TIMEOUT", "2s"),
        ("MAX_CONNECTIONS", "256"),
        ("LOG_LEVEL", server::QUIET),
    ]);
    bounded(Duration::from_secs(60), "slow clients", async {
        let stop = Arc::new(AtomicBool::new(false));
        let normal = tokio::spawn(normal_client(srv.base.clone(), stop.clone()));
        let t = token("slow");
        let mut slow = Vec::new();
        // Slowloris: a request line, then one header byte every 200 ms, never finishing.
        for _ in 0..40 {
            slow.push(("headers", tokio::spawn(drip(
                srv.addr.clone(),
                b"GET /keys/movie-1 HTTP/1.1\r\nhost: x\r\n".to_vec(),
                b"x-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".to_vec(),
                Duration::from_millis(200),
            ))));
        }
        // Trickled body: complete headers, then 1 byte of a 100-byte body every 200 ms.
        for _ in 0..20 {
            let head = format!(
                "POST /keys/leases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {t}\r\n\
                 content-type: application/json\r\ncontent-length: 100\r\n\r\n"
            );
            slow.push(("body", tokio::spawn(drip(
                srv.addr.clone(),
                head.into_bytes(),
                b"{\"contentId\":\"movie-1\"".to_vec(),
                Duration::from_millis(200),
            ))));
        }
        let (mut worst_headers, mut worst_body) = (Duration::ZERO, Duration::ZERO);
        let mut body_statuses = std::collections::BTreeMap::<u16, usize>::new();
        for (kind, task) in slow {
            let (held, status) = task.await.unwrap();
            if kind == "headers" {
                worst_headers = worst_headers.max(held);
            } else {
                worst_body = worst_body.max(held);
                *body_statuses.entry(status).or_default() += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let (n, failed, slowest) = normal.await.unwrap();
        println!(
            "FIGURE slow clients: 40 slowloris connections cut off after at most {:.2} s \
             (HEADER_READ_TIMEOUT 1 s), 20 trickled bodies after at most {:.2} s (REQUEST_TIMEOUT 2 s, \
             statuses {body_statuses:?}); meanwhile a normal client got {} of {n} keys, slowest {:.0} ms",
            worst_headers.as_secs_f64(),
            worst_body.as_secs_f64(),
            n - failed,
            slowest.as_secs_f64() * 1000.0
        );
        assert!(worst_headers <= Duration::from_millis(2500), "{worst_headers:?}");
        assert!(worst_body <= Duration::from_millis(3500), "{worst_body:?}");
        // Every trickled body gets an answer, and it is 408 (not a silent close).
        assert_eq!(body_statuses.get(&408), Some(&20), "{body_statuses:?}");
        assert_eq!(failed, 0);
        // Headroom for a loaded 2-core machine: a starved client waits for seconds, a
        // served one for milliseconds.
        assert!(slowest < Duration::from_secs(5), "{slowest:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_stays_within_max_connections() {
    let _serial = SERIAL.lock().await;
    const CAP: usize = 32;
    const FLOOD: usize = 300;
    let srv = start(&[
        ("HEADER_READ_TIMEOUT", "1s"),
        ("MAX_CONNECTIONS", "32"),
        ("LOG_LEVEL", server::QUIET),
    ]);
    bounded(Duration::from_secs(60), "flood", async {
        let baseline = srv.open_sockets();
        let rss_before = srv.proc_status_kb("VmRSS");
        // Idle connections that never send a byte, held open by the attacker.
        let mut flood = Vec::new();
        for _ in 0..FLOOD {
            if let Ok(s) = TcpStream::connect(&srv.addr).await {
                flood.push(s);
            }
        }
        let started = Instant::now();
        let http = client(Duration::from_secs(30));
        let t = token("normal");
        let request = tokio::spawn({
            let (http, base) = (http.clone(), srv.base.clone());
            async move {
                let started = Instant::now();
                let ok = http
                    .get(format!("{base}/keys/movie-1"))
                    .bearer_auth(&t)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                (ok, started.elapsed())
            }
        });
        let mut peak = 0;
        while !request.is_finished() {
            peak = peak.max(srv.open_sockets().saturating_sub(baseline));
            assert!(started.elapsed() < Duration::from_secs(30));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (ok, waited) = request.await.unwrap();
        let rss_after = srv.proc_status_kb("VmRSS");
        drop(flood);
        println!(
            "FIGURE connection flood: {FLOOD} idle connections, server held at most {peak} at once \
             (MAX_CONNECTIONS {CAP}); RSS {rss_before} -> {rss_after} kB; a normal client was served \
             after {:.2} s (idle connections are dropped by HEADER_READ_TIMEOUT 1 s)",
            waited.as_secs_f64()
        );
        assert!(ok, "the normal client was not served");
        assert!(peak <= CAP + 1, "{peak} connections held");
        // Idle connections beyond the cap cost the server nothing: its RSS stays put.
        let grown_mib = rss_after.saturating_sub(rss_before) as f64 / 1024.0;
        assert!(grown_mib < 16.0, "RSS grew {grown_mib:.1} MiB under the flood");
        assert!(waited < Duration::from_secs(20));
    })
    .await;
}

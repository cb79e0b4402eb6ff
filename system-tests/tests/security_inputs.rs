//! Security suite, input attacks over raw TCP against the real server: malformed paths,
//! request lines, headers and framing, and another viewer's lease id, all get 4xx (never
//! 5xx, never a dropped connection) and change nothing (the victim's lease still works,
//! lease counts are unchanged). The same attacks on the router in process are keys-axum's
//! `security_inputs`. The test prints its figure for SECURITY.md.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::hostile_inputs::{Tally, bad_paths, short};
use common::server;

const ALLOWED: &str = "https://app.example.org";

/// Raw requests the HTTP layer answers by closing the connection, by design. Any other
/// case closed without an answer fails the test.
const EXPECTED_TO_CLOSE: &[&str] = &[];

/// Writes raw bytes to the server and returns the status (0: closed without one).
async fn raw(addr: &str, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&got)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_http_against_the_real_server() {
    server::bounded(Duration::from_secs(60), "raw HTTP", async {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite:{}", dir.path().join("leases.db").display());
        let srv = server::start(&[
            ("LEASE_STORE", &db),
            ("MAX_LEASES_PER_VIEWER", "2"),
            ("CORS_ORIGINS", ALLOWED),
        ]);
        let http = server::client(Duration::from_secs(10));
        let victim = server::token("victim");
        let attacker = server::token("attacker");
        let created = http
            .post(format!("{}/keys/leases", srv.base))
            .bearer_auth(&victim)
            .header("content-type", "application/json")
            .body(r#"{"contentId":"movie-1"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let lease: serde_json::Value = created.json().await.unwrap();
        let lease = lease["leaseId"].as_str().unwrap().to_owned();

        let mut requests: Vec<(String, Vec<u8>)> = Vec::new();
        let auth = format!("authorization: Bearer {attacker}\r\nx-blindcast-lease: {lease}\r\n");
        for path in bad_paths() {
            requests.push((
                format!("GET {}", short(&path)),
                format!("GET {path} HTTP/1.1\r\nhost: x\r\n{auth}connection: close\r\n\r\n").into_bytes(),
            ));
        }
        // What the HTTP layer must refuse before the router: raw NUL, CR, spaces and
        // non-ASCII bytes in the path, an overlong request line, bad versions, bad
        // framing, an oversized chunked body.
        let raw_cases: Vec<(&str, Vec<u8>)> = vec![
            ("raw NUL in path", b"GET /keys/a\x00b HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
            ("raw UTF-8 in path", "GET /keys/mövie HTTP/1.1\r\nhost: x\r\n\r\n".as_bytes().to_vec()),
            ("raw 0xFF in path", b"GET /keys/a\xffb HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
            ("space in path", b"GET /keys/a b HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
            ("backslash traversal", b"GET /keys/..\\..\\etc HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
            ("absolute-form elsewhere", b"GET http://evil.example/keys/movie-1 HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
            ("100 KB URI", format!("GET /keys/{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(100_000)).into_bytes()),
            ("HTTP/2.0 line", b"GET /keys/movie-1 HTTP/2.0\r\nhost: x\r\n\r\n".to_vec()),
            ("HTTP/9", b"GET /keys/movie-1 HTTP/9.9\r\nhost: x\r\n\r\n".to_vec()),
            ("no version", b"GET /keys/movie-1\r\n\r\n".to_vec()),
            ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n".to_vec()),
            ("header without colon", b"GET /keys/movie-1 HTTP/1.1\r\nhost x\r\n\r\n".to_vec()),
            ("header with NUL", b"GET /keys/movie-1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer a\x00b\r\n\r\n".to_vec()),
            ("obsolete line folding", b"GET /keys/movie-1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer\r\n x\r\n\r\n".to_vec()),
            ("500 headers", {
                let mut r = b"GET /keys/movie-1 HTTP/1.1\r\nhost: x\r\n".to_vec();
                for i in 0..500 {
                    r.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
                }
                r.extend_from_slice(b"\r\n");
                r
            }),
            ("content-length and chunked", format!("POST /keys/leases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {attacker}\r\ncontent-type: application/json\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n").into_bytes()),
            ("two content-lengths", format!("POST /keys/leases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {attacker}\r\ncontent-type: application/json\r\ncontent-length: 5\r\ncontent-length: 23\r\n\r\n{{\"contentId\":\"movie-2\"}}").into_bytes()),
            ("bad chunk size", format!("POST /keys/leases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {attacker}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n").into_bytes()),
            ("oversized chunked body", {
                let mut r = format!("POST /keys/leases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {attacker}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").into_bytes();
                for _ in 0..64 {
                    r.extend_from_slice(format!("400\r\n{}\r\n", "x".repeat(1024)).as_bytes());
                }
                r.extend_from_slice(b"0\r\n\r\n");
                r
            }),
            ("negative content-length", format!("POST /keys/leases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {attacker}\r\ncontent-type: application/json\r\ncontent-length: -1\r\n\r\n").into_bytes()),
            ("renew the victim's lease", format!("POST /keys/leases/renew HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {attacker}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{{\"leaseId\":\"{lease}\"}}", lease.len() + 14).into_bytes()),
        ];
        for (name, bytes) in raw_cases {
            requests.push((name.to_owned(), bytes));
        }
        let mut tally = Tally::new();
        // A connection closed without an answer is a failure (a panicking handler looks
        // exactly like that), except for the named cases below where the HTTP layer
        // closes on purpose: the closed set must be exactly these.
        let mut closed: Vec<&str> = Vec::new();
        for (name, bytes) in &requests {
            let status = raw(&srv.addr, bytes).await;
            if status == 0 {
                closed.push(name);
                continue;
            }
            tally.record(name, status);
        }
        assert_eq!(
            closed, EXPECTED_TO_CLOSE,
            "connections closed without an answer (only the named ones may)"
        );
        let closed = closed.len();
        assert!(srv.output.text().contains("listening"));
        // No state change: the victim's lease works, the attacker holds nothing.
        let key = http
            .get(format!("{}/keys/movie-1", srv.base))
            .bearer_auth(&victim)
            .header("x-blindcast-lease", &lease)
            .send()
            .await
            .unwrap();
        assert_eq!(key.status(), 200);
        for expected in [201, 201, 409] {
            let r = http
                .post(format!("{}/keys/leases", srv.base))
                .bearer_auth(&attacker)
                .header("content-type", "application/json")
                .body(r#"{"contentId":"movie-2"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), expected);
        }
        println!(
            "FIGURE input attacks (real server, raw TCP): {} of {} requests outside 4xx, {} 5xx, \
             {closed} closed without an answer; statuses {:?}; victim's lease intact",
            tally.bad.len(),
            requests.len(),
            tally.fivexx(),
            tally.statuses
        );
        assert!(tally.bad.is_empty(), "{:#?}", tally.bad);
        assert_eq!(requests.len(), 75, "update SECURITY.md");
    })
    .await;
}

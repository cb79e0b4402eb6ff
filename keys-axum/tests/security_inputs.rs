//! Security suite, CORS and input attacks: hostile origins are never echoed; malformed
//! content ids, epochs, bodies, content types, headers and other viewers' lease ids all
//! get 4xx, never 5xx, and change nothing (the victim's lease still works, lease counts
//! are unchanged). In process through the router, then over raw TCP against the real
//! server. Each test prints its figure for SECURITY.md.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use blindcast_keys_axum::{CorsConfig, JwtAuthenticator, KeyServer, RouterConfig};
use blindcast_keys_core::lease::MemoryLeaseStore;
use common::*;
use http::Request;

const ALLOWED: &str = "https://app.example.org";

fn router(store: Arc<MemoryLeaseStore>) -> axum::Router {
    let auth = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap();
    let cors = CorsConfig::parse(&format!("{ALLOWED}, http://localhost:3000"))
        .unwrap()
        .allow_credentials(true)
        .unwrap();
    KeyServer::new(deriver(), auth)
        .lease_store(store)
        .cors(cors)
        .config(
            RouterConfig::builder()
                .max_leases_per_viewer(2)
                .build()
                .unwrap(),
        )
        .router()
}

#[tokio::test]
async fn hostile_origins_are_never_echoed() {
    let r = router(Arc::new(MemoryLeaseStore::new()));
    let origins = [
        "https://evil.example",
        "null",
        "https://app.example.org.evil.com",
        "https://app.example.orgevil.com",
        "https://evil.app.example.org",
        "https://evilapp.example.org",
        "http://app.example.org",
        "https://app.example.org:8443",
        "https://app.example.org/",
        "https://app.example.org/path",
        "https://app.example.or",
        "https://app.example.org.",
        "ftp://app.example.org",
        "https://app.example.org, https://evil.example",
        "https://app.example.org https://evil.example",
        "*",
        "file://",
        "http://localhost:3001",
        "http://localhost",
        "https://localhost:3000",
        "http://127.0.0.1:3000",
        "",
    ];
    let t = token("v");
    let (mut sent, mut echoed) = (0, Vec::new());
    for origin in origins {
        let requests = [
            Request::options("/keys/movie-1")
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization")
                .body(Body::empty())
                .unwrap(),
            Request::options("/keys/leases")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                )
                .body(Body::empty())
                .unwrap(),
            Request::get("/keys/movie-1")
                .header("origin", origin)
                .header("authorization", format!("Bearer {t}"))
                .body(Body::empty())
                .unwrap(),
            Request::get("/keys/bad..id%00")
                .header("origin", origin)
                .body(Body::empty())
                .unwrap(),
        ];
        for request in requests {
            let reply = send(&r, request).await;
            sent += 1;
            assert!(reply.status < 500, "{origin}: {}", reply.status);
            let acao = reply.header("access-control-allow-origin");
            if acao.is_some_and(|v| v == origin || v == "*" || v.contains("evil")) {
                echoed.push(format!("{origin}: {acao:?}"));
            }
            if acao.is_none() {
                assert!(
                    reply.header("access-control-allow-credentials").is_none(),
                    "{origin}: credentials without an origin"
                );
            }
        }
    }
    // Control: the allowed origin is echoed, so the check above is not vacuous.
    let ok = send(
        &r,
        Request::get("/keys/movie-1")
            .header("origin", ALLOWED)
            .header("authorization", format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(ok.header("access-control-allow-origin"), Some(ALLOWED));
    println!(
        "FIGURE CORS: {} of {sent} requests from {} hostile origins got their origin echoed \
         (preflight GET, preflight POST, actual GET, error response)",
        echoed.len(),
        origins.len()
    );
    assert!(echoed.is_empty(), "{echoed:#?}");
    // The counts SECURITY.md quotes: a change to the lists must update the document.
    assert_eq!((sent, origins.len()), (88, 22), "update SECURITY.md");
}

struct Tally {
    sent: usize,
    statuses: BTreeMap<u16, usize>,
    bad: Vec<String>,
}

impl Tally {
    fn new() -> Self {
        Self {
            sent: 0,
            statuses: BTreeMap::new(),
            bad: Vec::new(),
        }
    }
    fn record(&mut self, what: &str, status: u16) {
        self.sent += 1;
        *self.statuses.entry(status).or_default() += 1;
        if !(400..500).contains(&status) {
            self.bad.push(format!("{what}: {status}"));
        }
    }
    fn fivexx(&self) -> usize {
        self.statuses.range(500..).map(|(_, n)| n).sum()
    }
}

fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).unwrap()
}

/// Content ids and epochs that must be refused (4xx) on the key routes.
fn bad_paths() -> Vec<String> {
    let mut ids: Vec<String> = [
        "..",
        ".",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "%2E%2E%2F",
        "%2e",
        ".hidden",
        "a%2Fb",
        "%2F",
        "%5C",
        "a%5Cb",
        "..%5C..%5C",
        "%00",
        "a%00b",
        "%0d%0aX-Injected:%201",
        "%C3%A9",
        "m%C3%A9",
        "%F0%9F%8E%AC",
        "%FF",
        "%C0%AE%C0%AE",
        "%E2%80%AE",
        "a%20b",
        "%20",
        "a%09b",
        "movie-1%3B",
        "movie-1%27%20OR%201=1",
        "%25",
        "%25%32%65",
    ]
    .iter()
    .map(|s| format!("/keys/{s}"))
    .collect();
    ids.push(format!("/keys/{}", "a".repeat(129)));
    ids.push(format!("/keys/{}", "a".repeat(10_000)));
    ids.push(format!("/keys/{}", "%2e".repeat(1000)));
    for epoch in [
        "-1",
        "01",
        "00",
        "+1",
        "1e3",
        "0x10",
        "1.0",
        "18446744073709551616",
        "99999999999999999999999",
        "%201",
        "1%20",
        "%2e%2e",
        "..",
        "%00",
        "1%00",
        "%D9%A1",
        "%EF%BC%91",
        "",
        "NaN",
        "%FF",
    ] {
        ids.push(format!("/keys/movie-1/{epoch}"));
    }
    ids.push(format!("/keys/movie-1/{}", "9".repeat(5000)));
    ids.push("/keys/movie-1/1/2".into());
    ids.push("/keys/..%2F/1".into());
    ids
}

#[tokio::test]
async fn malformed_input_is_4xx_and_changes_nothing() {
    let store = Arc::new(MemoryLeaseStore::new());
    let r = router(Arc::clone(&store));
    let (victim, attacker) = (token("victim"), token("attacker"));
    // The victim holds one lease (of 2 allowed); it must survive everything below.
    let created = send(
        &r,
        post_json("/keys/leases", Some(&victim), r#"{"contentId":"movie-1"}"#),
    )
    .await;
    assert_eq!(created.status, 201);
    let lease = created.json()["leaseId"].as_str().unwrap().to_owned();
    let key_ok = || {
        req(
            "GET",
            "/keys/movie-1",
            &[
                ("authorization", &format!("Bearer {victim}")),
                ("x-blindcast-lease", &lease),
            ],
            vec![],
        )
    };
    let before = send(&r, key_ok()).await;
    assert_eq!(before.status, 200);

    let mut tally = Tally::new();
    let bearer = format!("Bearer {attacker}");
    let victim_bearer = format!("Bearer {victim}");
    // 1. Malformed ids and epochs, with and without a valid lease, by both viewers.
    for path in bad_paths() {
        for (who, b) in [("attacker", &bearer), ("victim", &victim_bearer)] {
            for method in ["GET", "HEAD"] {
                let reply = send(
                    &r,
                    req(
                        method,
                        &path,
                        &[("authorization", b), ("x-blindcast-lease", &lease)],
                        vec![],
                    ),
                )
                .await;
                tally.record(&format!("{method} {path:.80} as {who}"), reply.status);
            }
        }
    }
    // 2. Lease bodies: malformed JSON, wrong shapes, oversized, wrong content types.
    let mut deep = "[".repeat(100_000);
    deep.push_str(&"]".repeat(100_000));
    let bodies: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("not JSON".into(), b"contentId=movie-2".to_vec()),
        ("truncated".into(), br#"{"contentId":"movie-2""#.to_vec()),
        ("empty object".into(), b"{}".to_vec()),
        ("null id".into(), br#"{"contentId":null}"#.to_vec()),
        ("numeric id".into(), br#"{"contentId":7}"#.to_vec()),
        ("array".into(), br#"["movie-2"]"#.to_vec()),
        (
            "traversal id".into(),
            br#"{"contentId":"../movie-2"}"#.to_vec(),
        ),
        (
            "NUL id".into(),
            b"{\"contentId\":\"movie\\u0000-2\"}".to_vec(),
        ),
        (
            "unicode id".into(),
            r#"{"contentId":"mövie"}"#.as_bytes().to_vec(),
        ),
        (
            "overlong id".into(),
            format!(r#"{{"contentId":"{}"}}"#, "a".repeat(129)).into_bytes(),
        ),
        (
            "duplicate field".into(),
            br#"{"contentId":"movie-2","contentId":"movie-3"}"#.to_vec(),
        ),
        (
            "invalid UTF-8".into(),
            b"{\"contentId\":\"\xff\xfe\"}".to_vec(),
        ),
        (
            "BOM".into(),
            b"\xef\xbb\xbf{\"contentId\":\"movie-2\"}".to_vec(),
        ),
        ("deeply nested".into(), deep.into_bytes()),
        (
            "over the body limit".into(),
            format!(r#"{{"contentId":"movie-2","pad":"{}"}}"#, "x".repeat(5000)).into_bytes(),
        ),
        ("1 MiB".into(), vec![b' '; 1 << 20]),
    ];
    for (name, body) in &bodies {
        for uri in ["/keys/leases", "/keys/leases/renew"] {
            let reply = send(
                &r,
                req(
                    "POST",
                    uri,
                    &[
                        ("authorization", &bearer),
                        ("content-type", "application/json"),
                    ],
                    body.clone(),
                ),
            )
            .await;
            tally.record(&format!("POST {uri} body {name}"), reply.status);
        }
    }
    // Right JSON, wrong content types.
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonx"),
        Some("application/json-patch+json"),
        Some("text/json"),
        Some(""),
    ] {
        let mut headers = vec![("authorization", bearer.as_str())];
        if let Some(ct) = ct {
            headers.push(("content-type", ct));
        }
        let reply = send(
            &r,
            req(
                "POST",
                "/keys/leases",
                &headers,
                br#"{"contentId":"movie-2"}"#.to_vec(),
            ),
        )
        .await;
        tally.record(&format!("content type {ct:?}"), reply.status);
    }
    // A declared length far over the limit, and a lying one.
    for len in ["10000000", "18446744073709551615"] {
        let reply = send(
            &r,
            req(
                "POST",
                "/keys/leases",
                &[
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                    ("content-length", len),
                ],
                br#"{"contentId":"movie-2"}"#.to_vec(),
            ),
        )
        .await;
        tally.record(&format!("content-length {len}"), reply.status);
    }
    // Malformed Idempotency-Key and lease headers.
    let long_key = "k".repeat(256);
    for key in [long_key.as_str(), "", "a b\u{7f}"] {
        let Ok(value) = http::HeaderValue::from_str(key) else {
            continue;
        };
        let mut request = post_json(
            "/keys/leases",
            Some(&attacker),
            r#"{"contentId":"movie-2"}"#,
        );
        request.headers_mut().insert("idempotency-key", value);
        tally.record(
            &format!("idempotency key {key:.20}"),
            send(&r, request).await.status,
        );
    }
    for bad_lease in [
        "",
        "x",
        "../../etc",
        "' OR 1=1 --",
        &"a".repeat(10_000),
        &format!("{lease}x"),
    ] {
        let reply = send(
            &r,
            req(
                "GET",
                "/keys/movie-1",
                &[
                    ("authorization", &victim_bearer),
                    ("x-blindcast-lease", bad_lease),
                ],
                vec![],
            ),
        )
        .await;
        tally.record(&format!("lease header {bad_lease:.20}"), reply.status);
        let reply = send(
            &r,
            req(
                "GET",
                &format!(
                    "/keys/movie-1?lease={}",
                    bad_lease.replace(' ', "%20").replace('\'', "%27")
                ),
                &[("authorization", &victim_bearer)],
                vec![],
            ),
        )
        .await;
        tally.record(&format!("lease query {bad_lease:.20}"), reply.status);
    }
    // 3. The victim's lease id in the attacker's hands: key, renew, wrong content.
    for (what, request) in [
        (
            "key with the victim's lease",
            req(
                "GET",
                "/keys/movie-1",
                &[("authorization", &bearer), ("x-blindcast-lease", &lease)],
                vec![],
            ),
        ),
        (
            "key with the victim's lease in the query",
            req(
                "GET",
                &format!("/keys/movie-1?lease={lease}"),
                &[("authorization", &bearer)],
                vec![],
            ),
        ),
        (
            "epoch key with the victim's lease",
            req(
                "GET",
                "/keys/movie-1/7",
                &[("authorization", &bearer), ("x-blindcast-lease", &lease)],
                vec![],
            ),
        ),
        (
            "renew the victim's lease",
            post_json(
                "/keys/leases/renew",
                Some(&attacker),
                &format!(r#"{{"leaseId":"{lease}"}}"#),
            ),
        ),
        (
            "victim's lease for other content",
            req(
                "GET",
                "/keys/movie-2",
                &[
                    ("authorization", &victim_bearer),
                    ("x-blindcast-lease", &lease),
                ],
                vec![],
            ),
        ),
        (
            "no token, victim's lease",
            req(
                "GET",
                "/keys/movie-1",
                &[("x-blindcast-lease", &lease)],
                vec![],
            ),
        ),
    ] {
        tally.record(what, send(&r, request).await.status);
    }
    // DELETE is idempotent by design: 204 whether or not the lease is the caller's, so the
    // answer reveals nothing. Counted apart; the lease must survive it.
    let deleted = send(
        &r,
        req(
            "DELETE",
            &format!("/keys/leases/{lease}"),
            &[("authorization", &bearer)],
            vec![],
        ),
    )
    .await;
    assert_eq!(deleted.status, 204, "DELETE of another viewer's lease");
    // 4. Methods the routes do not have.
    for (method, uri) in [
        ("PUT", "/keys/movie-1"),
        ("PATCH", "/keys/leases"),
        ("DELETE", "/keys/movie-1/1"),
        ("TRACE", "/keys/movie-1"),
        ("POST", "/keys/movie-1"),
        ("CONNECT", "/keys/movie-1"),
    ] {
        let reply = send(&r, req(method, uri, &[("authorization", &bearer)], vec![])).await;
        tally.record(&format!("{method} {uri}"), reply.status);
    }

    assert!(tally.bad.is_empty(), "{:#?}", tally.bad);
    // No state change: the victim's lease still serves the same key, the victim still
    // has exactly one lease (one more fits, then 409), the attacker has none (two fit).
    let after = send(&r, key_ok()).await;
    assert_eq!(after.status, 200, "the victim's lease stopped working");
    assert_eq!(after.body, before.body);
    let renewed = send(
        &r,
        post_json(
            "/keys/leases/renew",
            Some(&victim),
            &format!(r#"{{"leaseId":"{lease}"}}"#),
        ),
    )
    .await;
    assert_eq!(renewed.status, 200);
    let create = |t: &str| {
        send(
            &r,
            post_json("/keys/leases", Some(t), r#"{"contentId":"movie-2"}"#),
        )
    };
    assert_eq!(create(&victim).await.status, 201);
    assert_eq!(
        create(&victim).await.status,
        409,
        "the victim gained a lease"
    );
    assert_eq!(
        create(&attacker).await.status,
        201,
        "the attacker got a lease"
    );
    assert_eq!(
        create(&attacker).await.status,
        201,
        "the attacker got a lease"
    );
    assert_eq!(create(&attacker).await.status, 409);

    println!(
        "FIGURE input attacks (router): {} of {} malformed requests outside 4xx, {} 5xx; \
         statuses {:?}; victim's lease intact, lease counts unchanged; \
         DELETE of the victim's lease by another viewer: {} (idempotent), lease kept",
        tally.bad.len(),
        tally.sent,
        tally.fivexx(),
        tally.statuses,
        deleted.status
    );
    assert!(tally.bad.is_empty(), "{:#?}", tally.bad);
    assert_eq!(tally.sent, 286, "update SECURITY.md");
}

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
                format!("GET {path:.60}"),
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

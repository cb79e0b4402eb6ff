//! Security suite, CORS and input attacks on the router in process: hostile origins are
//! never echoed; malformed content ids, epochs, bodies, content types, headers and other
//! viewers' lease ids all get 4xx, never 5xx, and change nothing (the victim's lease still
//! works, lease counts are unchanged). The same attacks over raw TCP against the real
//! server are the system tests' `security_inputs`. Each test prints its figure for
//! SECURITY.md.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use blindcast_keys_axum::{CorsConfig, JwtAuthenticator, KeyServer, RouterConfig};
use blindcast_keys_core::lease::MemoryLeaseStore;
use common::hostile_inputs::{Tally, bad_paths, short};
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

fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).unwrap()
}

/// Every malformed request of `malformed_input_is_4xx_and_changes_nothing`, named: `victim`
/// holds `lease`; `attacker` holds nothing. Each must get 4xx and change nothing.
fn malformed_requests(victim: &str, attacker: &str, lease: &str) -> Vec<(String, Request<Body>)> {
    let bearer = format!("Bearer {attacker}");
    let victim_bearer = format!("Bearer {victim}");
    let mut cases: Vec<(String, Request<Body>)> = Vec::new();
    // 1. Malformed ids and epochs, with and without a valid lease, by both viewers.
    for path in bad_paths() {
        for (who, b) in [("attacker", &bearer), ("victim", &victim_bearer)] {
            for method in ["GET", "HEAD"] {
                cases.push((
                    format!("{method} {} as {who}", short(&path)),
                    req(
                        method,
                        &path,
                        &[("authorization", b), ("x-blindcast-lease", lease)],
                        vec![],
                    ),
                ));
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
            cases.push((
                format!("POST {uri} body {name}"),
                req(
                    "POST",
                    uri,
                    &[
                        ("authorization", &bearer),
                        ("content-type", "application/json"),
                    ],
                    body.clone(),
                ),
            ));
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
        cases.push((
            format!("content type {ct:?}"),
            req(
                "POST",
                "/keys/leases",
                &headers,
                br#"{"contentId":"movie-2"}"#.to_vec(),
            ),
        ));
    }
    // A declared length far over the limit, and a lying one.
    for len in ["10000000", "18446744073709551615"] {
        cases.push((
            format!("content-length {len}"),
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
        ));
    }
    // Malformed Idempotency-Key headers (one the HTTP types cannot even hold).
    let long_key = "k".repeat(256);
    for key in [long_key.as_str(), "", "a b\u{7f}"] {
        let Ok(value) = http::HeaderValue::from_str(key) else {
            continue;
        };
        let mut request = post_json("/keys/leases", Some(attacker), r#"{"contentId":"movie-2"}"#);
        request.headers_mut().insert("idempotency-key", value);
        cases.push((format!("idempotency key {:?}", short(key)), request));
    }
    // Malformed lease ids, in the header and in the query.
    for bad_lease in [
        "",
        "x",
        "../../etc",
        "' OR 1=1 --",
        &"a".repeat(10_000),
        &format!("{lease}x"),
    ] {
        cases.push((
            format!("lease header {:?}", short(bad_lease)),
            req(
                "GET",
                "/keys/movie-1",
                &[
                    ("authorization", &victim_bearer),
                    ("x-blindcast-lease", bad_lease),
                ],
                vec![],
            ),
        ));
        cases.push((
            format!("lease query {:?}", short(bad_lease)),
            req(
                "GET",
                &format!(
                    "/keys/movie-1?lease={}",
                    bad_lease.replace(' ', "%20").replace('\'', "%27")
                ),
                &[("authorization", &victim_bearer)],
                vec![],
            ),
        ));
    }
    // 3. The victim's lease id in the attacker's hands: key, renew, wrong content.
    let theft = [
        (
            "key with the victim's lease",
            req(
                "GET",
                "/keys/movie-1",
                &[("authorization", &bearer), ("x-blindcast-lease", lease)],
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
                &[("authorization", &bearer), ("x-blindcast-lease", lease)],
                vec![],
            ),
        ),
        (
            "renew the victim's lease",
            post_json(
                "/keys/leases/renew",
                Some(attacker),
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
                    ("x-blindcast-lease", lease),
                ],
                vec![],
            ),
        ),
        (
            "no token, victim's lease",
            req(
                "GET",
                "/keys/movie-1",
                &[("x-blindcast-lease", lease)],
                vec![],
            ),
        ),
    ];
    cases.extend(theft.into_iter().map(|(what, r)| (what.to_owned(), r)));
    // 4. Methods the routes do not have.
    for (method, uri) in [
        ("PUT", "/keys/movie-1"),
        ("PATCH", "/keys/leases"),
        ("DELETE", "/keys/movie-1/1"),
        ("TRACE", "/keys/movie-1"),
        ("POST", "/keys/movie-1"),
        ("CONNECT", "/keys/movie-1"),
    ] {
        cases.push((
            format!("{method} {uri}"),
            req(method, uri, &[("authorization", &bearer)], vec![]),
        ));
    }
    cases
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

    let cases = malformed_requests(&victim, &attacker, &lease);
    let mut names = std::collections::BTreeSet::new();
    for (name, _) in &cases {
        assert!(names.insert(name.as_str()), "two cases named {name:?}");
    }
    // Every case is sent; a failure lists each case outside 4xx by name.
    let mut tally = Tally::new();
    for (name, request) in cases {
        tally.record(&name, send(&r, request).await.status);
    }
    assert!(tally.bad.is_empty(), "cases outside 4xx: {:#?}", tally.bad);
    // DELETE is idempotent by design: 204 whether or not the lease is the caller's, so the
    // answer reveals nothing. Counted apart; the lease must survive it.
    let deleted = send(
        &r,
        req(
            "DELETE",
            &format!("/keys/leases/{lease}"),
            &[("authorization", &format!("Bearer {attacker}"))],
            vec![],
        ),
    )
    .await;
    assert_eq!(deleted.status, 204, "DELETE of another viewer's lease");
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
    assert_eq!(tally.sent, 286, "update SECURITY.md");
}

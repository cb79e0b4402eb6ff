//! Who a viewer is. With one accepted issuer the viewer is the token's `sub`; with
//! several (or none checked) it is the (`iss`, `sub`) pair, so the same `sub` from two
//! issuers never shares a lease limit or a lease. Checked on the authenticator, on the
//! router in process, and on the real `blindcast-keys serve` binary over loopback HTTP.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/server.rs"]
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use blindcast_keys_axum::auth::{JwtAuthenticator, mint_hs256};
use blindcast_keys_axum::{KeyServer, RouterConfig};
use blindcast_keys_core::lease::MemoryLeaseStore;
use common::{SECRET, deriver, expected_key, get, post_json, send};
use http::Request;
use serde_json::{Value, json};

const ISS_A: &str = "https://a.example/";
const ISS_B: &str = "https://b.example/";
const CONTENT: &str = "movie-1";

fn mint(secret: &[u8], sub: &str, claims: &[(&str, Value)]) -> String {
    let extra = claims
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    mint_hs256(secret, sub, Duration::from_secs(3600), extra).unwrap()
}

fn token_from(iss: &str, sub: &str) -> String {
    mint(SECRET, sub, &[("iss", json!(iss))])
}

fn authenticator(issuers: &[&str]) -> JwtAuthenticator {
    let mut builder = JwtAuthenticator::builder().hs256_secret(SECRET);
    for issuer in issuers {
        builder = builder.issuer(*issuer);
    }
    builder.build().unwrap()
}

/// The viewer id the authenticator gives `token`, or the refusal's message.
async fn viewer_of(auth: &JwtAuthenticator, token: &str) -> Result<String, String> {
    auth.verify(token)
        .await
        .map(|p| p.viewer.as_str().to_owned())
        .map_err(|r| format!("{} {}", r.status().as_u16(), r.message()))
}

// ---------------------------------------------------------------------------------------
// The authenticator: how the viewer is derived.

#[tokio::test]
async fn one_issuer_keeps_the_bare_subject() {
    for auth in [
        authenticator(&[ISS_A]),
        // The same issuer twice is still one issuer.
        authenticator(&[ISS_A, ISS_A]),
    ] {
        assert_eq!(
            viewer_of(&auth, &token_from(ISS_A, "42")).await,
            Ok("42".into())
        );
        // A subject shaped like a pair is only a subject here.
        assert_eq!(
            viewer_of(&auth, &token_from(ISS_A, r#"["x","42"]"#)).await,
            Ok(r#"["x","42"]"#.into())
        );
        let other = viewer_of(&auth, &token_from(ISS_B, "42")).await;
        assert_eq!(other, Err("401 token issuer not accepted".into()));
    }
}

#[tokio::test]
async fn two_issuers_make_the_viewer_the_issuer_subject_pair() {
    let auth = authenticator(&[ISS_A, ISS_B]);
    let a = viewer_of(&auth, &token_from(ISS_A, "42")).await.unwrap();
    let b = viewer_of(&auth, &token_from(ISS_B, "42")).await.unwrap();
    assert_eq!(a, r#"["https://a.example/","42"]"#);
    assert_eq!(b, r#"["https://b.example/","42"]"#);
    // The issuer is required once issuers are configured.
    assert_eq!(
        viewer_of(&auth, &mint(SECRET, "42", &[])).await,
        Err("401 token lacks a required claim".into())
    );
}

#[tokio::test]
async fn without_an_issuer_check_the_issuer_or_null_is_part_of_the_viewer() {
    let auth = authenticator(&[]);
    let of = |claims: Vec<(&'static str, Value)>, sub: &'static str| {
        let auth = &auth;
        async move { viewer_of(auth, &mint(SECRET, sub, &claims)).await }
    };
    assert_eq!(
        of(vec![("iss", json!(ISS_A))], "42").await,
        Ok(r#"["https://a.example/","42"]"#.into())
    );
    assert_eq!(of(vec![], "42").await, Ok(r#"[null,"42"]"#.into()));
    assert_eq!(
        of(vec![("iss", Value::Null)], "42").await,
        Ok(r#"[null,"42"]"#.into())
    );
    // A subject that looks like an encoded pair is escaped, never taken for one.
    assert_eq!(
        of(vec![], r#"["https://a.example/","42"]"#).await,
        Ok(r#"[null,"[\"https://a.example/\",\"42\"]"]"#.into())
    );
    assert_eq!(
        of(vec![("iss", json!(7))], "42").await,
        Err("401 token issuer is not a string".into())
    );
}

#[tokio::test]
async fn subjects_over_255_and_issuers_over_512_bytes_are_invalid_tokens() {
    let sub_max = "s".repeat(255);
    let iss_max = "i".repeat(512);
    for (auth, iss) in [
        (authenticator(&[]), iss_max.as_str()),
        (authenticator(&[ISS_A]), ISS_A),
    ] {
        assert!(viewer_of(&auth, &token_from(iss, &sub_max)).await.is_ok());
        // mint_hs256 refuses such a subject, so sign the claims directly.
        let long_sub = raw_token(&json!({"sub": format!("{sub_max}s"), "iss": iss}));
        assert_eq!(
            viewer_of(&auth, &long_sub).await,
            Err("401 token subject is not a valid viewer id".into())
        );
    }
    let auth = authenticator(&[]);
    assert_eq!(
        viewer_of(&auth, &token_from(&format!("{iss_max}i"), "42")).await,
        Err("401 token issuer is too long or holds control characters".into())
    );
    assert_eq!(
        viewer_of(&auth, &token_from("a\u{1b}[31m", "42")).await,
        Err("401 token issuer is too long or holds control characters".into())
    );
}

/// An HS256 token of these exact claims (plus an hour of `exp`).
fn raw_token(claims: &Value) -> String {
    let mut claims = claims.clone();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    claims["exp"] = json!(exp);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// The router in process: limit, key fetch, renew and release across two issuers.

fn key_request(token: &str, lease: &str) -> Request<Body> {
    Request::get(format!("/keys/{CONTENT}"))
        .header("authorization", format!("Bearer {token}"))
        .header("x-blindcast-lease", lease)
        .body(Body::empty())
        .unwrap()
}

fn delete(token: &str, lease: &str) -> Request<Body> {
    Request::delete(format!("/keys/leases/{lease}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn same_sub_from_two_issuers_shares_no_lease_in_the_router() {
    let router = KeyServer::new(deriver(), authenticator(&[ISS_A, ISS_B]))
        .lease_store(Arc::new(MemoryLeaseStore::new()))
        .config(
            RouterConfig::builder()
                .max_leases_per_viewer(1)
                .build()
                .unwrap(),
        )
        .router();
    let (a, b) = (token_from(ISS_A, "42"), token_from(ISS_B, "42"));
    let body = format!(r#"{{"contentId":"{CONTENT}"}}"#);

    let created = send(&router, post_json("/keys/leases", Some(&a), &body)).await;
    assert_eq!(created.status, 201);
    let lease_a = created.json()["leaseId"].as_str().unwrap().to_owned();
    // The limit of 1 holds for A...
    let again = send(&router, post_json("/keys/leases", Some(&a), &body)).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "lease_limit_reached");
    // ...and B, with the same sub from another issuer, has a limit of its own.
    let created_b = send(&router, post_json("/keys/leases", Some(&b), &body)).await;
    assert_eq!(created_b.status, 201, "{:?}", created_b.json());

    // B cannot use, renew or release A's lease.
    let fetch = send(&router, key_request(&b, &lease_a)).await;
    assert_eq!((fetch.status, fetch.code()), (403, "lease_required".into()));
    let renew = send(
        &router,
        post_json(
            "/keys/leases/renew",
            Some(&b),
            &format!(r#"{{"leaseId":"{lease_a}"}}"#),
        ),
    )
    .await;
    assert_eq!(
        (renew.status, renew.code()),
        (404, "lease_not_found".into())
    );
    let released = send(&router, delete(&b, &lease_a)).await;
    assert_eq!(released.status, 204);

    // A's lease survived all of it.
    let key = send(&router, key_request(&a, &lease_a)).await;
    assert_eq!(key.status, 200);
    assert_eq!(key.body, expected_key(CONTENT, None));
    let still_full = send(&router, post_json("/keys/leases", Some(&a), &body)).await;
    assert_eq!(still_full.status, 409);
    // An unauthenticated key request is still refused (the lease alone is no credential).
    assert_eq!(
        send(&router, get(&format!("/keys/{CONTENT}"), None))
            .await
            .status,
        401
    );
}

// ---------------------------------------------------------------------------------------
// The real binary over loopback HTTP, with a SQLite lease store.

/// Regression test: viewers were identified by `sub` alone, so with `JWT_ISSUER` listing
/// two issuers, user A (`iss` a, `sub` 42) and user B (`iss` b, `sub` 42) were one
/// viewer: B was refused with 409 because of A's lease, fetched keys with A's lease, and
/// released it. Now the viewer is the (issuer, subject) pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_same_sub_from_two_issuers_is_two_viewers_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("leases.db").display());
    let issuers = format!("{ISS_A}, {ISS_B}");
    let server = server::start(&[
        ("LEASE_STORE", &store),
        ("JWT_ISSUER", &issuers),
        ("MAX_LEASES_PER_VIEWER", "1"),
    ]);
    let http = server::client(Duration::from_secs(10));
    let minted = |iss: &str| mint(server::JWT_SECRET.as_bytes(), "42", &[("iss", json!(iss))]);
    let (a, b) = (minted(ISS_A), minted(ISS_B));
    let base = server.base.clone();
    let create = |token: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http
                .post(format!("{base}/keys/leases"))
                .bearer_auth(token)
                .json(&json!({ "contentId": CONTENT }))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let fetch_key = |token: String, lease: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http
                .get(format!("{base}/keys/{CONTENT}"))
                .bearer_auth(token)
                .header("x-blindcast-lease", lease)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
        }
    };

    let (status, body) = create(a.clone()).await;
    assert_eq!(status, 201, "{body}");
    let lease_a = body["leaseId"].as_str().unwrap().to_owned();
    let (status, body) = create(a.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("lease_limit_reached"))
    );

    // B has a lease limit of its own.
    let (status, body) = create(b.clone()).await;
    assert_eq!(status, 201, "B was refused because of A's lease: {body}");

    // B's key request with A's lease is refused as for any lease not B's.
    let (status, body) = fetch_key(b.clone(), lease_a.clone()).await;
    assert_eq!(status, 403, "B's key request with A's lease was answered");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "lease_required", "{body}");

    // B's release of A's lease answers like any release (204) and leaves it alone.
    let released = http
        .delete(format!("{base}/keys/leases/{lease_a}"))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(released.status().as_u16(), 204);
    let (status, key) = fetch_key(a.clone(), lease_a.clone()).await;
    assert_eq!(status, 200, "A's lease was released by B");
    assert_eq!(key, server_key(CONTENT));
    let (status, _) = create(a.clone()).await;
    assert_eq!(status, 409, "A's lease must still count against A's limit");

    // The audit trail names B's refusal with B's pair, not A's.
    let refusal = wait_for_audit(&server, |e| e["outcome"] == "refused").await;
    assert_eq!(refusal["viewer"], r#"["https://b.example/","42"]"#);
    assert_eq!(refusal["reason"], "lease_required");
    let issued = wait_for_audit(&server, |e| e["outcome"] == "issued").await;
    assert_eq!(issued["viewer"], r#"["https://a.example/","42"]"#);
}

/// The key the test servers derive for `content` (their own master key and salt).
fn server_key(content: &str) -> Vec<u8> {
    use blindcast_keys_core::{ContentId, KeyDeriver, MasterKey, Salt};
    let deriver = KeyDeriver::new(
        &MasterKey::from_hex(server::MASTER_HEX).unwrap(),
        &Salt::from_hex(server::SALT_HEX).unwrap(),
    );
    let id: ContentId = content.parse().unwrap();
    deriver.key(&id, None).as_bytes().to_vec()
}

/// The first audit event the server logged that matches; waits up to 5 s for it.
async fn wait_for_audit(server: &server::Server, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events: Vec<Value> = server
            .output
            .text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["target"] == "blindcast_keys::audit")
            .collect();
        if let Some(event) = events.iter().find(|e| matches(e)) {
            return event.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no matching audit event; audit events: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

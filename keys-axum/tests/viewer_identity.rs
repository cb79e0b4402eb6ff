//! Who a viewer is. With one accepted issuer the viewer is the token's `sub`; with
//! several (or none checked) it is the (`iss`, `sub`) pair, so the same `sub` from two
//! issuers never shares a lease limit or a lease. Checked on the authenticator and on the
//! router in process; the system tests' `viewer_identity` checks it on the real binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

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

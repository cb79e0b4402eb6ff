//! Who a viewer is, on the real `blindcast-keys serve` binary over loopback HTTP with a
//! SQLite lease store: the same `sub` from two accepted issuers is two viewers, who share
//! no lease limit and no lease. The rules themselves are checked on the authenticator and
//! the router in process (keys-axum's `viewer_identity`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::server;
use serde_json::{Value, json};

const ISS_A: &str = "https://a.example/";
const ISS_B: &str = "https://b.example/";
const CONTENT: &str = "movie-1";

/// A token of the test servers' secret for `sub` from issuer `iss`.
fn minted(iss: &str, sub: &str) -> String {
    server::token_with(sub, &[("iss", json!(iss))])
}

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
    let (a, b) = (minted(ISS_A, "42"), minted(ISS_B, "42"));
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
    assert_eq!(key, server::expected_key(CONTENT, None));
    let (status, _) = create(a.clone()).await;
    assert_eq!(status, 409, "A's lease must still count against A's limit");

    // The audit trail names B's refusal with B's pair, not A's.
    let refusal = wait_for_audit(&server, |e| e["outcome"] == "refused").await;
    assert_eq!(refusal["viewer"], r#"["https://b.example/","42"]"#);
    assert_eq!(refusal["reason"], "lease_required");
    let issued = wait_for_audit(&server, |e| e["outcome"] == "issued").await;
    assert_eq!(issued["viewer"], r#"["https://a.example/","42"]"#);
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

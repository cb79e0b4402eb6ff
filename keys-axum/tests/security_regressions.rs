//! Security suite, regressions: each bug found by the security suite or the fuzz targets
//! (`fuzz/`, `scripts/fuzz`) keeps a test here.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use blindcast_keys_axum::{JwtAuthenticator, KeyServer, RouterConfig};
use blindcast_keys_core::lease::MemoryLeaseStore;
use common::*;

fn router() -> axum::Router {
    let auth = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap();
    KeyServer::new(deriver(), auth)
        .lease_store(Arc::new(MemoryLeaseStore::new()))
        .config(
            RouterConfig::builder()
                .max_leases_per_viewer(2)
                .build()
                .unwrap(),
        )
        .router()
}

/// Found by security_inputs: serde's derived structs also deserialize from a JSON array of
/// field values, so `["movie-2"]` created a lease. Lease bodies must be JSON objects.
#[tokio::test]
async fn lease_bodies_that_are_not_objects_are_400() {
    let r = router();
    let t = token("v");
    for body in [
        r#"["movie-2"]"#,
        r#" ["movie-2"]"#,
        r#"[]"#,
        r#""movie-2""#,
        "null",
        "7",
    ] {
        let reply = send(&r, post_json("/keys/leases", Some(&t), body)).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.code(), "invalid_body");
    }
    let reply = send(&r, post_json("/keys/leases/renew", Some(&t), r#"["x"]"#)).await;
    assert_eq!(reply.status, 400);
    // Objects still work, with leading whitespace too.
    let ok = send(
        &r,
        post_json("/keys/leases", Some(&t), " \n{\"contentId\":\"movie-2\"}"),
    )
    .await;
    assert_eq!(ok.status, 201);
}

/// Found by the `lease_json` fuzz target: serde_json skips the strings of unknown fields
/// without checking their UTF-8, so a body with invalid UTF-8 in an extra field created a
/// lease. A body that is not UTF-8 is not JSON: 400 wherever the bad bytes are.
#[tokio::test]
async fn lease_bodies_with_invalid_utf8_anywhere_are_400() {
    let r = router();
    let t = token("v");
    for body in [
        &b"{\"contentId\":\"movie-2\",\"pad\":\"x\x80x\"}"[..],
        &b"{\"pad\":\"\xff\",\"contentId\":\"movie-2\"}"[..],
        &b"{\"contentId\":\"movie-2\"}\xc3"[..],
    ] {
        let request = http::Request::post("/keys/leases")
            .header("authorization", format!("Bearer {t}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_vec()))
            .unwrap();
        let reply = send(&r, request).await;
        assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(reply.code(), "invalid_body");
    }
}

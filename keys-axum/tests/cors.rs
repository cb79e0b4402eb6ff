//! CORS: preflights and actual requests for allowed, unlisted, look-alike and `null`
//! origins.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use blindcast_keys_axum::{CorsConfig, JwtAuthenticator, KeyServer};
use common::*;
use http::Request;

fn router(origins: &str, credentials: bool) -> axum::Router {
    let auth = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap();
    let cors = CorsConfig::parse(origins)
        .unwrap()
        .allow_credentials(credentials)
        .unwrap();
    KeyServer::new(deriver(), auth).cors(cors).router()
}

fn preflight(origin: &str, path: &str) -> Request<Body> {
    Request::options(path)
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization, x-blindcast-lease",
        )
        .body(Body::empty())
        .unwrap()
}

fn actual(origin: &str) -> Request<Body> {
    Request::get("/keys/movie-1")
        .header("origin", origin)
        .header("authorization", format!("Bearer {}", token("v")))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn allowed_origins_get_answers_with_vary() {
    let r = router("https://app.example.org, http://localhost:3000", true);
    let p = send(&r, preflight("https://app.example.org", "/keys/movie-1")).await;
    assert!(p.status < 300);
    assert_eq!(
        p.header("access-control-allow-origin"),
        Some("https://app.example.org")
    );
    assert_eq!(p.header("access-control-allow-credentials"), Some("true"));
    let allowed = p
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "content-type",
        "x-blindcast-lease",
        "idempotency-key",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert!(
        p.headers.get_all("vary").iter().any(|v| v
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("origin"))
    );
    let a = send(&r, actual("http://localhost:3000")).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    // Preflights of the lease routes are answered too.
    let p = send(&r, preflight("https://app.example.org", "/keys/leases")).await;
    assert_eq!(
        p.header("access-control-allow-origin"),
        Some("https://app.example.org")
    );
}

#[tokio::test]
async fn unlisted_lookalike_and_null_origins_are_never_echoed() {
    let r = router("https://app.example.org", true);
    for origin in [
        "https://evil.example",
        "null",
        "https://app.example.org.evil.com",
        "https://evilapp.example.org",
        "http://app.example.org",
        "https://app.example.org:8443",
        "https://APP.example.org.",
    ] {
        for req in [preflight(origin, "/keys/movie-1"), actual(origin)] {
            let reply = send(&r, req).await;
            assert!(reply.status < 500);
            assert!(
                reply.header("access-control-allow-origin").is_none(),
                "{origin}"
            );
            assert!(
                reply.header("access-control-allow-credentials").is_none(),
                "{origin}"
            );
        }
    }
}

#[tokio::test]
async fn wildcard_without_credentials() {
    let r = router("*", false);
    let a = send(&r, actual("https://anyone.example")).await;
    assert_eq!(a.header("access-control-allow-origin"), Some("*"));
    assert!(a.header("access-control-allow-credentials").is_none());
    assert!(
        CorsConfig::parse("*")
            .unwrap()
            .allow_credentials(true)
            .is_err()
    );
    assert!(CorsConfig::parse("null").is_err());
}

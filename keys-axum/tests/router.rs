//! The router, driven through `oneshot` (no socket): every route and error code.
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use blindcast_keys_axum::auth::{AnonymousAuthenticator, AuthRejection, Authenticator, Principal};
use blindcast_keys_axum::{JwtAuthenticator, KeyServer, RouterConfig};
use blindcast_keys_core::LeaseStore;
use blindcast_keys_core::lease::{ManualClock, MemoryLeaseStore, ViewerId};
use blindcast_lease_testkit::DownLeaseStore;
use common::*;
use http::Request;
use serde_json::json;

fn jwt() -> JwtAuthenticator {
    JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .cookie("bc_token")
        .build()
        .unwrap()
}

fn plain() -> axum::Router {
    KeyServer::new(deriver(), jwt()).router()
}

fn with_store(store: Arc<dyn LeaseStore>, config: RouterConfig) -> axum::Router {
    KeyServer::new(deriver(), jwt())
        .lease_store(store)
        .config(config)
        .router()
}

fn config(max: u32) -> RouterConfig {
    RouterConfig::builder()
        .max_leases_per_viewer(max)
        .build()
        .unwrap()
}

#[tokio::test]
async fn content_and_epoch_keys_are_16_bytes_with_safe_headers() {
    let router = plain();
    let t = token("viewer-1");
    let r = send(&router, get("/keys/movie-1", Some(&t))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_key("movie-1", None));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-length"), Some("16"));

    let r = send(&router, get("/keys/movie-1/17", Some(&t))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_key("movie-1", Some(17)));

    let head = Request::head("/keys/movie-1")
        .header("authorization", format!("Bearer {t}"))
        .body(Body::empty())
        .unwrap();
    let r = send(&router, head).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), Some("16"));

    // `leases` is a content id like any other.
    let r = send(&router, get("/keys/leases", Some(&t))).await;
    assert_eq!(r.body, expected_key("leases", None));
    let r = send(&router, get("/keys/leases/3", Some(&t))).await;
    assert_eq!(r.body, expected_key("leases", Some(3)));
}

#[tokio::test]
async fn private_max_age_is_configurable() {
    let c = RouterConfig::builder()
        .key_cache_max_age(60)
        .build()
        .unwrap();
    let router = KeyServer::new(deriver(), jwt()).config(c).router();
    let r = send(&router, get("/keys/a", Some(&token("v")))).await;
    assert_eq!(r.header("cache-control"), Some("private, max-age=60"));
}

#[tokio::test]
async fn malformed_ids_and_epochs_are_400_never_5xx() {
    let router = plain();
    let t = token("v");
    for path in [
        "/keys/..",
        "/keys/%2e%2e",
        "/keys/.hidden",
        "/keys/a%2Fb",
        "/keys/a%00b",
        "/keys/%C3%A9t%C3%A9",
        "/keys/%FF%FE",
        "/keys/a%20b",
        "/keys/..%2F..%2Fetc%2Fpasswd",
    ] {
        let r = send(&router, get(path, Some(&t))).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "invalid_content_id"),
            "{path}"
        );
    }
    let long = format!("/keys/{}", "a".repeat(129));
    assert_eq!(
        send(&router, get(&long, Some(&t))).await.code(),
        "invalid_content_id"
    );
    for epoch in [
        "017",
        "-1",
        "1e3",
        "x",
        "%2B1",
        "18446744073709551616",
        "%FF",
        "renew",
    ] {
        let r = send(&router, get(&format!("/keys/movie/{epoch}"), Some(&t))).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "invalid_epoch"),
            "{epoch}"
        );
    }
    let r = send(&router, get("/keys/leases/renew", Some(&t))).await;
    assert_eq!(r.code(), "invalid_epoch");
    // Deeper paths are simply unknown routes.
    let r = send(&router, get("/keys/../../etc/passwd", Some(&t))).await;
    assert!((400..500).contains(&r.status));
}

#[tokio::test]
async fn authentication_errors_are_401_with_a_bearer_challenge() {
    let router = plain();
    let r = send(&router, get("/keys/movie-1", None)).await;
    assert_eq!((r.status, r.code().as_str()), (401, "unauthenticated"));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));

    let r = send(&router, get("/keys/movie-1", Some("not.a.token"))).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );

    // A token from another secret.
    let other = blindcast_keys_axum::auth::mint_hs256(
        b"another secret, also thirty-two bytes long",
        "v",
        Duration::from_secs(60),
        Default::default(),
    )
    .unwrap();
    assert_eq!(
        send(&router, get("/keys/a", Some(&other))).await.status,
        401
    );

    // Query and cookie tokens (players that cannot set headers).
    let t = token("v");
    assert_eq!(
        send(&router, get(&format!("/keys/a?token={t}"), None))
            .await
            .status,
        200
    );
    let with_cookie = Request::get("/keys/a")
        .header("cookie", format!("x=1; bc_token={t}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, with_cookie).await.status, 200);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let router = plain();
    let r = send(&router, get("/nope", None)).await;
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let put = Request::put("/keys/a").body(Body::empty()).unwrap();
    let r = send(&router, put).await;
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    assert!(r.header("allow").is_some_and(|a| a.contains("GET")));
    // Without a lease store the lease routes do not exist.
    let t = token("v");
    let r = send(
        &router,
        post_json("/keys/leases", Some(&t), r#"{"contentId":"a"}"#),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = send(&router, post_json("/keys/leases/renew", Some(&t), "{}")).await;
    assert_eq!(r.status, 404);
    let del = Request::delete("/keys/leases/AAAAAAAAAAAAAAAAAAAAAA")
        .header("authorization", format!("Bearer {t}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, del).await.status, 404);
}

#[tokio::test]
async fn health_and_readiness() {
    let r = send(&plain(), get("/healthz", None)).await;
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ok")));
    let r = send(&plain(), get("/readyz", None)).await;
    assert_eq!(r.status, 200);
    let down = with_store(Arc::new(DOWN), RouterConfig::default());
    let r = send(&down, get("/readyz", None)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (503, "lease_store_unavailable")
    );
    assert!(!String::from_utf8_lossy(&r.body).contains("secret-detail"));
}

async fn create(router: &axum::Router, t: &str, content: &str) -> common::Reply {
    send(
        router,
        post_json(
            "/keys/leases",
            Some(t),
            &json!({ "contentId": content }).to_string(),
        ),
    )
    .await
}

fn key_with_lease(uri: &str, t: &str, lease: &str) -> Request<Body> {
    Request::get(uri)
        .header("authorization", format!("Bearer {t}"))
        .header("x-blindcast-lease", lease)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn leases_gate_keys() {
    let store = Arc::new(MemoryLeaseStore::new());
    let router = with_store(store, config(2));
    let t = token("viewer-1");

    let r = create(&router, &t, "movie-1").await;
    assert_eq!(r.status, 201);
    let body = r.json();
    assert_eq!(body["contentId"], "movie-1");
    assert_eq!(body["ttlSeconds"], 120);
    assert_eq!(body["renewAfterSeconds"], 40);
    assert!(humantime::parse_rfc3339(body["expiresAt"].as_str().unwrap()).is_ok());
    let lease = body["leaseId"].as_str().unwrap().to_owned();

    // No lease, then a lease by header and by query.
    let r = send(&router, get("/keys/movie-1", Some(&t))).await;
    assert_eq!((r.status, r.code().as_str()), (403, "lease_required"));
    let r = send(&router, key_with_lease("/keys/movie-1/5", &t, &lease)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, expected_key("movie-1", Some(5)))
    );
    let r = send(
        &router,
        get(&format!("/keys/movie-1?lease={lease}"), Some(&t)),
    )
    .await;
    assert_eq!(r.status, 200);
    // Junk lease ids are refused like unknown ones.
    for junk in ["junk", "%00", "AAAAAAAAAAAAAAAAAAAAAA"] {
        let r = send(
            &router,
            get(&format!("/keys/movie-1?lease={junk}"), Some(&t)),
        )
        .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (403, "lease_required"),
            "{junk}"
        );
    }
    // Wrong content, another viewer.
    let r = send(&router, key_with_lease("/keys/movie-2", &t, &lease)).await;
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    let other = token("viewer-2");
    let r = send(&router, key_with_lease("/keys/movie-1", &other, &lease)).await;
    assert_eq!((r.status, r.code().as_str()), (403, "lease_required"));

    // Limit of 2: the third concurrent lease is refused with the counts.
    assert_eq!(create(&router, &t, "movie-2").await.status, 201);
    let r = create(&router, &t, "movie-3").await;
    assert_eq!((r.status, r.code().as_str()), (409, "lease_limit_reached"));
    assert_eq!(
        (r.json()["active"].as_u64(), r.json()["max"].as_u64()),
        (Some(2), Some(2))
    );

    // Renew, release.
    let renew_body = json!({ "leaseId": lease }).to_string();
    let r = send(
        &router,
        post_json("/keys/leases/renew", Some(&t), &renew_body),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["leaseId"].as_str()),
        (200, Some(lease.as_str()))
    );
    let r = send(
        &router,
        post_json("/keys/leases/renew", Some(&other), &renew_body),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (404, "lease_not_found"));
    let r = send(
        &router,
        post_json("/keys/leases/renew", Some(&t), r#"{"leaseId":"nope"}"#),
    )
    .await;
    assert_eq!(r.code(), "lease_not_found");
    let del = |who: &str, id: &str| {
        Request::delete(format!("/keys/leases/{id}"))
            .header("authorization", format!("Bearer {who}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&router, del(&t, &lease)).await.status, 204);
    assert_eq!(send(&router, del(&t, &lease)).await.status, 204);
    assert_eq!(
        send(&router, del(&t, "junk")).await.code(),
        "lease_not_found"
    );
    let r = send(&router, key_with_lease("/keys/movie-1", &t, &lease)).await;
    assert_eq!(r.code(), "lease_required");
    assert_eq!(create(&router, &t, "movie-3").await.status, 201);
    let unauth = Request::delete(format!("/keys/leases/{lease}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, unauth).await.status, 401);
}

#[tokio::test]
async fn expired_leases_are_410() {
    let clock = ManualClock::new(SystemTime::now());
    let store = Arc::new(MemoryLeaseStore::with_clock(Arc::new(clock.clone())));
    let router = with_store(store, config(3));
    let t = token("v");
    let lease = create(&router, &t, "m").await.json()["leaseId"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.advance(Duration::from_secs(121));
    let r = send(&router, key_with_lease("/keys/m", &t, &lease)).await;
    assert_eq!((r.status, r.code().as_str()), (410, "lease_expired"));
    let body = json!({ "leaseId": lease }).to_string();
    let r = send(&router, post_json("/keys/leases/renew", Some(&t), &body)).await;
    assert_eq!((r.status, r.code().as_str()), (410, "lease_expired"));
}

#[tokio::test]
async fn lease_bodies_and_headers_are_checked() {
    let router = with_store(Arc::new(MemoryLeaseStore::new()), config(3));
    let t = token("v");
    let r = send(&router, post_json("/keys/leases", Some(&t), "{not json")).await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_body"));
    let r = send(
        &router,
        post_json("/keys/leases", Some(&t), r#"{"content":"a"}"#),
    )
    .await;
    assert_eq!(r.code(), "invalid_body");
    let r = send(
        &router,
        post_json("/keys/leases", Some(&t), r#"{"contentId":"../x"}"#),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_content_id"));
    let big = format!(r#"{{"contentId":"{}"}}"#, "a".repeat(10_000));
    let r = send(&router, post_json("/keys/leases", Some(&t), &big)).await;
    assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));
    // Without Content-Length (a streamed body) the limit still holds.
    let stream = Body::new(futures_core_stream::once(big.clone()));
    let req = Request::post("/keys/leases")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {t}"))
        .body(stream)
        .unwrap();
    assert_eq!(send(&router, req).await.status, 413);
    let form = Request::post("/keys/leases")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Bearer {t}"))
        .body(Body::from("contentId=a"))
        .unwrap();
    let r = send(&router, form).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (415, "unsupported_media_type")
    );
    // Unauthenticated before anything else.
    let r = send(&router, post_json("/keys/leases", None, "{not json")).await;
    assert_eq!(r.status, 401);

    // Idempotency-Key: a replay returns the same lease; a bad key is 400.
    let idem = |key: &str, content: &str| {
        Request::post("/keys/leases")
            .header("content-type", "application/json; charset=utf-8")
            .header("authorization", format!("Bearer {t}"))
            .header("idempotency-key", key)
            .body(Body::from(json!({ "contentId": content }).to_string()))
            .unwrap()
    };
    let a = send(&router, idem("k1", "m")).await;
    let b = send(&router, idem("k1", "m")).await;
    assert_eq!(a.json()["leaseId"], b.json()["leaseId"]);
    let r = send(&router, idem("k1", "other")).await;
    assert_eq!((r.status, r.code().as_str()), (409, "idempotency_conflict"));
    let long = "k".repeat(300);
    let r = send(&router, idem(&long, "m")).await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_header"));
}

/// A minimal one-item stream, to send a body without Content-Length.
mod futures_core_stream {
    #![allow(unreachable_pub)]
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub fn once(text: String) -> Once {
        Once(Some(bytes::Bytes::from(text)))
    }

    pub struct Once(Option<bytes::Bytes>);

    impl http_body::Body for Once {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            Poll::Ready(self.0.take().map(|b| Ok(http_body::Frame::data(b))))
        }
    }
}

#[tokio::test]
async fn store_failures_fail_closed_with_503() {
    let router = with_store(Arc::new(DOWN), config(3));
    let t = token("v");
    let r = send(
        &router,
        key_with_lease("/keys/m", &t, "AAAAAAAAAAAAAAAAAAAAAA"),
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (503, "lease_store_unavailable")
    );
    assert!(!String::from_utf8_lossy(&r.body).contains("secret-detail"));
    let r = create(&router, &t, "m").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (503, "lease_store_unavailable")
    );
}

#[tokio::test]
async fn entitlement_claim_limits_content() {
    let c = config(3)
        .to_builder()
        .entitlement_claim("content")
        .build()
        .unwrap();
    let router = KeyServer::new(deriver(), jwt()).config(c.clone()).router();
    let t = token_with("v", &[("content", json!(["movie-1", "series-*"]))]);
    assert_eq!(
        send(&router, get("/keys/movie-1", Some(&t))).await.status,
        200
    );
    assert_eq!(
        send(&router, get("/keys/series-9/2", Some(&t)))
            .await
            .status,
        200
    );
    let r = send(&router, get("/keys/movie-2", Some(&t))).await;
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    let r = send(&router, get("/keys/movie-1", Some(&token("v")))).await;
    assert_eq!(r.status, 403);
    let leased = with_store(Arc::new(MemoryLeaseStore::new()), c);
    assert_eq!(create(&leased, &t, "series-1").await.status, 201);
    assert_eq!(create(&leased, &t, "movie-2").await.code(), "forbidden");
}

#[derive(Debug)]
struct HeaderAuth;

#[async_trait::async_trait]
impl Authenticator for HeaderAuth {
    async fn authenticate(&self, head: &http::request::Parts) -> Result<Principal, AuthRejection> {
        match head.headers.get("x-user").and_then(|v| v.to_str().ok()) {
            Some("slow") => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Err(AuthRejection::missing("slow"))
            }
            Some("banned") => Err(AuthRejection::new(
                http::StatusCode::FORBIDDEN,
                "account_suspended",
                "account suspended",
            )),
            Some(user) => Ok(Principal::new(ViewerId::new(user).unwrap())),
            None => Err(AuthRejection::missing("x-user required")),
        }
    }
}

#[tokio::test]
async fn custom_and_anonymous_authenticators() {
    let c = RouterConfig::builder()
        .request_timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let router = KeyServer::new(deriver(), HeaderAuth).config(c).router();
    let req = |user: &str| {
        Request::get("/keys/a")
            .header("x-user", user)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&router, req("alice")).await.status, 200);
    let r = send(&router, req("banned")).await;
    assert_eq!((r.status, r.code().as_str()), (403, "account_suspended"));
    assert!(r.header("www-authenticate").is_none());
    let r = send(&router, req("slow")).await;
    assert_eq!((r.status, r.code().as_str()), (408, "request_timeout"));

    let anon = KeyServer::new(
        deriver(),
        AnonymousAuthenticator::new(ViewerId::new("anonymous").unwrap()),
    )
    .router();
    assert_eq!(send(&anon, get("/keys/a", None)).await.status, 200);
}

#[tokio::test]
async fn metrics_are_opt_in() {
    assert_eq!(send(&plain(), get("/metrics", None)).await.status, 404);
    let c = RouterConfig::builder().metrics(true).build().unwrap();
    let router = KeyServer::new(deriver(), jwt()).config(c).router();
    send(&router, get("/keys/a", Some(&token("v")))).await;
    send(&router, get("/keys/a", None)).await;
    let r = send(&router, get("/metrics", None)).await;
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.contains("blindcast_keys_issued_total 1"), "{text}");
    assert!(text.contains(r#"blindcast_key_refusals_total{reason="unauthenticated"} 1"#));
    assert!(text.contains("blindcast_key_request_duration_seconds_count 2"));
}

/// A store that is always down; its errors carry a detail that must never leak.
const DOWN: DownLeaseStore = DownLeaseStore {
    detail: "secret-detail: connection refused",
};

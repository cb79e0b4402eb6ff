//! The embedded key router answers under /api with the service's own authentication.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use blindcast_keys_core::{ContentId, KeyDeriver, MasterKey, Salt};
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn deriver() -> KeyDeriver {
    KeyDeriver::new(
        &MasterKey::from_hex(&"11".repeat(32)).unwrap(),
        &Salt::from_hex(&"22".repeat(16)).unwrap(),
    )
}

async fn call(app: &axum::Router, req: Request<Body>) -> (u16, Vec<u8>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn keys_under_api_with_session_auth_and_leases() {
    let app = blindcast_keys_embed_example::app(deriver()).unwrap();
    assert_eq!(
        call(&app, Request::get("/").body(Body::empty()).unwrap())
            .await
            .0,
        200
    );
    let anon = Request::get("/api/keys/trailer-1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, anon).await.0, 401);

    let create = Request::post("/api/keys/leases")
        .header("x-session", "user:alice")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"contentId":"trailer-1"}"#))
        .unwrap();
    let (status, body) = call(&app, create).await;
    assert_eq!(status, 201);
    let lease: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let key = Request::get("/api/keys/trailer-1")
        .header("x-session", "user:alice")
        .header("x-blindcast-lease", lease["leaseId"].as_str().unwrap())
        .body(Body::empty())
        .unwrap();
    let (status, body) = call(&app, key).await;
    assert_eq!(status, 200);
    let id: ContentId = "trailer-1".parse().unwrap();
    assert_eq!(body, deriver().content_key(&id).as_bytes().to_vec());

    let feature = Request::get("/api/keys/feature-film")
        .header("x-session", "user:alice")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, feature).await.0, 403);
}

//! A panic in a handler becomes a 500 `internal` without detail, over the router and over
//! real HTTP, and the server keeps answering.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use blindcast_keys_axum::KeyServer;
use blindcast_keys_axum::auth::{AuthRejection, Authenticator, Principal};
use common::{get, send};
use http::request::Parts;

/// Panics on every request, quoting a secret-looking string the answer must not carry.
#[derive(Debug)]
struct PanickingAuth;

#[async_trait::async_trait]
impl Authenticator for PanickingAuth {
    async fn authenticate(&self, _head: &Parts) -> Result<Principal, AuthRejection> {
        panic!("authenticator exploded: sk-do-not-leak");
    }
}

fn router() -> axum::Router {
    KeyServer::new(common::deriver(), PanickingAuth).router()
}

#[tokio::test]
async fn a_panicking_handler_answers_500_internal_without_detail() {
    let router = router();
    for _ in 0..2 {
        let reply = send(&router, get("/keys/movie-1", Some("t"))).await;
        assert_eq!(reply.status, 500);
        assert_eq!(reply.code(), "internal");
        let text = String::from_utf8_lossy(&reply.body);
        assert!(
            !text.contains("exploded") && !text.contains("sk-do-not-leak"),
            "{text}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    // Routes that do not reach the handler are unaffected.
    assert_eq!(send(&router, get("/healthz", None)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_the_connection_gets_an_answer_not_a_drop() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router()).await });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for _ in 0..3 {
        let r = http
            .get(format!("http://{addr}/keys/movie-1"))
            .bearer_auth("t")
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(r.status(), 500);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "internal");
    }
    server.abort();
}

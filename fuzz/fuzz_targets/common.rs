//! Shared by the router-level targets: routers with a memory store and with a store that
//! is always down, a valid token, and a runtime to drive them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use blindcast_keys_axum::auth::mint_hs256;
use blindcast_keys_axum::{CorsConfig, JwtAuthenticator, KeyRouterConfig, KeyServer};
use blindcast_keys_core::lease::MemoryLeaseStore;
use blindcast_keys_core::{KeyDeriver, LeaseStore, MasterKey, Salt};
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const SECRET: &[u8] = b"fuzzing secret of at least thirty-two bytes";


pub struct Fixture {
    pub runtime: tokio::runtime::Runtime,
    /// Memory lease store, CORS, a small body limit.
    pub up: Router,
    /// A lease store that is always down: 503 is the only 5xx allowed.
    pub down: Router,
    pub token: String,
}

fn router(store: Arc<dyn LeaseStore>) -> Router {
    let deriver = KeyDeriver::new(
        &MasterKey::from_hex(&"0b".repeat(32)).expect("key"),
        &Salt::from_hex(&"00".repeat(16)).expect("salt"),
    );
    let auth = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .cookie("bc")
        .build()
        .expect("auth");
    KeyServer::new(deriver, auth)
        .lease_store(store)
        .cors(CorsConfig::parse("https://app.example.org").expect("cors"))
        .config(KeyRouterConfig {
            max_leases_per_viewer: 3,
            body_limit: 1024,
            metrics: true,
            ..Default::default()
        })
        .router()
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime"),
        up: router(Arc::new(MemoryLeaseStore::new())),
        down: router(Arc::new(blindcast_lease_testkit::DownLeaseStore { detail: "down" })),
        token: mint_hs256(
            SECRET,
            "fuzzer",
            Duration::from_secs(86_400),
            BTreeMap::new(),
        )
        .expect("token"),
    })
}

/// Sends the request; returns the status and body.
pub fn send(router: &Router, request: Request<Body>) -> (u16, Vec<u8>) {
    let f = fixture();
    f.runtime.block_on(async {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        (status, body)
    })
}

/// No 5xx, except 503 from the router whose store is down; every error body is JSON.
pub fn check(status: u16, body: &[u8], store_down: bool) {
    assert!(
        status < 500 || (store_down && status == 503),
        "status {status}: {}",
        String::from_utf8_lossy(body)
    );
    if status >= 400 && !body.is_empty() {
        let v: serde_json::Value = serde_json::from_slice(body).expect("error bodies are JSON");
        assert!(v["error"].is_string());
    }
}

//! The one set of fixtures of the router tests (in process, through `oneshot`): the
//! secrets and master key, request helpers, signing keys (`signing`), a steerable JWKS
//! endpoint (`jwks_endpoint`), hostile inputs (`hostile_inputs`), a test deadline
//! (`deadline`), and the independent key oracle (`openssl_hkdf`). Every test file includes
//! it with `mod common;`. The system tests include `deadline`, `hostile_inputs`,
//! `jwks_endpoint`, `openssl_hkdf` and `signing` from here by path (one copy of each);
//! their master key and secrets are their own (system-tests/tests/common/server.rs), and
//! no test binary holds both sets.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use blindcast_keys_axum::auth::mint_hs256;
use blindcast_keys_core::{KeyDeriver, MasterKey, Salt};
use http::{Request, Response};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub mod deadline;
pub mod hostile_inputs;
pub mod jwks_endpoint;
pub mod signing;

#[allow(unused_imports)] // Not every test file needs a deadline.
pub use deadline::bounded;

pub const SECRET: &[u8] = b"test secret of at least thirty-two bytes";
pub const MASTER_HEX: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
pub const SALT_HEX: &str = "000102030405060708090a0b0c0d0e0f";

pub fn deriver() -> KeyDeriver {
    KeyDeriver::new(
        &MasterKey::from_hex(MASTER_HEX).unwrap(),
        &Salt::from_hex(SALT_HEX).unwrap(),
    )
}

mod openssl_hkdf;

/// The key a correct server serves, computed by `openssl kdf`, not by the crate.
pub fn expected_key(content: &str, epoch: Option<u64>) -> Vec<u8> {
    openssl_hkdf::openssl_key(MASTER_HEX, SALT_HEX, content, epoch)
}

/// The same for key version `kv` of this master key and salt (hex).
pub fn expected_key_of_version(
    master_hex: &str,
    salt_hex: &str,
    kv: u16,
    content: &str,
    epoch: Option<u64>,
) -> Vec<u8> {
    openssl_hkdf::openssl_key_of_version(master_hex, salt_hex, kv, content, epoch)
}

pub fn token(sub: &str) -> String {
    mint_hs256(SECRET, sub, Duration::from_secs(3600), BTreeMap::new()).unwrap()
}

pub fn token_with(sub: &str, claims: &[(&str, Value)]) -> String {
    let extra = claims
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    mint_hs256(SECRET, sub, Duration::from_secs(3600), extra).unwrap()
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub fn code(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response: Response<Body> = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn get(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

pub fn post_json(uri: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}

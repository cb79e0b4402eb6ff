//! Shared by the integration tests: key material, tokens, fixtures, and reading Lambda
//! responses.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use blindcast_keys_lambda::LambdaKeyServer;
use blindcast_keys_lambda::lambda_http::request::LambdaRequest;
use blindcast_keys_lambda::lambda_http::{Adapter, Context, LambdaEvent};
use serde_json::Value;
use tower::ServiceExt;

pub const MASTER_KEY: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
pub const SALT: &str = "000102030405060708090a0b0c0d0e0f";
pub const JWT_SECRET: &str = "test-secret-of-at-least-32-bytes-long!!";
pub const ORIGIN: &str = "https://app.example.com";

/// The deriver of [`MASTER_KEY`] and [`SALT`].
pub fn deriver() -> blindcast_keys_core::KeyDeriver {
    use blindcast_keys_core::{KeyDeriver, MasterKey, Salt};
    KeyDeriver::new(
        &MasterKey::from_hex(MASTER_KEY).unwrap(),
        &Salt::from_hex(SALT).unwrap(),
    )
}

/// A valid HS256 token for `sub`.
pub fn token(sub: &str) -> String {
    blindcast_keys_axum::auth::mint_hs256(
        JWT_SECRET.as_bytes(),
        sub,
        Duration::from_secs(600),
        BTreeMap::new(),
    )
    .unwrap()
}

/// The fixture's JSON text, with `{{TOKEN}}` replaced by a valid token of `viewer-1`.
pub fn fixture(name: &str) -> String {
    fixture_for(name, "viewer-1")
}

/// The fixture's JSON text, with `{{TOKEN}}` replaced by a valid token of `sub`.
pub fn fixture_for(name: &str, sub: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .replace("{{TOKEN}}", &token(sub))
}

/// The fixture as JSON, to edit before sending.
pub fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

// The same independent reference the keys-axum tests use (one file, two test crates).
#[path = "../../../keys-axum/tests/common/openssl_hkdf.rs"]
mod openssl_hkdf;

/// The key a correct server serves, computed by `openssl kdf`, not by the crates.
pub fn expected_key(content: &str, epoch: Option<u64>) -> Vec<u8> {
    openssl_hkdf::openssl_key(MASTER_KEY, SALT, content, epoch)
}

/// The same for key version `kv` of another master key and salt (hex).
pub fn expected_key_of_version(
    master: &str,
    salt: &str,
    kv: u16,
    content: &str,
    epoch: Option<u64>,
) -> Vec<u8> {
    openssl_hkdf::openssl_key_of_version(master, salt, kv, content, epoch)
}

/// Runs one event through `lambda_http`'s adapter, as the runtime would, and returns the
/// response JSON it would send back to Lambda.
pub async fn invoke(server: &LambdaKeyServer, event: &Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event.clone()).unwrap();
    let adapter = Adapter::from(server.service());
    let response = adapter
        .oneshot(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    serde_json::to_value(response).unwrap()
}

pub fn status(response: &Value) -> u64 {
    response["statusCode"].as_u64().unwrap()
}

/// A response header, from `headers` or `multiValueHeaders`, by lowercase name.
pub fn header(response: &Value, name: &str) -> Option<String> {
    for field in ["headers", "multiValueHeaders"] {
        if let Some(map) = response[field].as_object() {
            for (k, v) in map {
                if k.eq_ignore_ascii_case(name) {
                    return match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Array(items) => {
                            items.first().and_then(Value::as_str).map(str::to_owned)
                        }
                        _ => None,
                    };
                }
            }
        }
    }
    None
}

/// The body bytes, base64-decoded when `isBase64Encoded`.
pub fn body(response: &Value) -> Vec<u8> {
    let text = response["body"].as_str().unwrap_or_default();
    if response["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
    } else {
        text.as_bytes().to_vec()
    }
}

/// Asserts a 200 key response holding exactly `key`, sent as base64 binary.
pub fn assert_key(response: &Value, key: &[u8]) {
    assert_eq!(status(response), 200, "{response}");
    assert_eq!(response["isBase64Encoded"], Value::Bool(true), "{response}");
    assert_eq!(
        header(response, "content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(body(response), key);
}

/// Asserts a JSON error `{"error": code, "message": ...}` with `status`.
pub fn assert_error(response: &Value, status_code: u64, code: &str) {
    assert_eq!(status(response), status_code, "{response}");
    assert_eq!(
        response["isBase64Encoded"],
        Value::Bool(false),
        "{response}"
    );
    assert!(
        header(response, "content-type")
            .unwrap_or_default()
            .starts_with("application/json")
    );
    let json: Value = serde_json::from_slice(&body(response)).unwrap();
    assert_eq!(json["error"], code, "{json}");
    assert!(
        json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{json}"
    );
}

//! `aws-secrets`: `*_SECRET_ARN` and `*_PARAMETER` fetched at cold start from a local
//! stand-in for the AWS Parameters and Secrets Lambda Extension.
#![cfg(feature = "aws-secrets")]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use blindcast_keys_lambda::LambdaKeyServer;
use common::*;
use serde_json::json;

const TOKEN: &str = "session-token-of-the-function";
const MASTER_V2: &str = "5da63a297eff3b9b4957d2d11895d888e4c28fecdef313c142b7bf2acfdb3b65";
const SALT_V2: &str = "e0b5430af58f282b83870ba05caf988e";
const SECRET_ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:blindcast-AbCdEf";

#[derive(Default)]
struct Extension {
    calls: AtomicUsize,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("x-aws-parameters-secrets-token")
        .is_some_and(|v| v == TOKEN)
}

async fn secret(
    State(ext): State<Arc<Extension>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // The first call finds the extension still starting, as at a real cold start.
    if ext.calls.fetch_add(1, Ordering::SeqCst) == 0 {
        return (
            StatusCode::BAD_REQUEST,
            "not ready to serve traffic, please wait",
        )
            .into_response();
    }
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong token").into_response();
    }
    if q.get("secretId").map(String::as_str) != Some(SECRET_ARN) {
        return (
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException: no such secret",
        )
            .into_response();
    }
    let value =
        json!({ "master_key": MASTER_KEY, "salt": SALT, "master_key_v2": MASTER_V2 }).to_string();
    Json(json!({
        "ARN": SECRET_ARN,
        "Name": "blindcast",
        "SecretString": value,
        "VersionId": "v1",
        "VersionStages": ["AWSCURRENT"],
        "ResultMetadata": {}
    }))
    .into_response()
}

async fn parameter(headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong token").into_response();
    }
    if q.get("withDecryption").map(String::as_str) != Some("true") {
        return (StatusCode::BAD_REQUEST, "expected withDecryption=true").into_response();
    }
    match q.get("name").map(String::as_str) {
        Some("/blindcast/jwt-secret") => Json(json!({
            "Parameter": {
                "Name": "/blindcast/jwt-secret",
                "Type": "SecureString",
                "Value": JWT_SECRET,
                "Version": 1
            },
            "ResultMetadata": {}
        }))
        .into_response(),
        Some(name @ ("/blindcast/salt-v2" | "/blindcast/not-hex")) => Json(json!({
            "Parameter": {
                "Name": name,
                "Type": "SecureString",
                "Value": if name.ends_with("v2") { SALT_V2 } else { "not hex at all" },
                "Version": 1
            },
            "ResultMetadata": {}
        }))
        .into_response(),
        _ => (StatusCode::BAD_REQUEST, "ParameterNotFound").into_response(),
    }
}

async fn start_extension() -> (u16, Arc<Extension>) {
    let ext = Arc::new(Extension::default());
    let app = axum::Router::new()
        .route("/secretsmanager/get", get(secret))
        .route("/systemsmanager/parameters/get", get(parameter))
        .with_state(Arc::clone(&ext));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, ext)
}

fn env(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<&'static str, String> = pairs.into_iter().collect();
    move |name: &str| map.get(name).cloned()
}

#[tokio::test]
async fn secrets_and_parameters_are_fetched_once_at_cold_start() {
    let (port, ext) = start_extension().await;
    let e = env(vec![
        ("MASTER_KEY_SECRET_ARN", format!("{SECRET_ARN}#master_key")),
        ("SALT_SECRET_ARN", format!("{SECRET_ARN}#salt")),
        ("JWT_SECRET_PARAMETER", "/blindcast/jwt-secret".into()),
        ("AWS_SESSION_TOKEN", TOKEN.into()),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.to_string()),
    ]);
    let server = LambdaKeyServer::from_env_with(&e).await.unwrap();
    // One "not ready" answer, then one call per secret setting.
    assert_eq!(ext.calls.load(Ordering::SeqCst), 3);
    for _ in 0..3 {
        let response = invoke(&server, &fixture_json("http_api_v2_default_stage")).await;
        assert_key(&response, &expected_key("movie-1", None));
    }
    // Warm invocations fetch nothing.
    assert_eq!(ext.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn fetch_failures_name_the_setting() {
    let (port, _ext) = start_extension().await;
    let pairs = |token: &str, arn: &str| {
        env(vec![
            ("MASTER_KEY_SECRET_ARN", arn.to_owned()),
            ("SALT", SALT.into()),
            ("ALLOW_ANONYMOUS", "true".into()),
            ("AWS_SESSION_TOKEN", token.to_owned()),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.to_string()),
        ])
    };
    let err = LambdaKeyServer::from_env_with(&pairs("wrong", SECRET_ARN))
        .await
        .unwrap_err();
    assert_eq!(err.setting, "MASTER_KEY_SECRET_ARN");
    assert!(err.to_string().contains("401"), "{err}");

    let err =
        LambdaKeyServer::from_env_with(&pairs(TOKEN, "arn:aws:secretsmanager:x:1:secret:nope"))
            .await
            .unwrap_err();
    assert_eq!(err.setting, "MASTER_KEY_SECRET_ARN");
    assert!(err.to_string().contains("ResourceNotFound"), "{err}");

    // The whole secret is JSON, not hex: the error names the variable that pointed at
    // it, never the value.
    let err = LambdaKeyServer::from_env_with(&pairs(TOKEN, SECRET_ARN))
        .await
        .unwrap_err();
    assert_eq!(err.setting, "MASTER_KEY_SECRET_ARN");
    assert!(err.to_string().contains("the fetched MASTER_KEY"), "{err}");
    assert!(!err.to_string().contains(MASTER_KEY), "{err}");

    let err = LambdaKeyServer::from_env_with(&pairs(TOKEN, &format!("{SECRET_ARN}#nope")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such string field"), "{err}");
}

#[tokio::test]
async fn a_missing_extension_or_session_token_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let e = env(vec![
        ("SALT_PARAMETER", "/blindcast/salt".into()),
        ("MASTER_KEY", MASTER_KEY.into()),
        ("ALLOW_ANONYMOUS", "true".into()),
        ("AWS_SESSION_TOKEN", TOKEN.into()),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.to_string()),
    ]);
    let err = LambdaKeyServer::from_env_with(&e).await.unwrap_err();
    assert_eq!(err.setting, "SALT_PARAMETER");
    assert!(err.to_string().contains("extension layer"), "{err}");

    let e = env(vec![("SALT_PARAMETER", "/blindcast/salt".into())]);
    let err = LambdaKeyServer::from_env_with(&e).await.unwrap_err();
    assert_eq!(err.setting, "SALT_PARAMETER");
    assert!(err.to_string().contains("AWS_SESSION_TOKEN"), "{err}");
}

/// A second key version fetched like the first: `MASTER_KEY_V2_SECRET_ARN` and
/// `SALT_V2_PARAMETER`; `?kv=2` key requests get its keys, others version 1's.
#[tokio::test]
async fn key_versions_are_fetched_too() {
    let (port, _ext) = start_extension().await;
    let pairs = |salt_v2: &str| {
        env(vec![
            ("MASTER_KEY_SECRET_ARN", format!("{SECRET_ARN}#master_key")),
            ("SALT_SECRET_ARN", format!("{SECRET_ARN}#salt")),
            (
                "MASTER_KEY_V2_SECRET_ARN",
                format!("{SECRET_ARN}#master_key_v2"),
            ),
            ("SALT_V2_PARAMETER", salt_v2.to_owned()),
            ("KEY_VERSION_PRIMARY", "2".into()),
            ("JWT_SECRET_PARAMETER", "/blindcast/jwt-secret".into()),
            ("AWS_SESSION_TOKEN", TOKEN.into()),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.to_string()),
        ])
    };
    let server = LambdaKeyServer::from_env_with(&pairs("/blindcast/salt-v2"))
        .await
        .unwrap();
    let mut event = fixture_json("http_api_v2_default_stage");
    let response = invoke(&server, &event).await;
    assert_key(&response, &expected_key("movie-1", None));
    event["rawQueryString"] = json!("kv=2");
    event["queryStringParameters"] = json!({ "kv": "2" });
    let response = invoke(&server, &event).await;
    assert_key(
        &response,
        &expected_key_of_version(MASTER_V2, SALT_V2, 2, "movie-1", None),
    );
    event["rawQueryString"] = json!("kv=3");
    event["queryStringParameters"] = json!({ "kv": "3" });
    assert_error(&invoke(&server, &event).await, 404, "unknown_key_version");

    // A bad fetched value is reported under the variable that named its source.
    let err = LambdaKeyServer::from_env_with(&pairs("/blindcast/not-hex"))
        .await
        .unwrap_err();
    assert_eq!(err.setting, "SALT_V2_PARAMETER", "{err}");
    assert!(err.to_string().contains("the fetched SALT_V2"), "{err}");
    assert!(!err.to_string().contains("not hex at all"), "{err}");
}

//! `LambdaKeyServer::from_env_with`: the settings of `blindcast-keys serve` plus the
//! Lambda ones, each mistake named.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use blindcast_keys_lambda::LambdaKeyServer;
use common::*;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("MASTER_KEY", MASTER_KEY),
        ("SALT", SALT),
        ("JWT_SECRET", JWT_SECRET),
        ("CORS_ORIGINS", ORIGIN),
    ]
}

async fn error_of(pairs: &[(&str, &str)]) -> blindcast_keys_axum::ConfigError {
    LambdaKeyServer::from_env_with(&env(pairs))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn serve_settings_build_a_working_server() {
    let server = LambdaKeyServer::from_env_with(&env(&base())).await.unwrap();
    let response = invoke(&server, &fixture_json("http_api_v2_named_stage")).await;
    assert_key(&response, &expected_key("movie-1", Some(42)));
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
}

#[tokio::test]
async fn memory_and_sqlite_lease_stores_are_refused() {
    let mut pairs = base();
    pairs.push(("LEASE_STORE", "memory"));
    let err = error_of(&pairs).await;
    assert_eq!(err.setting, "LEASE_STORE");
    assert!(
        err.to_string().contains("does not work on AWS Lambda"),
        "{err}"
    );
    assert!(err.to_string().contains("postgres"), "{err}");

    let mut pairs = base();
    pairs.push(("LEASE_STORE", "sqlite:/tmp/leases.db"));
    assert_eq!(error_of(&pairs).await.setting, "LEASE_STORE");
}

#[tokio::test]
async fn bad_serve_settings_are_named() {
    let mut pairs = base();
    pairs.retain(|(k, _)| *k != "SALT");
    assert_eq!(error_of(&pairs).await.setting, "SALT");

    let mut pairs = base();
    pairs.push(("LEASE_TTL", "1s"));
    assert_eq!(error_of(&pairs).await.setting, "LEASE_TTL");

    let mut pairs = base();
    pairs.retain(|(k, _)| *k != "CORS_ORIGINS");
    pairs.push(("CORS_ORIGINS", "ftp:nope"));
    assert_eq!(error_of(&pairs).await.setting, "CORS_ORIGINS");
}

#[tokio::test]
async fn trusting_the_gateway_authorizer_is_explicit_and_exclusive() {
    let mut pairs = base();
    pairs.push(("TRUST_GATEWAY_AUTHORIZER", "true"));
    let err = error_of(&pairs).await;
    assert_eq!(err.setting, "TRUST_GATEWAY_AUTHORIZER");
    assert!(err.to_string().contains("JWT_SECRET"), "{err}");

    let server = LambdaKeyServer::from_env_with(&env(&[
        ("MASTER_KEY", MASTER_KEY),
        ("SALT", SALT),
        ("TRUST_GATEWAY_AUTHORIZER", "true"),
    ]))
    .await
    .unwrap();
    let response = invoke(&server, &fixture_json("http_api_v2_jwt_authorizer")).await;
    assert_key(&response, &expected_key("series-7", None));
    // A token the gateway did not verify is not looked at.
    let response = invoke(&server, &fixture_json("http_api_v2_default_stage")).await;
    assert_error(&response, 401, "unauthenticated");

    let mut pairs = base();
    pairs.push(("TRUST_GATEWAY_AUTHORIZER", "maybe"));
    assert_eq!(error_of(&pairs).await.setting, "TRUST_GATEWAY_AUTHORIZER");
}

#[tokio::test]
async fn base_path_setting_is_applied() {
    let mut pairs = base();
    pairs.push(("BASE_PATH", "/v1"));
    let server = LambdaKeyServer::from_env_with(&env(&pairs)).await.unwrap();
    let mut event = fixture_json("alb");
    event["path"] = serde_json::json!("/v1/keys/movie-1");
    assert_key(
        &invoke(&server, &event).await,
        &expected_key("movie-1", None),
    );
}

#[tokio::test]
async fn secret_sources_conflicting_with_plain_values_are_named() {
    let mut pairs = base();
    pairs.push((
        "MASTER_KEY_SECRET_ARN",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:blindcast-AbCdEf",
    ));
    let err = error_of(&pairs).await;
    assert_eq!(err.setting, "MASTER_KEY_SECRET_ARN");
    assert!(err.to_string().contains("not both"), "{err}");
}

/// Compiled in every feature set: without `aws-secrets` a secret source is refused naming
/// the feature; with it (as CI builds) the build tries to fetch it and, outside Lambda,
/// fails naming what the extension needs. (tests/secrets.rs fetches for real.)
#[tokio::test]
async fn secret_sources_need_the_aws_secrets_feature_and_the_extension() {
    let mut pairs = base();
    pairs.retain(|(k, _)| *k != "SALT");
    pairs.push(("SALT_PARAMETER", "/blindcast/salt"));
    let err = error_of(&pairs).await;
    assert_eq!(err.setting, "SALT_PARAMETER");
    if cfg!(feature = "aws-secrets") {
        assert!(err.to_string().contains("AWS_SESSION_TOKEN"), "{err}");
    } else {
        assert!(err.to_string().contains("aws-secrets"), "{err}");
    }
}

/// `POST /presign` through a front door: on with `S3_BUCKET` (region and credentials as
/// Lambda sets them), a 404 without. Needs the `presign` feature (a build without it
/// refuses `S3_BUCKET`).
#[cfg(feature = "presign")]
#[tokio::test]
async fn presign_is_on_when_s3_bucket_is_set() {
    let publisher = blindcast_keys_axum::auth::mint_hs256(
        JWT_SECRET.as_bytes(),
        "studio-1",
        std::time::Duration::from_secs(600),
        [("role".to_owned(), serde_json::json!("publisher"))].into(),
    )
    .unwrap();
    let mut event = fixture_json("http_api_v2_named_stage");
    event["rawPath"] = "/prod/presign".into();
    event["requestContext"]["http"]["method"] = "POST".into();
    event["requestContext"]["http"]["path"] = "/prod/presign".into();
    event["pathParameters"]["proxy"] = "presign".into();
    event["headers"]["authorization"] = format!("Bearer {publisher}").into();
    event["headers"]["content-type"] = "application/json".into();
    let text =
        r#"{"contentId":"movie-1","files":[{"name":"seg000.ts","contentType":"video/mp2t"}]}"#;
    event["headers"]["content-length"] = text.len().to_string().into();
    event["body"] = text.into();

    let off = LambdaKeyServer::from_env_with(&env(&base())).await.unwrap();
    assert_error(&invoke(&off, &event).await, 404, "not_found");

    let mut pairs = base();
    pairs.extend([
        ("S3_BUCKET", "media"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "lambda-role-secret-value"),
        ("AWS_SESSION_TOKEN", "lambda-role-session-token"),
    ]);
    let on = LambdaKeyServer::from_env_with(&env(&pairs)).await.unwrap();
    let response = invoke(&on, &event).await;
    assert_eq!(status(&response), 200, "{response}");
    let answer: serde_json::Value = serde_json::from_slice(&body(&response)).unwrap();
    let url = answer["files"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://media.s3.eu-west-1.amazonaws.com/movie-1/seg000.ts?"),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-Security-Token=lambda-role-session-token"),
        "{url}"
    );
    assert!(!url.contains("lambda-role-secret-value"));

    pairs.push(("PRESIGN_TTL", "30d"));
    assert_eq!(error_of(&pairs).await.setting, "PRESIGN_TTL");
}

/// Every setting of the shared list, with its bad example (and the settings it needs to
/// be read at all), fails the cold start with an error naming that setting: settings of
/// `blindcast-keys serve` alone are refused here, not read and ignored.
#[tokio::test]
async fn every_setting_of_the_list_fails_the_cold_start_naming_it() {
    use blindcast_keys_axum::settings::{JWT_KEY_SOURCES, SECRET_SETTINGS, SETTINGS};
    let mut walked = 0;
    for setting in SETTINGS {
        let needs_presign = setting.example_with.iter().any(|(k, _)| *k == "S3_BUCKET");
        if needs_presign && !cfg!(feature = "presign") {
            continue;
        }
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "CORS_ORIGINS");
        for (name, value) in setting
            .example_with
            .iter()
            .copied()
            .chain([(setting.name, setting.bad_example)])
        {
            // A key or secret given another way replaces the base's.
            let replaces = if JWT_KEY_SOURCES.contains(&name) {
                Some("JWT_SECRET")
            } else {
                name.strip_suffix("_FILE")
                    .and_then(|inline| SECRET_SETTINGS.iter().copied().find(|s| *s == inline))
            };
            pairs.retain(|(k, _)| Some(*k) != replaces && *k != name);
            pairs.push((name, value));
        }
        let err = match LambdaKeyServer::from_env_with(&env(&pairs)).await {
            Ok(_) => panic!("{}={:?} was accepted", setting.name, setting.bad_example),
            Err(e) => e,
        };
        assert_eq!(err.setting, setting.name, "{}: {err}", setting.name);
        let line = err.to_string();
        assert!(line.starts_with(&format!("{}: ", setting.name)), "{line}");
        assert!(!line.contains('\n'), "{line}");
        walked += 1;
    }
    assert!(walked >= 50, "{walked}");
}

/// The silent cases of old, one by one: each stops the cold start naming the setting.
#[tokio::test]
async fn settings_that_would_be_ignored_are_refused() {
    for (extra, setting) in [
        (vec![("LOG_LEVEL", "info,[[[bad")], "LOG_LEVEL"),
        (vec![("LEASE_TTL", "5m")], "LEASE_TTL"),
        (
            vec![("MAX_LEASES_PER_VIEWER", "2")],
            "MAX_LEASES_PER_VIEWER",
        ),
        (vec![("MAX_BODY_BYTES", "0")], "MAX_BODY_BYTES"),
        (vec![("JWT_ISSUER", " , ")], "JWT_ISSUER"),
        (vec![("JWT_AUDIENCE", " , ")], "JWT_AUDIENCE"),
        (vec![("CORS_ORIGINS", " , ")], "CORS_ORIGINS"),
        (vec![("BIND", "0.0.0.0:8080")], "BIND"),
        (vec![("MAX_CONNECTIONS", "10")], "MAX_CONNECTIONS"),
        (vec![("HEADER_READ_TIMEOUT", "5s")], "HEADER_READ_TIMEOUT"),
        (vec![("SHUTDOWN_TIMEOUT", "5s")], "SHUTDOWN_TIMEOUT"),
        (vec![("PURGE_INTERVAL", "5s")], "PURGE_INTERVAL"),
        (vec![("PRESIGN_TTL", "5m")], "PRESIGN_TTL"),
        (
            vec![
                ("JWT_SECRET", ""),
                ("ALLOW_ANONYMOUS", "true"),
                ("JWT_LEEWAY", "soon"),
            ],
            "JWT_LEEWAY",
        ),
        (
            vec![
                ("JWT_SECRET", ""),
                ("TRUST_GATEWAY_AUTHORIZER", "true"),
                ("JWT_ISSUER", "https://issuer.example"),
            ],
            "JWT_ISSUER",
        ),
    ] {
        let mut pairs = base();
        for (k, v) in &extra {
            pairs.retain(|(name, _)| name != k);
            if !v.is_empty() {
                pairs.push((k, v));
            }
        }
        assert_eq!(error_of(&pairs).await.setting, setting, "{extra:?}");
    }
    // Lambda's own log variables, as Lambda sets them, are read like the server's.
    let mut pairs = base();
    pairs.extend([
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
    ]);
    assert!(LambdaKeyServer::from_env_with(&env(&pairs)).await.is_ok());
}

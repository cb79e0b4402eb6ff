//! `POST /presign` on the real `blindcast-keys serve` binary, its URLs checked by a real
//! S3-compatible server that verifies SigV4 (`s3s-fs` on 127.0.0.1, see common/s3.rs):
//! what is signed round-trips, and every change to a signed request is refused by the
//! storage. Also the server's presign settings. The router's answers themselves are
//! checked in process (keys-axum's `presign`); the whole publisher flow with ffmpeg is
//! `presign_flow`. Nothing here skips: a missing `s3s-fs` fails with the command that
//! installs it.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::s3::{ACCESS_KEY, S3Server, SECRET_KEY};
use common::server::{self, Server};
use serde_json::{Value, json};

/// The real server presigning for `s3` under the prefix `hls/`, GET URLs allowed, with
/// `extra` settings.
fn start_for(s3: &S3Server, extra: &[(&str, &str)]) -> Server {
    let mut env: Vec<(&str, String)> = s3.env();
    env.extend([
        ("S3_PREFIX", "hls/".to_owned()),
        ("PRESIGN_ALLOW_GET", "true".to_owned()),
    ]);
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    server::start(&env)
}

fn publisher() -> String {
    server::token_with("publisher-1", &[("role", json!("publisher"))])
}

/// `POST /presign` as a publisher; the signed URLs of the answer, in order, with the
/// headers each must be sent with.
async fn presign(server: &Server, body: &Value) -> Vec<(String, Value)> {
    let response = http()
        .post(format!("{}/presign", server.base))
        .bearer_auth(publisher())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let reply: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{reply}");
    reply["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["url"].as_str().unwrap().to_owned(), f["headers"].clone()))
        .collect()
}

/// One PUT and one GET URL for `hls/movie-1/{put}` and `hls/movie-1/{get}`.
fn put_and_get(put: &str, get: &str) -> Value {
    json!({"contentId": "movie-1", "files": [
        {"name": put, "contentType": "video/mp2t"},
        {"name": get, "method": "GET"},
    ]})
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn put(url: &str, content_type: Option<&str>, bytes: &[u8]) -> u16 {
    put_reply(url, content_type, bytes).await.0
}

/// The status and the body (an S3 XML error when refused).
async fn put_reply(url: &str, content_type: Option<&str>, bytes: &[u8]) -> (u16, String) {
    let mut request = http().put(url).body(bytes.to_vec());
    if let Some(kind) = content_type {
        request = request.header("content-type", kind);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn get(url: &str) -> (u16, Vec<u8>) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_put_then_get_round_trips_the_bytes() {
    let s3 = S3Server::start();
    let server = start_for(&s3, &[]);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(188 * 100).collect();
    let signed = presign(&server, &put_and_get("seg000.ts", "seg000.ts")).await;
    let kind = signed[0].1["Content-Type"].as_str().unwrap();
    assert_eq!(put(&signed[0].0, Some(kind), &bytes).await, 200);
    assert_eq!(
        std::fs::read(s3.object_path("hls/movie-1/seg000.ts")).unwrap(),
        bytes,
        "stored under {{prefix}}{{contentId}}/{{name}}"
    );
    let (status, body) = get(&signed[1].0).await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
    // The storage checks every signature: an unsigned request is refused.
    let plain = signed[1].0.split('?').next().unwrap();
    assert_eq!(get(plain).await.0, 403);
}

/// Replaces the value of query parameter `name`.
fn with_param(url: &str, name: &str, f: impl Fn(&str) -> String) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name { f(&v) } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_refuses_expired_tampered_moved_and_mistyped_requests() {
    let s3 = S3Server::start();
    let server = start_for(&s3, &[]);
    let signed = presign(&server, &put_and_get("seg000.ts", "seg000.ts")).await;
    let (put_url, get_url) = (signed[0].0.clone(), signed[1].0.clone());
    let bytes = b"ciphertext".to_vec();

    let flip = |v: &str| {
        let mut s = v.to_owned();
        let last = if s.ends_with('0') { "1" } else { "0" };
        s.pop();
        s.push_str(last);
        s
    };
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("a wrong Content-Type", put_url.clone(), Some("text/html")),
        ("no Content-Type", put_url.clone(), None),
        (
            "a tampered signature",
            with_param(&put_url, "X-Amz-Signature", flip),
            Some("video/mp2t"),
        ),
        (
            "a tampered expiry",
            with_param(&put_url, "X-Amz-Expires", |_| "604800".to_owned()),
            Some("video/mp2t"),
        ),
        (
            "another object key",
            put_url.replacen("/seg000.ts?", "/seg001.ts?", 1),
            Some("video/mp2t"),
        ),
        (
            "another content's folder",
            put_url.replacen("/movie-1/", "/movie-2/", 1),
            Some("video/mp2t"),
        ),
        ("a GET URL used to PUT", get_url.clone(), Some("video/mp2t")),
    ];
    for (case, url, kind) in &cases {
        if *kind == Some("video/mp2t") {
            assert_ne!(url, &put_url, "{case}: the URL was not changed");
        }
        let (status, reply) = put_reply(url, *kind, &bytes).await;
        assert_eq!(status, 403, "{case}: {reply}");
        assert!(
            reply.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{case}: {reply}"
        );
    }
    for key in [
        "hls/movie-1/seg000.ts",
        "hls/movie-1/seg001.ts",
        "hls/movie-2/seg000.ts",
    ] {
        assert!(!s3.object_path(key).exists(), "{key} was written");
    }
    // Control: the untouched URL works.
    assert_eq!(put(&put_url, Some("video/mp2t"), &bytes).await, 200);
    assert_eq!(get(&get_url).await, (200, bytes.clone()));
    assert_eq!(
        get(&with_param(&get_url, "X-Amz-Signature", flip)).await.0,
        403
    );
    assert_eq!(
        get(&get_url.replacen("/seg000.ts?", "/seg001.ts?", 1))
            .await
            .0,
        403
    );

    // Expired: URLs of the shortest lifetime, used after it.
    let short = start_for(&s3, &[("PRESIGN_TTL", "1s")]);
    let signed = presign(&short, &put_and_get("late.ts", "seg000.ts")).await;
    assert!(signed[0].0.contains("X-Amz-Expires=1&"), "{}", signed[0].0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Refused for its age (the signature itself is right).
    let (status, reply) = put_reply(&signed[0].0, Some("video/mp2t"), &bytes).await;
    assert_eq!(status, 403, "expired PUT: {reply}");
    assert!(
        reply.contains("<Code>AccessDenied</Code>"),
        "expired PUT: {reply}"
    );
    assert_eq!(get(&signed[1].0).await.0, 403, "expired GET");
    assert!(!s3.object_path("hls/movie-1/late.ts").exists());
}

// ---------------------------------------------------------------------------------------
// The settings of `blindcast-keys serve`.

#[test]
fn bad_presign_settings_exit_2_naming_the_setting() {
    let good: Vec<(&str, &str)> = vec![
        ("S3_BUCKET", "media"),
        ("S3_REGION", "us-east-1"),
        ("S3_ENDPOINT", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    for (name, value) in [
        ("S3_BUCKET", "No_Such/Bucket"),
        ("S3_ENDPOINT", "ftp://storage"),
        ("S3_PATH_STYLE", "sometimes"),
        ("S3_PREFIX", "../outside/"),
        ("PRESIGN_TTL", "8d"),
        ("PRESIGN_TTL", "0s"),
        ("PRESIGN_ROLE", "two words"),
        ("PRESIGN_ALLOW_GET", "perhaps"),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_ACCESS_KEY_ID", ""),
    ] {
        let mut extra = good.clone();
        extra.retain(|(k, _)| *k != name);
        extra.push((name, value));
        let out = std::process::Command::new(server::BIN)
            .env_clear()
            .envs(server::server_env(&extra))
            .arg("serve")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}={value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("blindcast-keys: error: {name}")),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains(SECRET_KEY), "secret echoed: {stderr}");
    }
    // A presign setting without S3_BUCKET is a mistake too.
    let out = std::process::Command::new(server::BIN)
        .env_clear()
        .envs(server::server_env(&[("PRESIGN_TTL", "5m")]))
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("blindcast-keys: error: PRESIGN_TTL: applies only with S3_BUCKET"),
        "{stderr}"
    );
}

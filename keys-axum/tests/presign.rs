//! `POST /presign`: the router's answers (oneshot), and the URLs it signs checked by a real
//! S3-compatible server that verifies SigV4 (`s3s-fs` on 127.0.0.1, see common/s3.rs).
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/s3.rs"]
mod s3;
#[path = "common/server.rs"]
mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use blindcast_keys_axum::presign::{PresignConfig, S3Credentials};
use blindcast_keys_axum::{AUDIT_TARGET, JwtAuthenticator, KeyServer};
use common::{SECRET, deriver, post_json, send, token, token_with};
use s3::{ACCESS_KEY, BUCKET, REGION, S3Server, SECRET_KEY};
use serde_json::{Value, json};

fn credentials() -> S3Credentials {
    S3Credentials::new(ACCESS_KEY, SECRET_KEY).unwrap()
}

fn config(endpoint: &str) -> PresignConfig {
    PresignConfig::new(endpoint, true, BUCKET, REGION, credentials())
        .unwrap()
        .prefix("hls/")
        .unwrap()
}

fn router(presign: Option<PresignConfig>, entitlement: Option<&str>) -> Router {
    let auth = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap();
    let mut config = blindcast_keys_axum::RouterConfig::builder();
    if let Some(claim) = entitlement {
        config = config.entitlement_claim(claim);
    }
    let mut server = KeyServer::new(deriver(), auth).config(config.build().unwrap());
    if let Some(presign) = presign {
        server = server.presign(presign);
    }
    server.router()
}

fn publisher() -> String {
    token_with("publisher-1", &[("role", json!("publisher"))])
}

fn body(content: &str, files: &[(&str, &str)]) -> String {
    let files: Vec<Value> = files
        .iter()
        .map(|(name, kind)| json!({ "name": name, "contentType": kind }))
        .collect();
    json!({ "contentId": content, "files": files }).to_string()
}

async fn presign(router: &Router, token: Option<&str>, body: &str) -> common::Reply {
    send(router, post_json("/presign", token, body)).await
}

/// The signed URLs of a successful answer, by file name.
fn urls(reply: &common::Reply) -> Vec<(String, String, Value)> {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["url"].as_str().unwrap().to_owned(),
                f["headers"].clone(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The router: who may presign, what is refused.

#[tokio::test]
async fn presign_is_not_found_unless_configured() {
    let off = router(None, None);
    let reply = presign(
        &off,
        Some(&publisher()),
        &body("movie-1", &[("a.ts", "video/mp2t")]),
    )
    .await;
    assert_eq!((reply.status, reply.code().as_str()), (404, "not_found"));
    let on = router(Some(config("http://127.0.0.1:9")), None);
    let reply = presign(
        &on,
        Some(&publisher()),
        &body("movie-1", &[("a.ts", "video/mp2t")]),
    )
    .await;
    assert_eq!(reply.status, 200);
    let get = send(&on, common::get("/presign", Some(&publisher()))).await;
    assert_eq!(get.status, 405);
}

#[tokio::test]
async fn only_publishers_entitled_to_the_content_may_presign() {
    let r = router(Some(config("http://127.0.0.1:9")), None);
    let one = body("movie-1", &[("a.ts", "video/mp2t")]);
    let reply = presign(&r, None, &one).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (401, "unauthenticated")
    );
    for (case, token) in [
        ("no role claim", token("viewer-1")),
        (
            "another role",
            token_with("viewer-1", &[("role", json!("viewer"))]),
        ),
        (
            "a longer role",
            token_with("viewer-1", &[("role", json!("publishers"))]),
        ),
        (
            "roles list without it",
            token_with("v", &[("role", json!(["viewer", "admin"]))]),
        ),
        (
            "not a string",
            token_with("v", &[("role", json!({ "publisher": true }))]),
        ),
        (
            "another claim",
            token_with("v", &[("roles", json!("publisher"))]),
        ),
    ] {
        let reply = presign(&r, Some(&token), &one).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (403, "forbidden"),
            "{case}"
        );
    }
    for token in [
        publisher(),
        token_with("p", &[("role", json!(["viewer", "publisher"]))]),
        token_with("p", &[("role", json!("viewer publisher"))]),
    ] {
        assert_eq!(presign(&r, Some(&token), &one).await.status, 200);
    }

    // A scope instead of a role.
    let scoped = router(
        Some(
            config("http://127.0.0.1:9")
                .publisher_role("scope", "media:publish")
                .unwrap(),
        ),
        None,
    );
    let good = token_with("p", &[("scope", json!("openid media:publish"))]);
    assert_eq!(presign(&scoped, Some(&good), &one).await.status, 200);
    let bad = token_with("p", &[("scope", json!("openid media:read"))]);
    assert_eq!(presign(&scoped, Some(&bad), &one).await.status, 403);
    assert_eq!(presign(&scoped, Some(&publisher()), &one).await.status, 403);

    // Entitlement patterns apply to publishers too.
    let entitled = router(Some(config("http://127.0.0.1:9")), Some("content"));
    let series = token_with(
        "p",
        &[
            ("role", json!("publisher")),
            ("content", json!(["series-*"])),
        ],
    );
    let reply = presign(&entitled, Some(&series), &one).await;
    assert_eq!((reply.status, reply.code().as_str()), (403, "forbidden"));
    let reply = presign(
        &entitled,
        Some(&series),
        &body("series-7", &[("a.ts", "video/mp2t")]),
    )
    .await;
    assert_eq!(reply.status, 200);
    let reply = presign(&entitled, Some(&publisher()), &one).await;
    assert_eq!(
        reply.status, 403,
        "no entitlement claim entitles to nothing"
    );
}

#[tokio::test]
async fn bad_requests_get_400_naming_the_problem() {
    let r = router(Some(config("http://127.0.0.1:9")), None);
    let p = publisher();
    let long = "a".repeat(256);
    for name in [
        "",
        ".",
        "..",
        "../escape.ts",
        "a/b.ts",
        "a\\b.ts",
        "/abs.ts",
        "a..b.ts",
        "seg 1.ts",
        "seg\n1.ts",
        "seg\t1.ts",
        "seg\u{0}.ts",
        "seg\u{7f}.ts",
        "séance.ts",
        "seg%2f.ts",
        "seg?.ts",
        "seg#.ts",
        long.as_str(),
    ] {
        let reply = presign(
            &r,
            Some(&p),
            &body("movie-1", &[("ok.ts", "video/mp2t"), (name, "video/mp2t")]),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (400, "invalid_file_name"),
            "{name:?}"
        );
    }
    assert_eq!(
        presign(
            &r,
            Some(&p),
            &body("movie-1", &[(&"a".repeat(255), "video/mp2t")])
        )
        .await
        .status,
        200
    );
    for kind in [
        "",
        "video",
        "video/",
        "video/mp2t/x",
        "video/mp2t\r\nx-amz-acl: public-read",
        "video/mp2t; q",
        "vidéo/mp2t",
        "video /mp2t",
    ] {
        let reply = presign(&r, Some(&p), &body("movie-1", &[("a.ts", kind)])).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (400, "invalid_content_type"),
            "{kind:?}"
        );
    }
    let too_many: Vec<(String, &str)> = (0..101)
        .map(|i| (format!("seg{i:03}.ts"), "video/mp2t"))
        .collect();
    let names: Vec<(&str, &str)> = too_many.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("no contentType on a PUT", json!({"contentId": "movie-1", "files": [{"name": "a.ts"}]}).to_string(), 400, "invalid_content_type"),
        ("no files", body("movie-1", &[]), 400, "invalid_body"),
        ("101 files", body("movie-1", &names), 400, "invalid_body"),
        ("files not a list", json!({"contentId": "movie-1", "files": "a.ts"}).to_string(), 400, "invalid_body"),
        ("no contentId", json!({"files": [{"name": "a.ts", "contentType": "video/mp2t"}]}).to_string(), 400, "invalid_body"),
        ("an array body", json!(["movie-1", []]).to_string(), 400, "invalid_body"),
        ("malformed JSON", "{\"contentId\":".to_owned(), 400, "invalid_body"),
        ("an unknown method", json!({"contentId": "movie-1", "files": [{"name": "a.ts", "contentType": "video/mp2t", "method": "DELETE"}]}).to_string(), 400, "invalid_body"),
        ("a bad content id", body("../movie", &[("a.ts", "video/mp2t")]), 400, "invalid_content_id"),
        ("GET while GET is off", json!({"contentId": "movie-1", "files": [{"name": "a.ts", "method": "GET"}]}).to_string(), 403, "forbidden"),
    ];
    for (case, text, status, code) in cases {
        let reply = presign(&r, Some(&p), &text).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (status, code),
            "{case}"
        );
    }
    let hundred: Vec<(&str, &str)> = names[..100].to_vec();
    assert_eq!(
        presign(&r, Some(&p), &body("movie-1", &hundred))
            .await
            .status,
        200
    );
    // Not JSON at all.
    let request = http::Request::post("/presign")
        .header("authorization", format!("Bearer {p}"))
        .header("content-type", "text/plain")
        .body(axum::body::Body::from(body(
            "movie-1",
            &[("a.ts", "video/mp2t")],
        )))
        .unwrap();
    assert_eq!(send(&r, request).await.status, 415);
    // Larger than the presign body limit.
    let huge = format!(
        "{{\"contentId\":\"movie-1\",\"pad\":\"{}\"}}",
        "x".repeat(200_000)
    );
    assert_eq!(presign(&r, Some(&p), &huge).await.status, 413);
}

/// Collects everything logged while `f` runs, as the JSON lines the server prints.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn answers_list_signed_urls_and_the_audit_log_never_holds_them() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let session = S3Credentials::new(ACCESS_KEY, SECRET_KEY)
        .unwrap()
        .session_token("SESSION-TOKEN-VALUE-9k2")
        .unwrap();
    let with_token = PresignConfig::new(
        "https://s3.example.com",
        false,
        BUCKET,
        "eu-west-1",
        session,
    )
    .unwrap()
    .prefix("hls/")
    .unwrap()
    .allow_get(true);
    let r = router(Some(with_token), None);
    let text = json!({"contentId": "movie-1", "files": [
        {"name": "seg000.ts", "contentType": "video/mp2t"},
        {"name": "index.m3u8", "contentType": "application/vnd.apple.mpegurl", "method": "PUT"},
        {"name": "index.m3u8", "method": "GET"},
    ]})
    .to_string();
    let reply = presign(&r, Some(&publisher()), &text).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let answer = reply.json();
    assert_eq!(answer["contentId"], "movie-1");
    let files = answer["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    let expires = answer["expiresAt"].as_str().unwrap();
    let at = humantime::parse_rfc3339(expires).unwrap();
    let ttl = at.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(
        ttl > Duration::from_secs(890) && ttl <= Duration::from_secs(900),
        "{ttl:?}"
    );
    for (file, (name, method, kind)) in files.iter().zip([
        ("seg000.ts", "PUT", Some("video/mp2t")),
        ("index.m3u8", "PUT", Some("application/vnd.apple.mpegurl")),
        ("index.m3u8", "GET", None),
    ]) {
        assert_eq!(file["name"], name);
        assert_eq!(file["method"], method);
        assert_eq!(file["expiresAt"], expires);
        let url = url_parts(file["url"].as_str().unwrap());
        assert_eq!(
            url.0,
            format!("https://media.s3.example.com/hls/movie-1/{name}")
        );
        let q = |k: &str| url.1.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(q("X-Amz-Expires").as_deref(), Some("900"));
        assert_eq!(q("X-Amz-Algorithm").as_deref(), Some("AWS4-HMAC-SHA256"));
        assert!(
            q("X-Amz-Credential")
                .unwrap()
                .starts_with(&format!("{ACCESS_KEY}/"))
        );
        assert!(
            q("X-Amz-Credential")
                .unwrap()
                .contains("/eu-west-1/s3/aws4_request")
        );
        assert_eq!(
            q("X-Amz-Security-Token").as_deref(),
            Some("SESSION-TOKEN-VALUE-9k2")
        );
        match kind {
            Some(kind) => {
                assert_eq!(file["headers"], json!({ "Content-Type": kind }));
                assert_eq!(
                    q("X-Amz-SignedHeaders").as_deref(),
                    Some("content-type;host")
                );
            }
            None => {
                assert_eq!(file["headers"], json!({}));
                assert_eq!(q("X-Amz-SignedHeaders").as_deref(), Some("host"));
            }
        }
        assert!(!file["url"].as_str().unwrap().contains(SECRET_KEY));
    }
    // Refused once too, for the audit trail.
    let reply = presign(&r, Some(&token("viewer-9")), &text).await;
    assert_eq!(reply.status, 403);

    let logged = logs.text();
    let events: Vec<Value> = logged
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == AUDIT_TARGET)
        .collect();
    assert_eq!(events.len(), 2, "{logged}");
    let fields = &events[0]["fields"];
    assert_eq!(fields["operation"], "presign");
    assert_eq!(fields["outcome"], "presigned");
    // No issuer is checked: the publisher's id is the (iss, sub) pair.
    assert_eq!(fields["publisher"], r#"[null,"publisher-1"]"#);
    assert_eq!(fields["content"], "movie-1");
    assert_eq!(fields["files"], 3);
    assert_eq!(fields["puts"], 2);
    assert_eq!(fields["gets"], 1);
    let fields = &events[1]["fields"];
    assert_eq!(fields["outcome"], "refused");
    assert_eq!(fields["reason"], "forbidden");
    assert_eq!(fields["publisher"], r#"[null,"viewer-9"]"#);
    for secret in [
        SECRET_KEY,
        "SESSION-TOKEN-VALUE-9k2",
        "X-Amz-Signature",
        "X-Amz-Credential",
    ] {
        assert!(!logged.contains(secret), "{secret} logged: {logged}");
    }
    for file in files {
        let url = file["url"].as_str().unwrap();
        let signature = url.rsplit("X-Amz-Signature=").next().unwrap();
        assert!(!logged.contains(signature), "signature logged");
    }
}

/// `(scheme://host/path, query pairs)` of a URL.
fn url_parts(url: &str) -> (String, Vec<(String, String)>) {
    let (base, query) = url.split_once('?').unwrap();
    let pairs = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (base.to_owned(), pairs)
}

// ---------------------------------------------------------------------------------------
// The storage server checks what was signed.

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
    let r = router(Some(config(&s3.endpoint).allow_get(true)), None);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(188 * 100).collect();
    let text = json!({"contentId": "movie-1", "files": [
        {"name": "seg000.ts", "contentType": "video/mp2t"},
        {"name": "seg000.ts", "method": "GET"},
    ]})
    .to_string();
    let signed = urls(&presign(&r, Some(&publisher()), &text).await);
    let kind = signed[0].2["Content-Type"].as_str().unwrap();
    assert_eq!(put(&signed[0].1, Some(kind), &bytes).await, 200);
    assert_eq!(
        std::fs::read(s3.object_path("hls/movie-1/seg000.ts")).unwrap(),
        bytes,
        "stored under {{prefix}}{{contentId}}/{{name}}"
    );
    let (status, body) = get(&signed[1].1).await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
    // The storage checks every signature: an unsigned request is refused.
    let plain = signed[1].1.split('?').next().unwrap();
    assert_eq!(get(plain).await.0, 403);
}

/// Replaces the value of query parameter `name`.
fn with_param(url: &str, name: &str, f: impl Fn(&str) -> String) -> String {
    let (base, pairs) = url_parts(url);
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        let v = if k == name { f(&v) } else { v };
        out.append_pair(&k, &v);
    }
    format!("{base}?{}", out.finish())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_refuses_expired_tampered_moved_and_mistyped_requests() {
    let s3 = S3Server::start();
    let r = router(Some(config(&s3.endpoint).allow_get(true)), None);
    let text = json!({"contentId": "movie-1", "files": [
        {"name": "seg000.ts", "contentType": "video/mp2t"},
        {"name": "seg000.ts", "method": "GET"},
    ]})
    .to_string();
    let signed = urls(&presign(&r, Some(&publisher()), &text).await);
    let (put_url, get_url) = (signed[0].1.clone(), signed[1].1.clone());
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
    let short = router(
        Some(
            config(&s3.endpoint)
                .allow_get(true)
                .ttl(Duration::from_secs(1))
                .unwrap(),
        ),
        None,
    );
    let text = json!({"contentId": "movie-1", "files": [
        {"name": "late.ts", "contentType": "video/mp2t"},
        {"name": "seg000.ts", "method": "GET"},
    ]})
    .to_string();
    let signed = urls(&presign(&short, Some(&publisher()), &text).await);
    assert!(signed[0].1.contains("X-Amz-Expires=1&"), "{}", signed[0].1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Refused for its age (the signature itself is right).
    let (status, reply) = put_reply(&signed[0].1, Some("video/mp2t"), &bytes).await;
    assert_eq!(status, 403, "expired PUT: {reply}");
    assert!(
        reply.contains("<Code>AccessDenied</Code>"),
        "expired PUT: {reply}"
    );
    assert_eq!(get(&signed[1].1).await.0, 403, "expired GET");
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
        stderr.starts_with("blindcast-keys: error: PRESIGN_TTL: needs S3_BUCKET"),
        "{stderr}"
    );
}

//! `POST /presign`: the router's answers, in process (oneshot). The URLs it signs are
//! checked by a real S3-compatible server in the system tests (`presign`, `presign_flow`).
#![cfg(feature = "presign")]
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use blindcast_keys_axum::presign::{PresignConfig, S3Credentials};
use blindcast_keys_axum::{AUDIT_TARGET, JwtAuthenticator, KeyServer};
use common::{SECRET, deriver, post_json, send, token, token_with};
use serde_json::{Value, json};

// Signing needs no storage server: these only have to look like S3 credentials.
const ACCESS_KEY: &str = "AKIABLINDCASTTEST01";
/// Random-looking, so a match of it in any output is never a coincidence.
const SECRET_KEY: &str = "q8Zr4WvN2xK7pT1mB9cY5hJ3dL6fG0sA+uE/oI8n";
const BUCKET: &str = "media";
const REGION: &str = "us-east-1";

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

/// A `POST /presign` of `text` as JSON by `token`.
fn presign_request(token: &str, text: &str) -> http::Request<axum::body::Body> {
    post_json("/presign", Some(token), text)
}

#[tokio::test]
async fn bad_requests_get_400_naming_the_problem() {
    let r = router(Some(config("http://127.0.0.1:9")), None);
    let p = publisher();
    // (case, request, expected status, expected error code; `None` for a success).
    let mut cases: Vec<(String, http::Request<axum::body::Body>, u16, Option<&str>)> = Vec::new();
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
        let text = body("movie-1", &[("ok.ts", "video/mp2t"), (name, "video/mp2t")]);
        cases.push((
            format!("file name {name:.40?}"),
            presign_request(&p, &text),
            400,
            Some("invalid_file_name"),
        ));
    }
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
        let text = body("movie-1", &[("a.ts", kind)]);
        cases.push((
            format!("content type {kind:?}"),
            presign_request(&p, &text),
            400,
            Some("invalid_content_type"),
        ));
    }
    let too_many: Vec<(String, &str)> = (0..101)
        .map(|i| (format!("seg{i:03}.ts"), "video/mp2t"))
        .collect();
    let names: Vec<(&str, &str)> = too_many.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    let bodies: Vec<(&str, String, u16, &str)> = vec![
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
    for (case, text, status, code) in bodies {
        cases.push((
            case.to_owned(),
            presign_request(&p, &text),
            status,
            Some(code),
        ));
    }
    // Not JSON at all, and larger than the presign body limit.
    let not_json = http::Request::post("/presign")
        .header("authorization", format!("Bearer {p}"))
        .header("content-type", "text/plain")
        .body(axum::body::Body::from(body(
            "movie-1",
            &[("a.ts", "video/mp2t")],
        )))
        .unwrap();
    cases.push((
        "a text/plain body".into(),
        not_json,
        415,
        Some("unsupported_media_type"),
    ));
    let huge = format!(
        "{{\"contentId\":\"movie-1\",\"pad\":\"{}\"}}",
        "x".repeat(200_000)
    );
    cases.push((
        "a 200 KB body".into(),
        presign_request(&p, &huge),
        413,
        Some("payload_too_large"),
    ));
    // Controls at the limits, so the refusals above are about the named problem.
    let longest = body("movie-1", &[(&"a".repeat(255), "video/mp2t")]);
    cases.push((
        "control: a 255-byte file name".into(),
        presign_request(&p, &longest),
        200,
        None,
    ));
    let hundred = body("movie-1", &names[..100]);
    cases.push((
        "control: 100 files".into(),
        presign_request(&p, &hundred),
        200,
        None,
    ));

    let mut wrong = Vec::new();
    let total = cases.len();
    for (case, request, status, code) in cases {
        let reply = send(&r, request).await;
        let got = (reply.status, code.map(|_| reply.code()));
        if got != (status, code.map(str::to_owned)) {
            wrong.push(format!("{case}: expected {status} {code:?}, got {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {total} cases wrong: {wrong:#?}",
        wrong.len()
    );
    assert_eq!(total, 40, "a case was lost");
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
    // With this thread's subscriber the only one, tracing caches the interest of a callsite
    // first reached on another test's thread from that thread's (none: "never log"), and
    // this test loses the event. A global subscriber that prints nothing makes two.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
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

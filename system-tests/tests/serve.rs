//! The real `blindcast-keys serve` binary on a loopback port, driven over HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::server::{BIN, Server, expected_key, server_env, start};

/// A token from the binary's own `token` command, with the test servers' secret.
fn token(sub: &str) -> String {
    let out = Command::new(BIN)
        .env_clear()
        .envs(server_env(&[]))
        .args(["token", "--sub", sub, "--ttl", "10m"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn leases_limit_and_keys(server: &Server) {
    let http = reqwest::Client::new();
    let t = token("viewer-1");
    let create = |content: &str| {
        http.post(format!("{}/keys/leases", server.base))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body(format!(r#"{{"contentId":"{content}"}}"#))
            .send()
    };
    let first = create("movie-1").await.unwrap();
    assert_eq!(first.status(), 201);
    let lease: serde_json::Value = first.json().await.unwrap();
    let lease_id = lease["leaseId"].as_str().unwrap().to_owned();
    assert_eq!(create("movie-2").await.unwrap().status(), 201);
    let third = create("movie-3").await.unwrap();
    assert_eq!(third.status(), 409);
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"], "lease_limit_reached");

    let key_url = format!("{}/keys/movie-1", server.base);
    let no_lease = http.get(&key_url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(no_lease.status(), 403);
    let with_lease = http
        .get(&key_url)
        .bearer_auth(&t)
        .header("x-blindcast-lease", &lease_id)
        .send()
        .await
        .unwrap();
    assert_eq!(with_lease.status(), 200);
    assert_eq!(
        with_lease.bytes().await.unwrap().to_vec(),
        expected_key("movie-1", None)
    );
    // The query form, as a key URI in a playlist would carry it.
    let query = http
        .get(format!("{key_url}?token={t}&lease={lease_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200);

    let released = http
        .delete(format!("{}/keys/leases/{lease_id}", server.base))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), 204);
    assert_eq!(create("movie-3").await.unwrap().status(), 201);
    let ready = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn sqlite_store_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("leases.db").display());
    let server = start(&[("LEASE_STORE", &store), ("MAX_LEASES_PER_VIEWER", "2")]);
    leases_limit_and_keys(&server).await;
}

#[tokio::test]
async fn postgres_store_over_http() {
    let url = blindcast_lease_testkit::postgres_url();
    let server = start(&[("LEASE_STORE", &url), ("MAX_LEASES_PER_VIEWER", "2")]);
    // Viewers are unique per run so a shared database does not interfere.
    let _ = &server;
    leases_limit_and_keys_for(&server, &blindcast_lease_testkit::unique_name("viewer")).await;
}

async fn leases_limit_and_keys_for(server: &Server, viewer: &str) {
    let http = reqwest::Client::new();
    let t = token(viewer);
    let create = || {
        http.post(format!("{}/keys/leases", server.base))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body(r#"{"contentId":"movie-1"}"#)
            .send()
    };
    let lease: serde_json::Value = create().await.unwrap().json().await.unwrap();
    assert_eq!(create().await.unwrap().status(), 201);
    assert_eq!(create().await.unwrap().status(), 409);
    let key = http
        .get(format!("{}/keys/movie-1/9", server.base))
        .bearer_auth(&t)
        .header("x-blindcast-lease", lease["leaseId"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 200);
    assert_eq!(
        key.bytes().await.unwrap().to_vec(),
        expected_key("movie-1", Some(9))
    );
}

#[tokio::test]
async fn keys_without_a_lease_store_need_only_a_token() {
    let server = start(&[]);
    let http = reqwest::Client::new();
    let key = http
        .get(format!("{}/keys/movie-1", server.base))
        .bearer_auth(token("v"))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 200);
    assert_eq!(key.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        key.bytes().await.unwrap().to_vec(),
        expected_key("movie-1", None)
    );
}

#[test]
fn bad_settings_exit_2_naming_the_setting() {
    for (name, value) in [
        ("BIND", "not-an-address"),
        ("LEASE_TTL", "forever"),
        ("LEASE_STORE", "redis://x"),
        ("MAX_LEASES_PER_VIEWER", "0"),
        ("CORS_ORIGINS", "null"),
        ("LOG_FORMAT", "xml"),
        ("JWT_SECRET", "too-short"),
        ("JWT_JWKS_URL", "ftp://x"),
        ("JWT_PUBLIC_KEY_FILE", "/nonexistent/key.pem"),
        ("MASTER_KEY", "abcd"),
    ] {
        // A key source other than the secret replaces it.
        let replaces_secret = name == "JWT_JWKS_URL" || name == "JWT_PUBLIC_KEY_FILE";
        let mut extra = vec![(name, value)];
        if replaces_secret {
            extra.push(("JWT_SECRET", ""));
        }
        let out = Command::new(BIN)
            .env_clear()
            .envs(server_env(&extra))
            .arg("serve")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("blindcast-keys: error: {name}")),
            "{stderr}"
        );
        if name == "JWT_SECRET" || name == "MASTER_KEY" {
            assert!(!stderr.contains(value), "{name} echoed: {stderr}");
        }
    }
    let out = Command::new(BIN)
        .env_clear()
        .envs(server_env(&[("JWT_SECRET", "")]))
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
}

#[test]
fn sigterm_shuts_down_cleanly() {
    // SIGTERM sent the moment the server says it is listening, five times: the handlers
    // are installed before that line, so none of these ends the process the default way
    // (killed by the signal, no exit status).
    for _ in 0..5 {
        let mut server = start(&[]);
        let pid = server.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                assert!(status.success(), "{status:?}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no shutdown within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

//! The real `blindcast-keys serve` binary on a loopback port, driven over HTTP.
#![allow(clippy::unwrap_used)]

mod common;
use common::openssl_hkdf;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::server::{BIN, JWT_SECRET as SECRET, MASTER_HEX as MASTER, SALT_HEX as SALT};

fn base_env(cmd: &mut Command) -> &mut Command {
    cmd.env_clear()
        .env("MASTER_KEY", MASTER)
        .env("SALT", SALT)
        .env("JWT_SECRET", SECRET)
        .env("BIND", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd).arg("serve");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["message"] == "listening"
        {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    // Keep draining the logs so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

fn token(sub: &str) -> String {
    let out = base_env(&mut Command::new(BIN))
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

/// The key a correct server serves, from `openssl kdf` (not from the binary's code).
fn derive(content: &str) -> Vec<u8> {
    openssl_hkdf::openssl_key(MASTER, SALT, content, None)
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
        derive("movie-1")
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
        openssl_hkdf::openssl_key(MASTER, SALT, "movie-1", Some(9))
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
    assert_eq!(key.bytes().await.unwrap().to_vec(), derive("movie-1"));
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
        let mut cmd = Command::new(BIN);
        base_env(&mut cmd).env(name, value).arg("serve");
        if name == "JWT_JWKS_URL" || name == "JWT_PUBLIC_KEY_FILE" {
            cmd.env_remove("JWT_SECRET");
        }
        let out = cmd.output().unwrap();
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
        .env("MASTER_KEY", MASTER)
        .env("SALT", SALT)
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let server = start(&[]);
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let mut server = server;
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

//! What the player tests share: the key server's JSON audit log, leases over HTTP, a
//! static file server for playlists, segments and the player page, ffmpeg's request
//! headers, and `examples/player/e2e.mjs` (hls.js in headless Chromium).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use blindcast_keys_axum::AUDIT_TARGET;
use serde_json::Value;

use super::server::{Server, client};

// ---------------------------------------------------------------------------------------
// The key server binary (started by the shared helpers), its audit log and its leases.

/// The JSON log lines the server printed, from line `since` on.
pub fn log_lines(server: &Server, since: usize) -> Vec<Value> {
    server
        .output
        .text()
        .lines()
        .skip(since)
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_owned())))
        .collect()
}

pub fn log_len(server: &Server) -> usize {
    server.output.text().lines().count()
}

/// The audit events (one per key request) from log line `since` on.
pub fn audit_since(server: &Server, since: usize) -> Vec<Value> {
    log_lines(server, since)
        .into_iter()
        .filter(|e| e["target"] == AUDIT_TARGET)
        .collect()
}

/// The audit event refusing a key since log line `since`; waits up to 5 s for it.
pub async fn refusal_since(server: &Server, since: usize, reason: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = audit_since(server, since)
            .into_iter()
            .find(|e| e["outcome"] == "refused" && e["reason"] == reason && e["status"] == status);
        if let Some(event) = found {
            return event;
        }
        assert!(
            Instant::now() < deadline,
            "no audit refusal {reason}/{status} logged; audit events: {:?}",
            audit_since(server, since)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn create_lease(server: &Server, token: &str, content: &str) -> String {
    let response = client(Duration::from_secs(10))
        .post(format!("{}/keys/leases", server.base))
        .bearer_auth(token)
        .json(&serde_json::json!({ "contentId": content }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "creating a lease");
    let lease: Value = response.json().await.unwrap();
    lease["leaseId"].as_str().unwrap().to_owned()
}

pub async fn release_lease(server: &Server, token: &str, lease: &str) {
    let response = client(Duration::from_secs(10))
        .delete(format!("{}/keys/leases/{lease}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "releasing a lease");
}

// ---------------------------------------------------------------------------------------
// Packaging and a static file server for playlists, segments and the player page.

pub type Mounts = Arc<Vec<(&'static str, PathBuf)>>;

/// Serves files under URL prefixes (the first matching prefix wins) on a free loopback
/// port; returns the origin, e.g. `http://127.0.0.1:41234`.
pub async fn serve_files(mounts: Vec<(&'static str, PathBuf)>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(file).with_state(Arc::new(mounts));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

pub async fn file(State(mounts): State<Mounts>, uri: Uri) -> Response {
    for (prefix, dir) in mounts.iter() {
        let Some(rest) = uri.path().strip_prefix(prefix) else {
            continue;
        };
        // Plain names only: no `..`, no dot files, no percent-decoding needed.
        if rest.split('/').any(|c| c.starts_with('.')) {
            return StatusCode::NOT_FOUND.into_response();
        }
        let rest = if rest.is_empty() { "index.html" } else { rest };
        let Ok(bytes) = tokio::fs::read(dir.join(rest)).await else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let kind = match rest.rsplit('.').next() {
            Some("m3u8") => "application/vnd.apple.mpegurl",
            Some("ts") => "video/mp2t",
            Some("html") => "text/html; charset=utf-8",
            Some("js" | "mjs") => "text/javascript",
            _ => "application/octet-stream",
        };
        return ([(header::CONTENT_TYPE, kind)], bytes).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

// ---------------------------------------------------------------------------------------
// ffmpeg and hls.js.

/// ffmpeg's `-headers`: the token (if any) and the lease of a key request.
pub fn headers(token: Option<&str>, lease: &str) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!("{auth}X-Blindcast-Lease: {lease}\r\n")
}

/// Runs `examples/player/e2e.mjs` in `mode` and asserts it passed.
pub async fn e2e(player: &Path, mode: &str, key_server: &str, page: &str, screenshot: &Path) {
    e2e_with(player, mode, key_server, page, screenshot, &[]).await;
}

/// Like [`e2e`], with more arguments (`--expect-status 410`).
pub async fn e2e_with(
    player: &Path,
    mode: &str,
    key_server: &str,
    page: &str,
    screenshot: &Path,
    extra: &[&str],
) {
    let script = player.join("e2e.mjs");
    let mut args = vec![script.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend(
        [
            "--mode",
            mode,
            "--key-server",
            key_server,
            "--page",
            page,
            "--screenshot",
        ]
        .map(std::ffi::OsStr::new),
    );
    args.push(screenshot.as_os_str());
    let out = super::browser::node(player, &args, Duration::from_secs(100), "e2e.mjs").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("e2e {mode}: {stdout}");
    assert!(
        out.status.success(),
        "e2e.mjs --mode {mode} failed:\n{stderr}\n{stdout}"
    );
    assert!(stdout.contains(&format!("e2e {mode}: PASS")), "{stdout}");
}

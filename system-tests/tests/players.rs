//! Real players against the real `blindcast-keys serve` binary, all on loopback: ffmpeg
//! decodes the encrypted HLS of `examples/hls/package.sh` frame for frame, and hls.js plays
//! it in Debian's headless Chromium (`examples/player/e2e.mjs`) from another origin.
//! Nothing here skips: a missing tool fails the test with the command that installs it.
#![allow(clippy::unwrap_used)]

mod common;
use common::{media, server};

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::playback::{
    audit_since, create_lease, e2e, headers, log_len, refusal_since, release_lease, serve_files,
};
use media::{framemd5, package, require_ffmpeg, workspace};
use serde_json::Value;
use server::{Server, client, start, token};

const CONTENT: &str = "demo-movie";
const VIEWER: &str = "viewer-1";
/// VIEWER's id in the audit log: no JWT_ISSUER is set, so it is the (iss, sub) pair, and
/// the test tokens carry no `iss`.
const AUDIT_VIEWER: &str = r#"[null,"viewer-1"]"#;

/// One player at a time: ffmpeg and Chromium running together on a 2-core machine starve
/// each other (and the servers they talk to) into timeouts.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------
// ffmpeg as the player.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_decodes_single_and_rotating_key_playlists_frame_for_frame() {
    let _serial = SERIAL.lock().await;
    require_ffmpeg();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("leases.db").display());
    let server = start(&[("LEASE_STORE", &store)]);
    let media = dir.path().join("media");
    package(&media, &server.base, CONTENT).await;
    let origin = serve_files(vec![("/", media.clone())]).await;

    let source = framemd5(media.join("source.ts").to_str().unwrap(), None).await;
    assert!(source.success, "decoding source.ts: {}", source.stderr);
    // 12 s at 25 fps.
    assert_eq!(source.hashes.len(), 300);

    let token = token(VIEWER);
    let lease = create_lease(&server, &token, CONTENT).await;
    for (playlist, epochs) in [
        ("single", vec![Value::Null]),
        (
            "rotating",
            vec![0, 1, 2].into_iter().map(Value::from).collect(),
        ),
    ] {
        let since = log_len(&server);
        let played = framemd5(
            &format!("{origin}/{playlist}/index.m3u8"),
            Some(&headers(Some(&token), &lease)),
        )
        .await;
        assert!(
            played.success,
            "{playlist}: ffmpeg failed: {}",
            played.stderr
        );
        assert_eq!(
            played.hashes.len(),
            source.hashes.len(),
            "{playlist}: frame count"
        );
        assert!(
            played.hashes == source.hashes,
            "{playlist}: decoded frames differ from source.ts"
        );
        // Every key came from the key server, to this viewer under this lease.
        let issued: Vec<Value> = audit_since(&server, since)
            .into_iter()
            .filter(|e| e["outcome"] == "issued")
            .collect();
        let mut seen: Vec<Value> = issued.iter().map(|e| e["epoch"].clone()).collect();
        seen.dedup();
        assert_eq!(seen, epochs, "{playlist}: keys issued: {issued:?}");
        for e in &issued {
            assert_eq!(e["viewer"], AUDIT_VIEWER);
            assert_eq!(e["content"], CONTENT);
            assert_eq!(e["lease"], lease.as_str());
        }
    }
    eprintln!("ffmpeg playback: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_fails_at_the_key_request_without_a_valid_token_and_lease() {
    let _serial = SERIAL.lock().await;
    require_ffmpeg();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("leases.db").display());
    // Two servers on one SQLite file: the players' server gives leases the default 120 s,
    // so no case below can see its lease expire however slowly ffmpeg runs; the other
    // gives the shortest lifetime the server accepts, for the lease that must expire.
    let server = start(&[("LEASE_STORE", &store), ("MAX_LEASES_PER_VIEWER", "10")]);
    let short = start(&[
        ("LEASE_STORE", &store),
        ("LEASE_TTL", "3s"),
        ("MAX_LEASES_PER_VIEWER", "10"),
    ]);
    let media = dir.path().join("media");
    package(&media, &server.base, CONTENT).await;
    let origin = serve_files(vec![("/", media.clone())]).await;
    let playlist = format!("{origin}/single/index.m3u8");

    let other_viewer = token("viewer-2");
    let token = token(VIEWER);
    let expiring = create_lease(&short, &token, CONTENT).await;

    // Control: the same request with a fresh lease plays, so each failure below is the
    // key server's refusal and nothing else.
    let fresh = create_lease(&server, &token, CONTENT).await;
    let control = framemd5(&playlist, Some(&headers(Some(&token), &fresh))).await;
    assert!(control.success, "control playback: {}", control.stderr);
    assert_eq!(control.hashes.len(), 300);

    let released = create_lease(&server, &token, CONTENT).await;
    release_lease(&server, &token, &released).await;
    let other = create_lease(&server, &token, "other-movie").await;
    let wrong_token = blindcast_keys_axum::auth::mint_hs256(
        b"a different secret of at least 32 bytes",
        VIEWER,
        Duration::from_secs(3600),
        std::collections::BTreeMap::new(),
    )
    .unwrap();

    let cases = [
        ("no token", headers(None, &fresh), "unauthenticated", 401),
        (
            "a wrong token",
            headers(Some(&wrong_token), &fresh),
            "unauthenticated",
            401,
        ),
        (
            "a released lease",
            headers(Some(&token), &released),
            "lease_required",
            403,
        ),
        (
            "a lease for other content",
            headers(Some(&token), &other),
            "forbidden",
            403,
        ),
        // Another viewer's lease looks exactly like no lease: ids cannot be probed.
        (
            "another viewer's lease",
            headers(Some(&other_viewer), &fresh),
            "lease_required",
            403,
        ),
    ];
    for (case, sent, reason, status) in &cases {
        refused(&server, &playlist, case, sent, reason, *status).await;
    }
    // Wait for the expiry as the players' server sees it (not a fixed sleep).
    let waiting = Instant::now();
    loop {
        let status = client(Duration::from_secs(10))
            .get(format!("{}/keys/{CONTENT}", server.base))
            .bearer_auth(&token)
            .header("x-blindcast-lease", &expiring)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::GONE {
            break;
        }
        assert_eq!(status, StatusCode::OK, "the short lease before its expiry");
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "the 3 s lease never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    refused(
        &server,
        &playlist,
        "an expired lease",
        &headers(Some(&token), &expiring),
        "lease_expired",
        410,
    )
    .await;
    eprintln!("ffmpeg refusals: {:?}", started.elapsed());
}

/// Plays with `headers` and asserts ffmpeg failed without a frame and the server logged
/// the key refusal.
async fn refused(
    server: &Server,
    playlist: &str,
    case: &str,
    headers: &str,
    reason: &str,
    status: u16,
) {
    let since = log_len(server);
    let played = framemd5(playlist, Some(headers)).await;
    assert!(!played.success, "{case}: ffmpeg succeeded");
    assert!(
        played.hashes.is_empty(),
        "{case}: {} frames decoded",
        played.hashes.len()
    );
    let event = refusal_since(server, since, reason, status).await;
    assert_eq!(event["content"], CONTENT, "{case}");
    assert!(
        audit_since(server, since)
            .iter()
            .all(|e| e["outcome"] == "refused"),
        "{case}: a key was issued"
    );
}

// ---------------------------------------------------------------------------------------
// hls.js in headless Chromium.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_in_chromium_plays_across_a_key_rotation_only_from_an_allowed_origin() {
    let _serial = SERIAL.lock().await;
    let player = workspace().join("examples/player");
    common::browser::require_browser(&["hls.js/dist/hls.min.js"]);
    require_ffmpeg();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    // The page and the media on one port; each key server on its own: real CORS.
    let page_origin = serve_files(vec![("/media/", media.clone()), ("/", player.clone())]).await;
    let page_port = page_origin.rsplit(':').next().unwrap();
    let allowed = start(&[
        (
            "LEASE_STORE",
            &format!("sqlite:{}", dir.path().join("a.db").display()),
        ),
        ("CORS_ORIGINS", &page_origin),
        // Renewals every 2 s (a third of the lifetime), so the page renews while playing.
        ("LEASE_TTL", "6s"),
    ]);
    // The same port under another host name is another origin: matching is exact.
    let denied = start(&[
        (
            "LEASE_STORE",
            &format!("sqlite:{}", dir.path().join("d.db").display()),
        ),
        ("CORS_ORIGINS", &format!("http://localhost:{page_port}")),
    ]);
    let (allowed_media, denied_media) = (media.join("allowed"), media.join("denied"));
    tokio::join!(
        package(&allowed_media, &allowed.base, CONTENT),
        package(&denied_media, &denied.base, CONTENT)
    );
    let token = token(VIEWER);
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("artifacts");

    let screenshot = artifacts.join("player.png");
    let _ = std::fs::remove_file(&screenshot);
    let page = format!(
        "{page_origin}/index.html#token={token}&keyServer={}&content={CONTENT}&src=media/allowed/rotating/index.m3u8",
        allowed.base
    );
    e2e(&player, "allowed", &allowed.base, &page, &screenshot).await;
    let shot = std::fs::read(&screenshot).expect("no screenshot");
    assert!(
        shot.starts_with(b"\x89PNG") && shot.len() > 10_000,
        "screenshot is not a picture of a page"
    );
    // The server's side of it: keys of three epochs issued to this viewer, none refused.
    let audit = audit_since(&allowed, 0);
    assert!(audit.iter().all(|e| e["outcome"] == "issued"), "{audit:?}");
    for epoch in 0..3 {
        assert!(
            audit
                .iter()
                .any(|e| e["epoch"] == epoch && e["viewer"] == AUDIT_VIEWER),
            "epoch {epoch} key not issued: {audit:?}"
        );
    }

    // The lease comes from the app's backend here: lease calls from the page would fail
    // CORS too, and this case is about the key request.
    let lease = create_lease(&denied, &token, CONTENT).await;
    let page = format!(
        "{page_origin}/index.html#token={token}&keyServer={}&content={CONTENT}&lease={lease}&src=media/denied/rotating/index.m3u8",
        denied.base
    );
    e2e(
        &player,
        "denied",
        &denied.base,
        &page,
        &artifacts.join("player-denied.png"),
    )
    .await;
    // The browser stopped at the preflight: the key request itself never reached the server.
    assert!(
        audit_since(&denied, 0).is_empty(),
        "{:?}",
        audit_since(&denied, 0)
    );
    eprintln!("hls.js in chromium: {:?}", started.elapsed());
}

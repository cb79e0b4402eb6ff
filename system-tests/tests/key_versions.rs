//! A master-key rotation end to end, with real players against the real binary on
//! loopback: title A is packaged under key version 1 before the rotation, title B under
//! version 2 after it (the primary then), both with rotating epoch keys
//! (`examples/hls/package.sh`, i.e. `blindcast-keys keyinfo` and ffmpeg). Both play in
//! ffmpeg (frames equal to the clear source) and in hls.js in headless Chromium, with
//! tokens and SQLite leases. Version 1 is then retired and the server restarted on the same
//! address: A's key requests get 410 `key_version_retired` and playback fails; B still
//! plays. Also over real HTTP: unknown (404) and malformed (400) versions.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::media::{framemd5, package_with, require_ffmpeg, workspace};
use common::openssl_hkdf::openssl_key_of_version;
use common::playback::{
    audit_since, create_lease, e2e, e2e_with, headers, log_len, refusal_since, serve_files,
};
use common::server::{MASTER_HEX, SALT_HEX, Server, client, start, token};
use serde_json::Value;

const TITLE_A: &str = "title-a";
const TITLE_B: &str = "title-b";
const VIEWER: &str = "viewer-1";
const MASTER_V2: &str = "c81f3a5e7d9b2046e1a3c5f7092b4d6e8a0c2e4f6183a5c7e9b1d3f5072a4c6e";
const SALT_V2: &str = "71d3b5f9e2a4c6081a3c5e7f92b4d6e8";

/// One player at a time: ffmpeg and Chromium running together on a 2-core machine starve
/// each other into timeouts.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Version 1 alone: the settings before the rotation.
fn before_rotation() -> Vec<(&'static str, &'static str)> {
    vec![("MASTER_KEY", MASTER_HEX), ("SALT", SALT_HEX)]
}

/// Version 2 added and made primary.
fn after_rotation() -> Vec<(&'static str, &'static str)> {
    let mut env = before_rotation();
    env.extend([
        ("MASTER_KEY_V2", MASTER_V2),
        ("SALT_V2", SALT_V2),
        ("KEY_VERSION_PRIMARY", "2"),
    ]);
    env
}

/// Version 1 retired: its secrets removed, its number listed.
fn after_retirement() -> Vec<(&'static str, &'static str)> {
    vec![
        ("MASTER_KEY", ""),
        ("SALT", ""),
        ("MASTER_KEY_V2", MASTER_V2),
        ("SALT_V2", SALT_V2),
        ("KEY_VERSIONS_RETIRED", "1"),
    ]
}

/// A loopback port free right now, so a restarted server answers on the same address the
/// playlists name.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Every `#EXT-X-KEY` URI of a playlist.
fn key_uris(playlist: &Path) -> Vec<String> {
    std::fs::read_to_string(playlist)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-KEY:"))
        .map(|l| {
            let start = l.find("URI=\"").unwrap() + 5;
            let end = l[start..].find('"').unwrap();
            l[start..start + end].to_owned()
        })
        .collect()
}

/// The `/metrics` series of key requests by version, as `(kv, outcome) -> count`.
async fn by_version(server: &Server) -> Vec<(String, String, f64)> {
    let text = client(Duration::from_secs(10))
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("blindcast_key_requests_by_version_total{kv=\""))
        .map(|l| {
            let (kv, rest) = l.split_once("\",outcome=\"").unwrap();
            let (outcome, n) = rest.split_once("\"} ").unwrap();
            (kv.to_owned(), outcome.to_owned(), n.parse().unwrap())
        })
        .collect()
}

fn count(series: &[(String, String, f64)], kv: &str, outcome: &str) -> f64 {
    series
        .iter()
        .find(|(k, o, _)| k == kv && o == outcome)
        .map_or(-1.0, |(_, _, n)| *n)
}

/// Plays `playlist` in ffmpeg with a fresh lease on `content`; returns the frame hashes and
/// the audit events of the key requests it made.
async fn ffmpeg_play(
    server: &Server,
    origin: &str,
    playlist: &str,
    content: &str,
) -> (common::media::Decoded, Vec<Value>) {
    let t = token(VIEWER);
    let lease = create_lease(server, &t, content).await;
    let since = log_len(server);
    let played = framemd5(
        &format!("{origin}/{playlist}"),
        Some(&headers(Some(&t), &lease)),
    )
    .await;
    (played, audit_since(server, since))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_keeps_old_titles_playing_until_their_version_is_retired() {
    let _serial = SERIAL.lock().await;
    require_ffmpeg();
    let player = workspace().join("examples/player");
    common::browser::require_browser(&["hls.js/dist/hls.min.js"]);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let key_server = format!("http://127.0.0.1:{}", free_port());
    let bind = key_server.trim_start_matches("http://").to_owned();

    // Package A under version 1 (the only version), then B after the rotation: keyinfo
    // names version 2 in B's key URIs by itself, and leaves A's as they always were.
    package_with(&media.join("a"), &key_server, TITLE_A, &before_rotation()).await;
    package_with(&media.join("b"), &key_server, TITLE_B, &after_rotation()).await;
    for (title, version_part) in [("a", ""), ("b", "?kv=2")] {
        let single = key_uris(&media.join(title).join("single/index.m3u8"));
        let title_id = if title == "a" { TITLE_A } else { TITLE_B };
        assert_eq!(
            single,
            [format!("{key_server}/keys/{title_id}{version_part}")]
        );
        let rotating = key_uris(&media.join(title).join("rotating/index.m3u8"));
        let want: Vec<String> = (0..3)
            .map(|e| format!("{key_server}/keys/{title_id}/{e}{version_part}"))
            .collect();
        assert_eq!(rotating, want, "{title}");
    }
    let page_origin = serve_files(vec![("/media/", media.clone()), ("/", player.clone())]).await;
    let store = format!("sqlite:{}", dir.path().join("leases.db").display());
    let common_env = [
        ("BIND", bind.as_str()),
        ("LEASE_STORE", store.as_str()),
        ("CORS_ORIGINS", page_origin.as_str()),
        // Renewals every 2 s, so the page renews while playing (e2e.mjs checks it).
        ("LEASE_TTL", "6s"),
        ("MAX_LEASES_PER_VIEWER", "20"),
        ("METRICS", "true"),
    ];
    let with = |keys: Vec<(&'static str, &'static str)>| {
        let mut env: Vec<(&str, &str)> = common_env.to_vec();
        env.extend(keys);
        env
    };

    let source = framemd5(media.join("a/source.ts").to_str().unwrap(), None).await;
    assert!(source.success, "decoding source.ts: {}", source.stderr);
    assert_eq!(source.hashes.len(), 300);
    let source_b = framemd5(media.join("b/source.ts").to_str().unwrap(), None).await;
    assert_eq!(
        source_b.hashes, source.hashes,
        "both titles are the same test video"
    );

    // After the rotation: both versions active, both titles play in ffmpeg.
    let server = start(&with(after_rotation()));
    assert_eq!(server.base, key_server);
    for (title, content, kv) in [("a", TITLE_A, 1), ("b", TITLE_B, 2)] {
        for (playlist, epochs) in [
            ("single", vec![Value::Null]),
            ("rotating", vec![0.into(), 1.into(), 2.into()]),
        ] {
            let path = format!("media/{title}/{playlist}/index.m3u8");
            let (played, audit) = ffmpeg_play(&server, &page_origin, &path, content).await;
            assert!(played.success, "{path}: ffmpeg failed: {}", played.stderr);
            assert!(
                played.hashes == source.hashes,
                "{path}: frames differ from the source"
            );
            let mut seen: Vec<Value> = audit.iter().map(|e| e["epoch"].clone()).collect();
            seen.dedup();
            assert_eq!(seen, epochs, "{path}: {audit:?}");
            for e in &audit {
                assert_eq!(e["outcome"], "issued", "{path}: {e}");
                assert_eq!(e["content"], content, "{path}");
                assert_eq!(e["kv"], kv, "{path}: {e}");
            }
        }
    }
    // The served bytes are the keys of SPEC.md's derivation for each version.
    let t = token(VIEWER);
    let lease = create_lease(&server, &t, TITLE_B).await;
    let key = client(Duration::from_secs(10))
        .get(format!("{key_server}/keys/{TITLE_B}/1?kv=2"))
        .bearer_auth(&t)
        .header("x-blindcast-lease", &lease)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        key.as_ref(),
        openssl_key_of_version(MASTER_V2, SALT_V2, 2, TITLE_B, Some(1))
    );

    // Both in hls.js, across key rotations, from another origin.
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("artifacts");
    let page = |content: &str, title: &str| {
        format!(
            "{page_origin}/index.html#token={t}&keyServer={key_server}&content={content}&src=media/{title}/rotating/index.m3u8"
        )
    };
    for (content, title) in [(TITLE_A, "a"), (TITLE_B, "b")] {
        let since = log_len(&server);
        e2e(
            &player,
            "allowed",
            &key_server,
            &page(content, title),
            &artifacts.join(format!("key-versions-{title}.png")),
        )
        .await;
        let kv = if title == "a" { 1 } else { 2 };
        let audit = audit_since(&server, since);
        assert!(audit.iter().any(|e| e["outcome"] == "issued"), "{audit:?}");
        assert!(audit.iter().all(|e| e["kv"] == kv), "{audit:?}");
    }
    // The operator's view before retiring: version 1 is still being asked for.
    let metrics = by_version(&server).await;
    assert!(count(&metrics, "1", "issued") >= 5.0, "{metrics:?}");
    assert!(count(&metrics, "2", "issued") >= 5.0, "{metrics:?}");
    assert_eq!(count(&metrics, "1", "refused"), 0.0, "{metrics:?}");
    drop(server);

    // Version 1 retired; the server restarts on the same address with the same leases.
    let server = start(&with(after_retirement()));
    assert_eq!(server.base, key_server);
    let (played, audit) =
        ffmpeg_play(&server, &page_origin, "media/a/single/index.m3u8", TITLE_A).await;
    assert!(!played.success, "A played after its version was retired");
    assert!(
        played.hashes.is_empty(),
        "{} frames of A decoded",
        played.hashes.len()
    );
    assert!(audit.iter().all(|e| e["outcome"] == "refused"), "{audit:?}");
    let since = log_len(&server);
    let (played, _) = ffmpeg_play(
        &server,
        &page_origin,
        "media/a/rotating/index.m3u8",
        TITLE_A,
    )
    .await;
    assert!(
        !played.success && played.hashes.is_empty(),
        "rotating A played"
    );
    let event = refusal_since(&server, since, "key_version_retired", 410).await;
    assert_eq!(
        (event["content"].as_str(), event["kv"].as_u64()),
        (Some(TITLE_A), Some(1))
    );
    let (played, audit) = ffmpeg_play(
        &server,
        &page_origin,
        "media/b/rotating/index.m3u8",
        TITLE_B,
    )
    .await;
    assert!(played.success, "B after the retirement: {}", played.stderr);
    assert!(
        played.hashes == source.hashes,
        "B's frames differ from the source"
    );
    assert!(
        audit
            .iter()
            .all(|e| e["outcome"] == "issued" && e["kv"] == 2),
        "{audit:?}"
    );

    // hls.js: A's key requests are answered 410 (readable: CORS allows the page), B plays.
    let since = log_len(&server);
    e2e_with(
        &player,
        "refused",
        &key_server,
        &page(TITLE_A, "a"),
        &artifacts.join("key-versions-a-retired.png"),
        &["--expect-status", "410"],
    )
    .await;
    refusal_since(&server, since, "key_version_retired", 410).await;
    e2e(
        &player,
        "allowed",
        &key_server,
        &page(TITLE_B, "b"),
        &artifacts.join("key-versions-b-after.png"),
    )
    .await;
    let metrics = by_version(&server).await;
    assert!(count(&metrics, "1", "refused") >= 2.0, "{metrics:?}");
    assert_eq!(count(&metrics, "1", "issued"), 0.0, "{metrics:?}");
    assert!(count(&metrics, "2", "issued") >= 3.0, "{metrics:?}");
    eprintln!("key versions end to end: {:?}", started.elapsed());
}

/// Unknown and malformed versions over real HTTP, with a valid token: 404 and 400 JSON
/// errors, recorded in the audit log; nothing issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_versions_over_http() {
    let server = start(&after_rotation());
    let t = token(VIEWER);
    let http = client(Duration::from_secs(10));
    let since = log_len(&server);
    for (query, status, code) in [
        ("kv=3", 404, "unknown_key_version"),
        ("kv=65535", 404, "unknown_key_version"),
        ("kv=abc", 400, "invalid_key_version"),
        ("kv=0", 400, "invalid_key_version"),
        ("kv=01", 400, "invalid_key_version"),
        ("kv=%2B2", 400, "invalid_key_version"),
        ("kv=70000", 400, "invalid_key_version"),
        ("kv=", 400, "invalid_key_version"),
        ("kv=1&kv=2", 400, "invalid_key_version"),
    ] {
        for path in [format!("/keys/{TITLE_A}"), format!("/keys/{TITLE_A}/9")] {
            let response = http
                .get(format!("{}{path}?{query}", server.base))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{path}?{query}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], code, "{path}?{query}");
            assert!(body["message"].is_string());
        }
    }
    // Both versions answer; a URI without kv is version 1.
    for (query, kv) in [("", 1), ("?kv=1", 1), ("?kv=2", 2)] {
        let response = http
            .get(format!("{}/keys/{TITLE_A}/9{query}", server.base))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (master, salt) = if kv == 1 {
            (MASTER_HEX, SALT_HEX)
        } else {
            (MASTER_V2, SALT_V2)
        };
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            openssl_key_of_version(master, salt, kv, TITLE_A, Some(9))
        );
    }
    let audit = audit_since(&server, since);
    let refused = audit.iter().filter(|e| e["outcome"] == "refused").count();
    assert_eq!(refused, 18, "{audit:?}");
}

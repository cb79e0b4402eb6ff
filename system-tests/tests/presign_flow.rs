//! The publisher flow end to end, all on loopback with real programs: derive the key and
//! encrypt with ffmpeg (`examples/hls/package.sh`), presign with the real
//! `blindcast-keys serve` (configured by `S3_*` variables), upload every segment and the
//! playlist to a real S3-compatible server that checks signatures (`s3s-fs`), then a
//! player (ffmpeg) reads them back through presigned GET URLs and decrypts them with a key
//! from the key server: every decoded frame equals the source's.
//! Nothing here skips: a missing tool fails the test with the command that installs it.
#![allow(clippy::unwrap_used)]

mod common;
use common::{media, s3, server};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use blindcast_keys_axum::AUDIT_TARGET;
use media::{Decoded, framemd5, package, require_ffmpeg};
use s3::{S3Server, SECRET_KEY};
use serde_json::{Value, json};
use server::{Server, client, start, token, token_with};

const CONTENT: &str = "demo-movie";
const PUBLISHER: &str = "studio-1";
const VIEWER: &str = "viewer-1";
/// VIEWER's id in the audit log: no JWT_ISSUER is set, so it is the (iss, sub) pair, and
/// the test tokens carry no `iss`.
const AUDIT_VIEWER: &str = r#"[null,"viewer-1"]"#;

/// `POST /presign` as `token`; returns the answer's files.
async fn presign(server: &Server, token: &str, files: Value) -> Vec<Value> {
    let response = client(Duration::from_secs(10))
        .post(format!("{}/presign", server.base))
        .bearer_auth(token)
        .json(&json!({ "contentId": CONTENT, "files": files }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "presign: {body}");
    body["files"].as_array().unwrap().clone()
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else {
        "video/mp2t"
    }
}

/// True when `bytes` look like a plaintext MPEG-TS: a 0x47 sync byte every 188 bytes.
fn looks_like_plain_ts(bytes: &[u8]) -> bool {
    bytes.len() >= 188 * 4 && bytes.chunks(188).take(20).all(|packet| packet[0] == 0x47)
}

/// Serves one playlist at `/play.m3u8` on a free loopback port: the player's app, which
/// hands it a playlist whose segment URIs are presigned GET URLs.
async fn serve_playlist(text: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/play.m3u8",
        axum::routing::get(move || {
            let text = text.clone();
            async move { ([("content-type", "application/vnd.apple.mpegurl")], text) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/play.m3u8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_uploads_ciphertext_through_presigned_urls_and_ffmpeg_plays_it_back() {
    require_ffmpeg();
    let started = Instant::now();
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("leases.db").display());
    let mut env: Vec<(&str, String)> = s3.env();
    env.extend([
        ("LEASE_STORE", store),
        ("S3_PREFIX", "hls/".to_owned()),
        ("PRESIGN_ALLOW_GET", "true".to_owned()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = start(&env);

    // 1-2. Derive the key and encrypt with ffmpeg: segments and a playlist whose key URI is
    // the key server.
    let media = dir.path().join("media");
    package(&media, &server.base, CONTENT).await;
    let single = media.join("single");
    let mut names: Vec<String> = std::fs::read_dir(&single)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.contains(&"index.m3u8".to_owned()), "{names:?}");
    let segments: Vec<&String> = names.iter().filter(|n| n.ends_with(".ts")).collect();
    assert_eq!(segments.len(), 6, "12 s in 2 s segments: {names:?}");
    assert_eq!(
        segments.len() + 1,
        names.len(),
        "only segments and the playlist: {names:?}"
    );
    let local: BTreeMap<String, Vec<u8>> = names
        .iter()
        .map(|n| (n.clone(), std::fs::read(single.join(n)).unwrap()))
        .collect();
    let playlist = String::from_utf8(local["index.m3u8"].clone()).unwrap();
    assert!(
        playlist.contains(&format!("URI=\"{}/keys/{CONTENT}\"", server.base)),
        "{playlist}"
    );

    // 3. Presign: viewers may not; the publisher gets one PUT URL per file.
    let publisher = token_with(PUBLISHER, &[("role", json!("publisher"))]);
    let viewer = token(VIEWER);
    let files: Vec<Value> = names
        .iter()
        .map(|n| json!({ "name": n, "contentType": content_type(n) }))
        .collect();
    let refused = client(Duration::from_secs(10))
        .post(format!("{}/presign", server.base))
        .bearer_auth(&viewer)
        .json(&json!({ "contentId": CONTENT, "files": files }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let puts = presign(&server, &publisher, json!(files)).await;
    assert_eq!(puts.len(), names.len());

    // 4. Upload every segment and the playlist straight to the bucket.
    let http = client(Duration::from_secs(20));
    for file in &puts {
        assert_eq!(file["method"], "PUT");
        let name = file["name"].as_str().unwrap();
        let mut request = http
            .put(file["url"].as_str().unwrap())
            .body(local[name].clone());
        for (header, value) in file["headers"].as_object().unwrap() {
            request = request.header(header, value.as_str().unwrap());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "uploading {name}");
    }
    // The bucket holds exactly the uploaded bytes, under {prefix}{contentId}/{name}, and
    // they are ciphertext: no key file, no plaintext segment.
    for (name, bytes) in &local {
        let stored = std::fs::read(s3.object_path(&format!("hls/{CONTENT}/{name}"))).unwrap();
        assert_eq!(&stored, bytes, "{name}");
        if name.ends_with(".ts") {
            assert!(
                !looks_like_plain_ts(&stored),
                "{name} is stored in the clear"
            );
        }
    }
    let source = media.join("source.ts");
    assert!(looks_like_plain_ts(&std::fs::read(&source).unwrap()));
    // From here on the bucket is the only copy.
    std::fs::remove_dir_all(&single).unwrap();

    // 5. Read back through presigned GET URLs: the playlist, then a playlist whose segment
    // URIs are presigned GETs, handed to the player.
    let gets = presign(
        &server,
        &publisher,
        json!(
            names
                .iter()
                .map(|n| json!({ "name": n, "method": "GET" }))
                .collect::<Vec<_>>()
        ),
    )
    .await;
    let get_url = |name: &str| {
        gets.iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["url"].as_str())
            .unwrap()
            .to_owned()
    };
    let fetched = http.get(get_url("index.m3u8")).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    let fetched = fetched.text().await.unwrap();
    assert_eq!(fetched, playlist);
    let rewritten: String = fetched
        .lines()
        .map(|line| {
            if line.ends_with(".ts") && !line.starts_with('#') {
                get_url(line)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        rewritten.matches("X-Amz-Signature=").count(),
        segments.len(),
        "{rewritten}"
    );
    let play = serve_playlist(rewritten + "\n").await;

    // 6. The player: ffmpeg with the viewer's token and lease, which reach the key request.
    let lease: Value = client(Duration::from_secs(10))
        .post(format!("{}/keys/leases", server.base))
        .bearer_auth(&viewer)
        .json(&json!({ "contentId": CONTENT }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lease = lease["leaseId"].as_str().unwrap();
    let headers = format!("Authorization: Bearer {viewer}\r\nX-Blindcast-Lease: {lease}\r\n");
    let since = server.output.text().lines().count();
    let Decoded {
        success: ok,
        hashes: played,
        stderr,
    } = framemd5(&play, Some(&headers)).await;
    assert!(ok, "ffmpeg failed: {stderr}");
    let Decoded {
        success: ok,
        hashes: expected,
        stderr,
    } = framemd5(source.to_str().unwrap(), None).await;
    assert!(ok, "decoding source.ts: {stderr}");
    assert_eq!(expected.len(), 300, "12 s at 25 fps");
    assert_eq!(played.len(), expected.len(), "frame count");
    assert!(played == expected, "decoded frames differ from source.ts");
    // Without the key server's say-so the same URLs give nothing.
    let Decoded {
        success: ok,
        hashes: frames,
        stderr: _,
    } = framemd5(&play, None).await;
    assert!(!ok && frames.is_empty(), "played without a token");

    // The key server's side: presign events name the publisher, the content and the
    // count; the key went to the viewer; no signature or storage secret was logged.
    let log = server.output.text();
    let audit: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == AUDIT_TARGET)
        .collect();
    let presigned: Vec<&Value> = audit
        .iter()
        .filter(|e| e["operation"] == "presign" && e["outcome"] == "presigned")
        .collect();
    assert_eq!(presigned.len(), 2, "{audit:?}");
    for (event, method) in presigned.iter().zip(["puts", "gets"]) {
        assert_eq!(event["publisher"], r#"[null,"studio-1"]"#);
        assert_eq!(event["content"], CONTENT);
        assert_eq!(event["files"], names.len());
        assert_eq!(event[method], names.len());
    }
    assert!(
        audit.iter().any(|e| e["operation"] == "presign"
            && e["outcome"] == "refused"
            && e["publisher"] == AUDIT_VIEWER
            && e["reason"] == "forbidden"),
        "{audit:?}"
    );
    let issued: Vec<Value> = log
        .lines()
        .skip(since)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == AUDIT_TARGET && e["outcome"] == "issued")
        .collect();
    assert!(!issued.is_empty(), "no key issued");
    for e in &issued {
        assert_eq!(e["viewer"], AUDIT_VIEWER);
        assert_eq!(e["content"], CONTENT);
        assert_eq!(e["lease"], lease);
    }
    for secret in [SECRET_KEY, "X-Amz-Signature", "X-Amz-Credential"] {
        assert!(!log.contains(secret), "{secret} in the key server's output");
    }
    eprintln!("publisher flow: {:?}", started.elapsed());
}

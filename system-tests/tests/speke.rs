//! SPEKE against the real `blindcast-keys serve` binary, on loopback: a packager's CPIX
//! requests (v1 and v2, VOD and live) answered with the keys `blindcast-keys derive`
//! prints; the key URIs of the answer, fetched with a viewer token and a lease, serve the
//! same bytes; HLS packaged with the answer's keys and URIs plays in ffmpeg (frame for
//! frame) and in hls.js in Chromium through the server. Nothing here skips.
#![allow(clippy::unwrap_used)]

mod common;
use common::playback::{create_lease, serve_files};
use common::{media, server};

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use blindcast_keys_axum::AUDIT_TARGET;
use media::{framemd5, require_ffmpeg, workspace};
use serde_json::Value;
use server::{BIN, MASTER_HEX, SALT_HEX, Server, client, start, token};
use tokio::process::Command;

const PACKAGER_TOKEN: &str = "speke-packager-token-9Xq2vB7mL4kP0wR5tZ8c";
const V1_LIVE: &str = include_str!("../../keys-axum/tests/fixtures/speke/v1_live.xml");
const V2_VOD: &str = include_str!("../../keys-axum/tests/fixtures/speke/v2_vod.xml");
const CPIX: &str = "urn:dashif:org:cpix";
const PSKC: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
const VIEWER: &str = "viewer-1";

/// One player at a time (see players.rs).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A free loopback port: the server's public base URL must be known before it starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server with SPEKE on, a SQLite lease store, and `extra`.
fn start_speke(dir: &Path, extra: &[(&str, &str)]) -> Server {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let base = format!("http://127.0.0.1:{port}");
    let store = format!("sqlite:{}", dir.join("leases.db").display());
    let mut env = vec![
        ("BIND", bind.as_str()),
        ("SPEKE_KEY_URL_BASE", base.as_str()),
        ("SPEKE_TOKEN", PACKAGER_TOKEN),
        ("LEASE_STORE", store.as_str()),
    ];
    env.extend_from_slice(extra);
    let server = start(&env);
    assert_eq!(server.base, base);
    server
}

/// One content key of a SPEKE answer: its key and its key URI.
#[derive(Debug, Clone)]
struct Answered {
    key: Vec<u8>,
    uri: String,
}

async fn speke(server: &Server, path: &str, version: Option<&str>, body: &str) -> (u16, String) {
    let mut request = client(Duration::from_secs(20))
        .post(format!("{}{path}", server.base))
        .bearer_auth(PACKAGER_TOKEN)
        .header("content-type", "application/xml")
        .body(body.to_owned());
    if let Some(v) = version {
        request = request.header("x-speke-version", v);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The keys and URIs of an answer, in document order.
fn answered(xml: &str) -> Vec<Answered> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let is = |n: &roxmltree::Node<'_, '_>, ns: &str, name: &str| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(ns)
    };
    let decode = |t: &str| String::from_utf8(STANDARD.decode(t.trim()).unwrap()).unwrap();
    doc.descendants()
        .filter(|n| is(n, CPIX, "ContentKey"))
        .map(|key| {
            let kid = key.attribute("kid").unwrap();
            let plain = key
                .descendants()
                .find(|n| is(n, PSKC, "PlainValue"))
                .and_then(|n| n.text())
                .unwrap();
            let system = doc
                .descendants()
                .find(|n| is(n, CPIX, "DRMSystem") && n.attribute("kid") == Some(kid))
                .unwrap();
            let uri = match system.children().find(|n| is(n, CPIX, "URIExtXKey")) {
                Some(n) => decode(n.text().unwrap()),
                None => {
                    let media = system
                        .children()
                        .find(|n| {
                            is(n, CPIX, "HLSSignalingData")
                                && n.attribute("playlist") == Some("media")
                        })
                        .unwrap();
                    let line = decode(media.text().unwrap());
                    let rest = line.split_once("URI=\"").unwrap().1;
                    rest.split_once('"').unwrap().0.to_owned()
                }
            };
            Answered {
                key: STANDARD.decode(plain).unwrap(),
                uri,
            }
        })
        .collect()
}

/// `blindcast-keys derive CONTENT [--epoch N] --format hex`, with the server's secrets.
async fn derive(content: &str, epoch: Option<u64>) -> Vec<u8> {
    let mut cmd = Command::new(BIN);
    cmd.args(["derive", content, "--format", "hex"])
        .env_clear()
        .env("MASTER_KEY", MASTER_HEX)
        .env("SALT", SALT_HEX);
    if let Some(e) = epoch {
        cmd.args(["--epoch", &e.to_string()]);
    }
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    hex::decode(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
}

async fn fetch(uri: &str, token: Option<&str>, lease: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = client(Duration::from_secs(10)).get(uri);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(l) = lease {
        request = request.header("x-blindcast-lease", l);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.bytes().await.unwrap().to_vec(),
    )
}

fn audit(server: &Server) -> Vec<Value> {
    server
        .output
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == AUDIT_TARGET)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speke_keys_equal_derive_and_the_key_uris_serve_them_to_a_viewer_with_a_lease() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_speke(dir.path(), &[]);
    let viewer = token(VIEWER);
    for (path, version, doc, content, epochs) in [
        (
            "/speke/v1",
            None,
            V1_LIVE,
            "live-channel-1",
            vec![Some(11425), Some(11426), Some(11427)],
        ),
        ("/speke/v2", Some("2.0"), V2_VOD, "movie-2", vec![None]),
    ] {
        let (status, body) = speke(&server, path, version, doc).await;
        assert_eq!(status, 200, "{path}: {body}");
        let keys = answered(&body);
        assert_eq!(keys.len(), epochs.len(), "{body}");
        let lease = create_lease(&server, &viewer, content).await;
        for (answer, epoch) in keys.iter().zip(&epochs) {
            assert_eq!(
                answer.key,
                derive(content, *epoch).await,
                "{content} {epoch:?}"
            );
            let expected_uri = match epoch {
                Some(e) => format!("{}/keys/{content}/{e}", server.base),
                None => format!("{}/keys/{content}", server.base),
            };
            assert_eq!(answer.uri, expected_uri);
            assert_eq!(
                fetch(&answer.uri, Some(&viewer), Some(&lease)).await,
                (200, answer.key.clone())
            );
            // The URI alone is no key: a token and a lease are needed.
            assert_eq!(fetch(&answer.uri, None, Some(&lease)).await.0, 401);
            assert_eq!(fetch(&answer.uri, Some(&viewer), None).await.0, 403);
        }
    }
    // Refusals reach no key; the packager token is required.
    let widevine = V2_VOD.replace(
        "3ea8778f-7742-4bf9-b18b-e834b2acbd47",
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
    );
    let (status, body) = speke(&server, "/speke/v2", Some("2.0"), &widevine).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("speke_unsupported_system") && !body.contains("PlainValue"));
    let anonymous = client(Duration::from_secs(10))
        .post(format!("{}/speke/v1", server.base))
        .body(V1_LIVE)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The log is read from the server's pipe: wait (briefly) for the last line.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let speke_events = loop {
        let events: Vec<Value> = audit(&server)
            .into_iter()
            .filter(|e| e["operation"] == "speke")
            .collect();
        if events.len() >= 4 || std::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(speke_events.len(), 4, "{speke_events:?}");
    assert_eq!(speke_events[0]["outcome"], "issued");
    assert_eq!(speke_events[0]["packager"], "speke-token");
    assert_eq!(speke_events[0]["content"], "live-channel-1");
    assert_eq!(speke_events[0]["epochs"], "11425,11426,11427");
    assert_eq!(speke_events[1]["epochs"], "content");
    assert_eq!(speke_events[2]["reason"], "speke_unsupported_system");
    assert_eq!(speke_events[3]["reason"], "unauthenticated");
    let log = server.output.text();
    for epoch in [Some(11425), Some(11427)] {
        let key = derive("live-channel-1", epoch).await;
        assert!(!log.contains(&STANDARD.encode(&key)) && !log.contains(&hex::encode(&key)));
    }
    assert!(!log.contains(PACKAGER_TOKEN));
}

// ---------------------------------------------------------------------------------------
// Packaging with the SPEKE answer, and playback.

/// A SPEKE v1 request for `content` with one key period per epoch of `epochs`.
fn live_request(content: &str, epochs: std::ops::Range<u64>) -> String {
    let kid = |e: u64| format!("c0000000-0000-4000-8000-{e:012}");
    let mut keys = String::new();
    let mut systems = String::new();
    let mut periods = String::new();
    let mut rules = String::new();
    for e in epochs {
        keys.push_str(&format!("<cpix:ContentKey kid=\"{}\"/>", kid(e)));
        systems.push_str(&format!(
            "<cpix:DRMSystem kid=\"{}\" systemId=\"81376844-f976-481e-a84e-cc25d39b0b33\"><speke:KeyFormat/><speke:KeyFormatVersions/><cpix:URIExtXKey/></cpix:DRMSystem>",
            kid(e)
        ));
        periods.push_str(&format!(
            "<cpix:ContentKeyPeriod id=\"p{e}\" index=\"{e}\"/>"
        ));
        rules.push_str(&format!(
            "<cpix:ContentKeyUsageRule kid=\"{}\"><cpix:KeyPeriodFilter periodId=\"p{e}\"/></cpix:ContentKeyUsageRule>",
            kid(e)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><cpix:CPIX id=\"{content}\" xmlns:cpix=\"urn:dashif:org:cpix\" xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" xmlns:speke=\"urn:aws:amazon:com:speke\"><cpix:ContentKeyList>{keys}</cpix:ContentKeyList><cpix:DRMSystemList>{systems}</cpix:DRMSystemList><cpix:ContentKeyPeriodList>{periods}</cpix:ContentKeyPeriodList><cpix:ContentKeyUsageRuleList>{rules}</cpix:ContentKeyUsageRuleList></cpix:CPIX>"
    )
}

async fn run(program: &str, args: &[&str]) {
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{program} took over 90 s"))
    .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Packages `out/source.ts` (12 s, 2 s segments) twice with the SPEKE answers: `single/`
/// encrypted by ffmpeg itself from a key-info file holding the content key's URI and key,
/// and `rotating/`, each pair of ffmpeg's segments encrypted with the next period's key
/// and announced with its URI (as a live packager rotates).
async fn package(out: &Path, single: &Answered, rotating: &[Answered]) {
    let ff = ["-hide_banner", "-loglevel", "error", "-y"];
    std::fs::create_dir_all(out.join("single")).unwrap();
    std::fs::create_dir_all(out.join("rotating")).unwrap();
    std::fs::create_dir_all(out.join("plain")).unwrap();
    let p = |name: &str| out.join(name).to_str().unwrap().to_owned();
    let mut args: Vec<&str> = ff.to_vec();
    let (source, plain_list) = (p("source.ts"), p("plain/index.m3u8"));
    args.extend([
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "12",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "50",
        "-keyint_min",
        "50",
        "-sc_threshold",
        "0",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-f",
        "mpegts",
        &source,
    ]);
    run("ffmpeg", &args).await;

    let key_file = p("single/content.key");
    std::fs::write(&key_file, &single.key).unwrap();
    let key_info = p("single/keyinfo");
    std::fs::write(&key_info, format!("{}\n{key_file}\n", single.uri)).unwrap();
    let (single_list, single_segments) = (p("single/index.m3u8"), p("single/seg%03d.ts"));
    let mut args: Vec<&str> = ff.to_vec();
    args.extend([
        "-i",
        &source,
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_playlist_type",
        "vod",
        "-hls_key_info_file",
        &key_info,
        "-hls_segment_filename",
        &single_segments,
        &single_list,
    ]);
    run("ffmpeg", &args).await;
    std::fs::remove_file(&key_file).unwrap();

    let plain_segments = p("plain/seg%03d.ts");
    let mut args: Vec<&str> = ff.to_vec();
    args.extend([
        "-i",
        &source,
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        &plain_segments,
        &plain_list,
    ]);
    run("ffmpeg", &args).await;
    let plain = std::fs::read_to_string(&plain_list).unwrap();
    let mut playlist = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    for line in plain.lines() {
        if line.starts_with("#EXT-X-TARGETDURATION")
            || line.starts_with("#EXT-X-MEDIA-SEQUENCE")
            || line.starts_with("#EXT-X-PLAYLIST-TYPE")
        {
            playlist.push_str(line);
            playlist.push('\n');
        }
    }
    let mut extinf = String::new();
    let mut n = 0usize;
    for line in plain.lines() {
        if line.starts_with("#EXTINF:") {
            extinf = line.to_owned();
        } else if line.ends_with(".ts") {
            let answer = &rotating[n / 2];
            let iv = format!("{:032x}", n + 1);
            // Each segment its own IV, under its period's key URI.
            playlist.push_str(&format!(
                "#EXT-X-KEY:METHOD=AES-128,URI=\"{}\",IV=0x{iv}\n",
                answer.uri
            ));
            let (input, output) = (p(&format!("plain/{line}")), p(&format!("rotating/{line}")));
            let key = hex::encode(&answer.key);
            run(
                "openssl",
                &[
                    "enc",
                    "-aes-128-cbc",
                    "-K",
                    &key,
                    "-iv",
                    &iv,
                    "-in",
                    &input,
                    "-out",
                    &output,
                ],
            )
            .await;
            playlist.push_str(&format!("{extinf}\n{line}\n"));
            n += 1;
        }
    }
    assert_eq!(n, 6, "{plain}");
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(p("rotating/index.m3u8"), playlist).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_packaged_with_speke_keys_plays_in_ffmpeg_and_in_hls_js() {
    let _serial = SERIAL.lock().await;
    require_ffmpeg();
    let player = workspace().join("examples/player");
    common::browser::require_browser(&["hls.js/dist/hls.min.js"]);
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let page_origin = serve_files(vec![("/media/", media.clone()), ("/", player.clone())]).await;
    let server = start_speke(
        dir.path(),
        &[("CORS_ORIGINS", &page_origin), ("LEASE_TTL", "6s")],
    );
    const CONTENT: &str = "speke-movie";
    let vod = V2_VOD.replace("contentId=\"movie-2\"", &format!("contentId=\"{CONTENT}\""));
    let (status, body) = speke(&server, "/speke/v2", Some("2.0"), &vod).await;
    assert_eq!(status, 200, "{body}");
    let single = answered(&body).remove(0);
    let (status, body) = speke(&server, "/speke/v1", None, &live_request(CONTENT, 0..3)).await;
    assert_eq!(status, 200, "{body}");
    let rotating = answered(&body);
    assert_eq!(rotating.len(), 3);
    package(&media, &single, &rotating).await;

    // ffmpeg: every frame equals the source's, keys fetched from the server.
    let source = framemd5(media.join("source.ts").to_str().unwrap(), None).await;
    assert!(source.success, "{}", source.stderr);
    assert_eq!(source.hashes.len(), 300);
    let viewer = token(VIEWER);
    let lease = create_lease(&server, &viewer, CONTENT).await;
    let headers = format!("Authorization: Bearer {viewer}\r\nX-Blindcast-Lease: {lease}\r\n");
    for playlist in ["single", "rotating"] {
        let played = framemd5(
            &format!("{page_origin}/media/{playlist}/index.m3u8"),
            Some(&headers),
        )
        .await;
        assert!(played.success, "{playlist}: {}", played.stderr);
        assert!(
            played.hashes == source.hashes,
            "{playlist}: frames differ from the source"
        );
    }
    let issued: Vec<Value> = audit(&server)
        .into_iter()
        .filter(|e| e["outcome"] == "issued" && e["operation"].is_null())
        .collect();
    for epoch in [Value::Null, 0.into(), 1.into(), 2.into()] {
        assert!(
            issued.iter().any(|e| e["epoch"] == epoch),
            "{epoch}: {issued:?}"
        );
    }
    // Without a token ffmpeg gets no key.
    let refused = framemd5(&format!("{page_origin}/media/rotating/index.m3u8"), None).await;
    assert!(!refused.success);

    // hls.js in Chromium, across the key rotation.
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("artifacts");
    let screenshot = artifacts.join("player-speke.png");
    let page = format!(
        "{page_origin}/index.html#token={viewer}&keyServer={}&content={CONTENT}&src=media/rotating/index.m3u8",
        server.base
    );
    let script = player.join("e2e.mjs");
    let args = [
        script.as_os_str(),
        "--mode".as_ref(),
        "allowed".as_ref(),
        "--key-server".as_ref(),
        server.base.as_ref(),
        "--page".as_ref(),
        page.as_ref(),
        "--screenshot".as_ref(),
        screenshot.as_os_str(),
    ];
    let out = common::browser::node(&player, &args, Duration::from_secs(100), "e2e.mjs").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("e2e allowed: PASS"),
        "e2e.mjs failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let epochs_played = audit(&server)
        .into_iter()
        .filter(|e| e["outcome"] == "issued" && e["viewer"] == r#"[null,"viewer-1"]"#)
        .filter_map(|e| e["epoch"].as_u64())
        .collect::<std::collections::BTreeSet<_>>();
    assert!(epochs_played.len() >= 2, "{epochs_played:?}");
}

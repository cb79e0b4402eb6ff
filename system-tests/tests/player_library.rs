//! `@blindcast/keys-player` (the `keys-player/` package) in real players: hls.js, Video.js
//! (VHS) and Shaka Player pages of `examples/player/` in Debian's headless Chromium
//! (driven through `examples/player/browser.mjs`), against the real `blindcast-keys serve`
//! with SQLite leases. Three origins on loopback: the pages (and a token endpoint standing
//! in for the app's sign-in backend), the key server, and the media (playlists and
//! segments of `examples/hls/package.sh`, rotating epoch keys), which records every request
//! it gets.
//!
//! The three players run side by side in one browser, one viewer each (one after the
//! other in the restart case, which stops the server at a point of each one's playback):
//! - playback: each plays to the end, every presented frame equal to the source's frame at
//!   that time (SHA-256 of the decoded I420 pixels, WebCodecs in the page, ffmpeg here),
//!   with at least two renewals (counted by the page and in the server's lease row); no
//!   request to the media origin carries a token or lease; closing the page releases the
//!   lease (its row is gone and the viewer's active count drops to 0);
//! - a token that expires every 3 s (JWT_LEEWAY=0) is replaced through `getToken()`;
//! - the key server stopped for 6 s mid-playback, between two epoch keys (lease TTL 15 s):
//!   renewals retry, key requests that failed meanwhile are retried, and the same lease
//!   carries on.
//!
//! One case runs with one page holding the lease: the 409 is answered to the lease
//! creation, which `page.js` does the same way before any player exists, so the three
//! second pages (one per player) all show it.
//!
//! Also here: the package's node unit tests and its size budget. Nothing skips: a missing
//! tool fails with the command that installs it.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use blindcast_keys_axum::AUDIT_TARGET;
use media::{package, require_ffmpeg, workspace};
use serde_json::{Value, json};
use server::{JWT_SECRET, Server, start, start_with, token};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::{sleep, timeout};

mod common;
use browser::{player_dir, require_node};
use common::{browser, media, server};

const CONTENT: &str = "demo-movie";
/// The pages, one per player, and the viewer each plays as.
const PLAYERS: [(&str, &str); 3] = [
    ("hls.js", "index.html"),
    ("shaka", "shaka.html"),
    ("video.js", "videojs.html"),
];
/// 12 s at 25 fps, in 2 s segments.
const SOURCE_FRAMES: usize = 300;
const SEGMENT_FRAMES: usize = 50;

/// One browser case at a time: three players decoding at once already fill 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn viewer(player: &str) -> String {
    format!("viewer-{}", player.replace('.', ""))
}

// ---------------------------------------------------------------------------------------
// Tools.

fn require_browser_tools() {
    browser::require_browser(&[
        "hls.js/dist/hls.min.js",
        "shaka-player/dist/shaka-player.compiled.js",
        "video.js/dist/video.min.js",
        "@blindcast/keys-player/src/index.js",
    ]);
    require_ffmpeg();
}

// ---------------------------------------------------------------------------------------
// The package's own checks: unit tests and size.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_player_unit_tests_pass_under_node_test() {
    require_node();
    let package = workspace().join("keys-player");
    let args = ["--test", "test/"].map(std::ffi::OsStr::new);
    let out = browser::node(&package, &args, Duration::from_secs(120), "node --test").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node --test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |what: &str| -> usize {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {what} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no '# {what}' line in:\n{stdout}"))
    };
    assert_eq!(count("fail"), 0, "{stdout}");
    // Every test file ran: a renamed or emptied file must not pass as "0 failed".
    assert!(count("pass") >= 12, "only {} tests passed", count("pass"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_player_core_is_within_its_size_budget_and_the_readme_states_it() {
    require_node();
    let package = workspace().join("keys-player");
    assert!(
        package.join("node_modules/esbuild").exists(),
        "esbuild is missing: run `npm ci --prefix keys-player`"
    );
    let args = [std::ffi::OsStr::new("build.mjs")];
    let out = browser::node(&package, &args, Duration::from_secs(120), "build.mjs").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "build.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let core = report["core"].as_u64().unwrap();
    let all = report["all"].as_u64().unwrap();
    eprintln!("keys-player min+gzip: core {core} B, with adapters {all} B");
    assert_eq!(report["budget"], 5120, "the budget the README states");
    assert!(core <= 5120, "core {core} B is over the 5120 B budget");
    // The build really minified and compressed: a broken build reporting 0 must fail.
    assert!(core > 500 && all > core, "implausible sizes {report}");
    // The README's figures are this build's, within 5 %.
    let readme = std::fs::read_to_string(package.join("README.md")).unwrap();
    for (what, measured) in [("core", core), ("all", all)] {
        let stated: u64 = readme
            .lines()
            .find_map(|l| {
                let rest = l.split(&format!("<!-- size:{what} -->")).nth(1)?;
                rest.trim_start_matches(|c: char| !c.is_ascii_digit())
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("README states no <!-- size:{what} --> figure"));
        assert!(
            stated.abs_diff(measured) * 20 <= measured,
            "README says {what} is {stated} B, the build measures {measured} B"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The pages' origin (with a token endpoint) and the media origin (recording requests).

type Files = Arc<PathBuf>;

/// Serves `dir` on a free loopback port (the first of `paths` that matches wins).
fn file_response(dir: &Path, path: &str) -> Response {
    let rest = path.trim_start_matches('/');
    // Plain names only: no `..`, no dot files, no percent-decoding needed.
    if rest.split('/').any(|c| c.starts_with('.')) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let rest = if rest.is_empty() { "index.html" } else { rest };
    let Ok(bytes) = std::fs::read(dir.join(rest)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let kind = match rest.rsplit('.').next() {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("ts") => "video/mp2t",
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        Some("css") => "text/css",
        _ => "application/octet-stream",
    };
    ([(header::CONTENT_TYPE, kind)], bytes).into_response()
}

struct PageServer {
    origin: String,
    /// Tokens handed out, per viewer.
    tokens: Arc<Mutex<BTreeMap<String, usize>>>,
}

/// The player pages, and `GET /token?sub=VIEWER&ttl=SECONDS`: a fresh HS256 token, as an
/// app's sign-in backend would give its page.
async fn serve_pages() -> PageServer {
    let tokens: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let counted = tokens.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let files: Files = Arc::new(player_dir());
    let app = Router::new()
        .route(
            "/token",
            get(move |request: Request| {
                let counted = counted.clone();
                async move {
                    let query = query_pairs(request.uri().query().unwrap_or(""));
                    let sub = query.get("sub").cloned().unwrap_or_default();
                    let ttl: u64 = query
                        .get("ttl")
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(3600);
                    *counted.lock().unwrap().entry(sub.clone()).or_default() += 1;
                    blindcast_keys_axum::auth::mint_hs256(
                        JWT_SECRET.as_bytes(),
                        &sub,
                        Duration::from_secs(ttl),
                        BTreeMap::new(),
                    )
                    .unwrap()
                }
            }),
        )
        .fallback(|State(files): State<Files>, request: Request| async move {
            file_response(&files, request.uri().path())
        })
        .with_state(files);
    tokio::spawn(async move { axum::serve(listener, app).await });
    PageServer { origin, tokens }
}

fn query_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// One request the media origin got.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
}

struct MediaServer {
    origin: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[derive(Clone)]
struct MediaState {
    dir: Files,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The media (a CDN stand-in) on its own origin, open to any origin like a public CDN,
/// recording every request with all its headers.
async fn serve_media(dir: PathBuf) -> MediaServer {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let state = MediaState {
        dir: Arc::new(dir),
        seen: seen.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .fallback(
            |State(state): State<MediaState>, request: Request| async move {
                state.seen.lock().unwrap().push(Seen {
                    method: request.method().clone(),
                    uri: request.uri().to_string(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                        .collect(),
                });
                // Preflights are allowed whatever they ask, like a permissive CDN: a leaked
                // header then reaches this record instead of failing in the browser.
                let mut response = if request.method() == Method::OPTIONS {
                    let asked = request
                        .headers()
                        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                        .cloned()
                        .unwrap_or(HeaderValue::from_static("*"));
                    (
                        [(header::ACCESS_CONTROL_ALLOW_HEADERS, asked)],
                        StatusCode::NO_CONTENT,
                    )
                        .into_response()
                } else {
                    file_response(&state.dir, request.uri().path())
                };
                response.headers_mut().insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
                response
            },
        )
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    MediaServer { origin, seen }
}

impl MediaServer {
    /// Asserts the media origin was used and no request to it carried a token or a lease:
    /// no such header, no such query parameter, no preflight asking to send one.
    fn assert_nothing_leaked(&self, tokens: &[String]) {
        let seen = self.seen.lock().unwrap().clone();
        let segments = seen.iter().filter(|s| s.uri.ends_with(".ts")).count();
        assert!(segments >= 6, "only {segments} segment requests: {seen:?}");
        for s in &seen {
            assert_ne!(
                s.method,
                Method::OPTIONS,
                "a preflight to the media origin: {s:?}"
            );
            let query = s.uri.split_once('?').map_or("", |(_, q)| q);
            let params = query_pairs(query);
            assert!(
                !params.contains_key("token") && !params.contains_key("lease"),
                "token or lease in a media URL: {s:?}"
            );
            for (name, value) in &s.headers {
                assert!(
                    name != "authorization" && name != "x-blindcast-lease",
                    "{name} sent to the media origin: {s:?}"
                );
                assert!(
                    !value.to_ascii_lowercase().contains("x-blindcast-lease")
                        && !value.to_ascii_lowercase().contains("authorization"),
                    "a header of the media request names the credentials: {s:?}"
                );
                for t in tokens {
                    assert!(
                        !value.contains(t.as_str()),
                        "a token sent to the media origin: {s:?}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The browser: examples/player/browser.mjs, one JSON command per line.

struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Browser {
    fn start() -> Self {
        let mut child = Command::new("node")
            .arg("browser.mjs")
            .current_dir(player_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    async fn cmd(&mut self, command: Value) -> Value {
        let line = format!("{command}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let answer = timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("browser.mjs did not answer {command} within 60 s"))
            .unwrap()
            .unwrap_or_else(|| panic!("browser.mjs exited on {command}"));
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["ok"], true, "{command}: {answer}");
        answer
    }

    async fn open(&mut self, page: &str, url: &str) {
        self.cmd(json!({"cmd": "open", "page": page, "url": url}))
            .await;
    }

    /// The page's `window.__player`, with its last console lines as `console`.
    async fn state(&mut self, page: &str) -> Value {
        let answer = self.cmd(json!({"cmd": "state", "page": page})).await;
        let mut state = answer["state"].clone();
        assert!(state.is_object(), "{page}: no window.__player: {answer}");
        state["console"] = answer["console"].clone();
        state["refused"] = answer["refused"].clone();
        state
    }

    async fn close(&mut self, page: &str) {
        self.cmd(json!({"cmd": "close", "page": page})).await;
    }

    async fn quit(mut self) {
        let _ = self.cmd(json!({"cmd": "quit"})).await;
        let _ = timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// Polls the pages until `done` holds for each (or one fails fatally); returns their
    /// states. Panics after `limit`.
    async fn wait_all(
        &mut self,
        pages: &[&str],
        limit: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let mut states = Vec::new();
            for page in pages {
                states.push(self.state(page).await);
            }
            for (page, s) in pages.iter().zip(&states) {
                assert!(
                    s["phase"] != "error",
                    "{page} failed while waiting for {what}: {}",
                    brief(s)
                );
            }
            if states.iter().all(&done) {
                return states;
            }
            assert!(
                started.elapsed() < limit,
                "not all pages reached {what} within {limit:?}: {:?}",
                states.iter().map(brief).collect::<Vec<_>>()
            );
            sleep(Duration::from_millis(500)).await;
        }
    }
}

/// A page state without its frame list, for failure messages.
fn brief(state: &Value) -> String {
    let mut s = state.clone();
    if let Some(frames) = s["frames"].as_array().map(Vec::len) {
        s["frames"] = json!(format!("{frames} frames"));
    }
    s.to_string()
}

// ---------------------------------------------------------------------------------------
// The key server, its lease rows and the source's frames.

/// The SQLite lease store's rows, read with Python's sqlite3 (an independent reader).
fn sqlite(db: &Path, sql: &str, args: &[&str]) -> Vec<Vec<Value>> {
    let script = "import json, sqlite3, sys\n\
        c = sqlite3.connect(sys.argv[1])\n\
        print(json.dumps(c.execute(sys.argv[2], sys.argv[3:]).fetchall()))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(db)
        .arg(sql)
        .args(args)
        .output()
        .expect("python3 is missing: apt-get install python3");
    assert!(
        out.status.success(),
        "reading {}: {}",
        db.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .try_into()
        .unwrap()
}

/// The viewer's active (unexpired) leases, as the server counts them.
fn active_leases(db: &Path, viewer: &str) -> i64 {
    let rows = sqlite(
        db,
        "SELECT count(*) FROM leases WHERE viewer = ? AND expires_at_ms > ?",
        &[&format!(r#"[null,"{viewer}"]"#), &now_ms().to_string()],
    );
    rows[0][0].as_i64().unwrap()
}

/// The lease row's `renewals`, or None when the row is gone (released).
fn lease_renewals(db: &Path, lease: &str) -> Option<i64> {
    let rows = sqlite(db, "SELECT renewals FROM leases WHERE id = ?", &[lease]);
    rows.first().map(|r| r[0].as_i64().unwrap())
}

/// The SHA-256 of each decoded frame of `source.ts` (ffmpeg's I420, planes packed).
async fn source_frames(media: &Path) -> Vec<String> {
    let run = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(media.join("source.ts"))
        .args(["-map", "0:v", "-f", "framehash", "-hash", "sha256", "-"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = timeout(Duration::from_secs(60), run)
        .await
        .expect("ffmpeg took over 60 s")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hashes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let last = l.rsplit(',').next().unwrap().trim();
            last.strip_prefix("SHA256=").unwrap_or(last).to_owned()
        })
        .collect();
    assert_eq!(hashes.len(), SOURCE_FRAMES);
    // testsrc draws a counter: every frame differs, so a hash names one frame.
    assert_eq!(
        hashes.iter().collect::<BTreeSet<_>>().len(),
        SOURCE_FRAMES,
        "source frames repeat"
    );
    hashes
}

/// The frames the page saw are the source's, each at its own time, through to the end:
/// every presented frame's hash is a source frame, in order, at one constant offset from
/// its media time (players shift timestamps differently; within one frame for 90 % of
/// them, the rest within 3 frames), covering every segment and the last frames. Frames a
/// loaded machine skips presenting are allowed, up to half.
fn assert_frames_equal_source(player: &str, state: &Value, source: &[String]) {
    let index: HashMap<&str, usize> = source
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    assert_eq!(
        state["frameErrors"],
        json!([]),
        "{player}: frames could not be read"
    );
    let frames = state["frames"].as_array().unwrap();
    let mut offsets = BTreeMap::new();
    let mut last = None;
    let mut per_segment = [0usize; SOURCE_FRAMES / SEGMENT_FRAMES];
    for f in frames {
        let hash = f["hash"].as_str().unwrap();
        let Some(&i) = index.get(hash) else {
            panic!(
                "{player}: a presented frame at {} s is no source frame ({} {}x{})",
                f["t"], f["format"], f["w"], f["h"]
            );
        };
        // A frame may be presented again (after a stall, say), never an earlier one.
        if let Some(prev) = last {
            assert!(
                i >= prev,
                "{player}: frame {i} presented after frame {prev}"
            );
            if i == prev {
                continue;
            }
        }
        last = Some(i);
        let t = f["t"].as_f64().unwrap();
        #[allow(clippy::cast_possible_truncation)]
        let at = (t * 25.0).round() as i64;
        let entry = offsets
            .entry(i64::try_from(i).unwrap() - at)
            .or_insert_with(|| (t, i, 0usize));
        entry.2 += 1;
        per_segment[i / SEGMENT_FRAMES] += 1;
    }
    let presented: usize = per_segment.iter().sum();
    assert!(
        presented >= SOURCE_FRAMES / 2,
        "{player}: only {presented} of {SOURCE_FRAMES} frames presented"
    );
    // hls.js re-aligns the timestamps of a segment fetched again after an error to the
    // previous one's end, which can move it by up to a frame: nearly every frame lies in
    // one band of two neighbouring offsets. A frame sampled late on a loaded machine (the
    // first ones, typically) may stray a few frames (120 ms) from it; a displaced segment
    // (wrong key, wrong epoch) strays by a whole segment and fails.
    let band = offsets
        .keys()
        .map(|&o| (o, offsets.range(o..=o + 1).map(|(_, v)| v.2).sum::<usize>()))
        .max_by_key(|&(_, n)| n)
        .unwrap();
    let in_band = band.1;
    let stray = offsets
        .keys()
        .map(|&o| {
            if o < band.0 {
                band.0 - o
            } else {
                (o - band.0 - 1).max(0)
            }
        })
        .max()
        .unwrap();
    assert!(
        in_band * 10 >= presented * 9 && stray <= 3,
        "{player}: frames not at their own time ({in_band} of {presented} in the band at \
         offset {}, strays up to {stray} frames; offset: (first media time, frame, count) \
         {offsets:?})",
        band.0
    );
    assert!(
        per_segment.iter().all(|&n| n >= 5),
        "{player}: frames per segment {per_segment:?}"
    );
    assert!(
        last.unwrap() >= SOURCE_FRAMES - 10,
        "{player}: the last frame presented is {last:?}, not the end"
    );
}

/// The key server's audit events (one per key request).
fn audit(server: &Server) -> Vec<Value> {
    server
        .output
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == AUDIT_TARGET)
        .collect()
}

/// A key server on SQLite leases with CORS for `page_origin`, media packaged for it and
/// served from a third origin.
struct Setup {
    dir: tempfile::TempDir,
    db: PathBuf,
    keys: Server,
    pages: PageServer,
    media: MediaServer,
    source: Vec<String>,
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leases.db");
    let pages = serve_pages().await;
    let store = format!("sqlite:{}", db.display());
    let mut env = vec![
        ("LEASE_STORE", store.as_str()),
        ("CORS_ORIGINS", pages.origin.as_str()),
        // Renewals every 2 s (a third of the lifetime): five in 12 s of playback.
        ("LEASE_TTL", "6s"),
    ];
    env.extend_from_slice(extra);
    let keys = start(&env);
    let media_dir = dir.path().join("media");
    package(&media_dir, &keys.base, CONTENT).await;
    let source = source_frames(&media_dir).await;
    let media = serve_media(media_dir).await;
    Setup {
        dir,
        db,
        keys,
        pages,
        media,
        source,
    }
}

impl Setup {
    /// A page URL: `player`'s page for `viewer`, with `extra` fragment parameters.
    fn page(&self, file: &str, extra: &str) -> String {
        format!(
            "{}/{file}#keyServer={}&content={CONTENT}&src={}/rotating/index.m3u8&frames=1{extra}",
            self.pages.origin, self.keys.base, self.media.origin
        )
    }
}

fn events<'a>(state: &'a Value, kind: &str) -> Vec<&'a Value> {
    state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

fn distinct_leases(state: &Value) -> BTreeSet<String> {
    state["leaseIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The page's requests to `base` that failed (`status` 0) or were answered `status`.
fn refused(state: &Value, base: &str, status: u16) -> Vec<String> {
    state["refused"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status && r["url"].as_str().unwrap().starts_with(base))
        .map(|r| format!("{} {}", r["method"], r["url"]))
        .collect()
}

fn ended(s: &Value) -> bool {
    s["ended"] == true
}

// ---------------------------------------------------------------------------------------
// The cases.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_player_plays_source_frames_to_the_end_renews_leaks_nothing_and_releases_on_close() {
    let _serial = SERIAL.lock().await;
    require_browser_tools();
    let started = Instant::now();
    let s = setup(&[]).await;
    let mut browser = Browser::start();
    let mut tokens = Vec::new();
    for (player, file) in PLAYERS {
        let t = token(&viewer(player));
        browser
            .open(player, &s.page(file, &format!("&token={t}")))
            .await;
        tokens.push(t);
    }
    let names: Vec<&str> = PLAYERS.iter().map(|p| p.0).collect();
    let states = browser
        .wait_all(&names, Duration::from_secs(120), "the end", ended)
        .await;

    let audit = audit(&s.keys);
    for ((player, _), state) in PLAYERS.iter().zip(&states) {
        assert_frames_equal_source(player, state, &s.source);
        let lease = state["leaseId"].as_str().unwrap();
        assert_eq!(
            distinct_leases(state).len(),
            1,
            "{player}: {}",
            brief(state)
        );
        assert_eq!(state["retries"], json!([]), "{player}: {}", brief(state));
        // At least two renewals, as the page counted them and as the server stored them.
        assert!(
            state["renewals"].as_u64().unwrap() >= 2,
            "{player}: {}",
            brief(state)
        );
        let stored = lease_renewals(&s.db, lease).expect("the lease row");
        assert!(
            stored >= 2,
            "{player}: the server renewed the lease {stored} times"
        );
        // Every key of the three epochs went to this viewer under its lease.
        let viewer_id = format!(r#"[null,"{}"]"#, viewer(player));
        for epoch in 0..3 {
            assert!(
                audit.iter().any(|e| e["outcome"] == "issued"
                    && e["epoch"] == epoch
                    && e["viewer"] == viewer_id.as_str()
                    && e["lease"] == lease),
                "{player}: epoch {epoch} key not issued under lease {lease}: {audit:?}"
            );
        }
    }
    assert!(
        audit.iter().all(|e| e["outcome"] == "issued"),
        "a key was refused: {audit:?}"
    );
    s.media.assert_nothing_leaked(&tokens);

    // Closing each page gives its lease back: the row is deleted (an expired lease's row
    // stays until the purge, so this is the release, not the 6 s expiry) and the viewer's
    // active count drops from 1 to 0.
    for ((player, _), state) in PLAYERS.iter().zip(&states) {
        let lease = state["leaseId"].as_str().unwrap();
        assert_eq!(
            active_leases(&s.db, &viewer(player)),
            1,
            "{player} before closing"
        );
        browser.close(player).await;
        let closed = Instant::now();
        while lease_renewals(&s.db, lease).is_some() {
            assert!(
                closed.elapsed() < Duration::from_secs(5),
                "{player}: the lease was not released when the page closed"
            );
            sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            active_leases(&s.db, &viewer(player)),
            0,
            "{player} after closing"
        );
    }
    browser.quit().await;
    drop(s.dir);
    eprintln!("three players to the end: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_limit_reached_in_another_page_each_player_page_shows_409_and_plays_nothing() {
    let _serial = SERIAL.lock().await;
    require_browser_tools();
    let s = setup(&[("MAX_LEASES_PER_VIEWER", "1")]).await;
    let mut browser = Browser::start();
    let t = token("viewer-1");
    // The viewer's one stream, playing.
    browser
        .open("first", &s.page("index.html", &format!("&token={t}")))
        .await;
    let first = browser
        .wait_all(&["first"], Duration::from_secs(60), "playback", |s| {
            s["currentTime"].as_f64().unwrap() > 1.0
        })
        .await;
    let lease = first[0]["leaseId"].as_str().unwrap().to_owned();
    // A second stream in each player: refused at the lease, before the player starts.
    let mut seconds = Vec::new();
    for (player, file) in PLAYERS {
        let name = format!("second {player}");
        browser
            .open(&name, &s.page(file, &format!("&token={t}")))
            .await;
        seconds.push(name);
    }
    let names: Vec<&str> = seconds.iter().map(String::as_str).collect();
    browser
        .wait_all(&names, Duration::from_secs(30), "the limit event", |s| {
            s["phase"] == "limit"
        })
        .await;
    // Time for a wrongly working page to start playing anyway.
    sleep(Duration::from_secs(2)).await;
    for name in &names {
        let state = browser.state(name).await;
        let limit = events(&state, "limit");
        assert_eq!(limit.len(), 1, "{name}: {}", brief(&state));
        assert_eq!(limit[0]["active"], 1, "{name}");
        assert_eq!(limit[0]["max"], 1, "{name}");
        assert_eq!(state["limit"], json!({"active": 1, "max": 1}), "{name}");
        assert_eq!(state["currentTime"], 0, "{name} played");
        assert_eq!(state["frames"], json!([]), "{name} presented frames");
        assert_eq!(state["leaseId"], Value::Null, "{name}");
    }
    // The key server issued keys under the first page's lease only.
    let audit = audit(&s.keys);
    assert!(
        !audit.is_empty() && audit.iter().all(|e| e["lease"] == lease.as_str()),
        "{audit:?}"
    );
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_player_replaces_a_token_expiring_mid_playback_through_get_token_and_plays_on() {
    let _serial = SERIAL.lock().await;
    require_browser_tools();
    let started = Instant::now();
    // No leeway and no token cache beyond `exp`: a 3 s token is refused after 3 s.
    let s = setup(&[("JWT_LEEWAY", "0s")]).await;
    let mut browser = Browser::start();
    for (player, file) in PLAYERS {
        let token_url = format!("{}/token?sub={}%26ttl=3", s.pages.origin, viewer(player));
        // A 2 s buffer: keys are fetched during playback, with whatever token is current.
        browser
            .open(
                player,
                &s.page(file, &format!("&tokenUrl={token_url}&buffer=2")),
            )
            .await;
    }
    let names: Vec<&str> = PLAYERS.iter().map(|p| p.0).collect();
    let states = browser
        .wait_all(&names, Duration::from_secs(120), "the end", ended)
        .await;
    let handed_out = s.pages.tokens.lock().unwrap().clone();
    for ((player, _), state) in PLAYERS.iter().zip(&states) {
        assert_frames_equal_source(player, state, &s.source);
        // 12 s of playback with 3 s tokens: several replaced after the server refused them.
        let refreshed = events(state, "token").len();
        assert!(
            refreshed >= 3,
            "{player}: {refreshed} tokens: {}",
            brief(state)
        );
        assert!(
            handed_out.get(&viewer(player)).copied().unwrap_or(0) >= 3,
            "{player}: tokens handed out {handed_out:?}"
        );
        let refusals = refused(state, &s.keys.base, 401);
        eprintln!("{player}: 401s: {refusals:?}");
        assert!(
            !refusals.is_empty(),
            "{player}: no 401 seen: {}",
            brief(state)
        );
        assert_eq!(state["denied"], Value::Null, "{player}");
        assert_eq!(
            distinct_leases(state).len(),
            1,
            "{player}: {}",
            brief(state)
        );
        assert!(
            state["renewals"].as_u64().unwrap() >= 2,
            "{player}: {}",
            brief(state)
        );
    }
    browser.quit().await;
    eprintln!("token expiry: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_player_recovers_from_a_key_server_stopped_mid_playback_within_the_lease_lifetime() {
    let _serial = SERIAL.lock().await;
    require_browser_tools();
    let started = Instant::now();
    // A 15 s lease, renewed every 5 s: a renewal falls into the 6 s outage below, and
    // the lease has at least 10 s left when the server stops.
    let mut s = setup(&[("LEASE_TTL", "15s")]).await;
    let mut browser = Browser::start();
    // One player at a time: the server stops at a point of that player's playback.
    for (player, file) in PLAYERS {
        let t = token(&viewer(player));
        browser
            .open(player, &s.page(file, &format!("&token={t}&buffer=2")))
            .await;
        // Stop when the player has its epoch 1 key (segment 2, fetched at about 2 s of
        // playback with a 2 s buffer) and not epoch 2's (segment 4, at about 6 s): it
        // needs a key while the server is away.
        let id = format!(r#"[null,"{}"]"#, viewer(player));
        let waiting = Instant::now();
        loop {
            let audit = audit(&s.keys);
            let has = |epoch: i64| {
                audit.iter().any(|e| {
                    e["outcome"] == "issued" && e["epoch"] == epoch && e["viewer"] == id.as_str()
                })
            };
            if has(1) {
                assert!(!has(2), "{player}: epoch 2 key fetched already: {audit:?}");
                break;
            }
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "{player}: no epoch 1 key fetched: {audit:?}"
            );
            sleep(Duration::from_millis(50)).await;
        }
        // Stopped hard for 6 s; back on the same address with the same SQLite file.
        s.keys.kill9();
        sleep(Duration::from_secs(6)).await;
        let mut env = s.keys.env.clone();
        env.insert("BIND".into(), s.keys.addr.clone());
        s.keys = start_with(env, &[]);

        let state = browser
            .wait_all(&[player], Duration::from_secs(90), "the end", ended)
            .await
            .remove(0);
        assert_frames_equal_source(player, &state, &s.source);
        let retries = state["retries"].as_array().unwrap();
        assert!(
            !retries.is_empty(),
            "{player}: no renewal was retried: {}",
            brief(&state)
        );
        // Retried within the lease's lifetime: the same lease throughout, never expired.
        assert_eq!(
            distinct_leases(&state).len(),
            1,
            "{player}: {}",
            brief(&state)
        );
        assert!(
            events(&state, "expired").is_empty(),
            "{player}: {}",
            brief(&state)
        );
        assert!(
            events(&state, "recreate").is_empty(),
            "{player}: {}",
            brief(&state)
        );
        // ... and renewed on the restarted server.
        let lease = state["leaseId"].as_str().unwrap();
        assert!(lease_renewals(&s.db, lease).unwrap() >= 1, "{player}");
        // Playback recovered: a key request failed while the server was away.
        let failed = refused(&state, &s.keys.base, 0);
        eprintln!(
            "{player}: failed while the key server was away: {failed:?}; player errors: {}",
            state["errors"]
        );
        assert!(
            failed.iter().any(|r| r.contains("/keys/demo-movie")),
            "{player}: no key request failed during the outage: {failed:?}"
        );
        browser.close(player).await;
    }
    browser.quit().await;
    eprintln!("key server restart: {:?}", started.elapsed());
}

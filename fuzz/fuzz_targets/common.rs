//! Shared by the router-level targets: routers with a memory store and with a store that
//! is always down, a valid token and a lease of it, the key oracle, and the small line
//! format the inputs use (so seed files are readable and come from the attack lists).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use blindcast_keys_axum::auth::{Authenticator, mint_hs256};
use blindcast_keys_axum::{CorsConfig, JwtAuthenticator, KeyServer, RouterConfig};
use blindcast_keys_core::lease::{MAX_LEASE_TTL, MemoryLeaseStore};
use blindcast_keys_core::{ContentId, KeyDeriver, LeaseStore, MasterKey, Salt};
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const SECRET: &[u8] = b"fuzzing secret of at least thirty-two bytes";
/// The content the fixture's lease is for.
pub const LEASED: &str = "movie-1";

pub struct Fixture {
    pub runtime: tokio::runtime::Runtime,
    /// Memory lease store (leases last the longest allowed, 24 hours, so the fixture's
    /// outlives any ordinary run), CORS, a small body limit.
    pub up: Router,
    /// A lease store that is always down: 503 is the only 5xx allowed.
    pub down: Router,
    /// A token of viewer `fuzzer`, minted at start: the fuzzer cannot know it.
    pub token: String,
    /// A lease of `fuzzer` for [`LEASED`] in `up`'s store.
    pub lease: String,
    pub deriver: KeyDeriver,
    auth: Arc<dyn Authenticator>,
}

fn deriver() -> KeyDeriver {
    KeyDeriver::new(
        &MasterKey::from_hex(&"0b".repeat(32)).expect("key"),
        &Salt::from_hex(&"00".repeat(16)).expect("salt"),
    )
}

fn router(auth: Arc<dyn Authenticator>, store: Arc<dyn LeaseStore>) -> Router {
    KeyServer::with_authenticator(deriver(), auth)
        .lease_store(store)
        .cors(CorsConfig::parse("https://app.example.org").expect("cors"))
        .config(
            RouterConfig::builder()
                .max_leases_per_viewer(3)
                .lease_ttl(MAX_LEASE_TTL)
                .max_body_bytes(1024)
                .metrics(true)
                .build()
                .expect("valid router options"),
        )
        .router()
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let auth: Arc<dyn Authenticator> = Arc::new(
            JwtAuthenticator::builder()
                .hs256_secret(SECRET)
                .cookie("bc")
                .build()
                .expect("auth"),
        );
        let up = router(Arc::clone(&auth), Arc::new(MemoryLeaseStore::new()));
        let down = router(
            Arc::clone(&auth),
            Arc::new(blindcast_lease_testkit::DownLeaseStore { detail: "down" }),
        );
        let token = mint_hs256(
            SECRET,
            "fuzzer",
            Duration::from_secs(86_400),
            BTreeMap::new(),
        )
        .expect("token");
        let (status, body) = send_on(&runtime, &up, create(&token, LEASED));
        assert_eq!(
            status,
            201,
            "fixture lease: {}",
            String::from_utf8_lossy(&body)
        );
        let v: serde_json::Value = serde_json::from_slice(&body).expect("lease JSON");
        let lease = v["leaseId"].as_str().expect("leaseId").to_owned();
        let f = Fixture {
            runtime,
            up,
            down,
            token,
            lease,
            deriver: deriver(),
            auth,
        };
        f.self_check();
        f
    })
}

/// `POST /keys/leases` for `content`.
pub fn create(token: &str, content: &str) -> Request<Body> {
    Request::post("/keys/leases")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(format!(r#"{{"contentId":"{content}"}}"#)))
        .expect("request")
}

fn send_on(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    request: Request<Body>,
) -> (u16, Vec<u8>) {
    runtime.block_on(async {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        (status, body)
    })
}

impl Fixture {
    /// The oracles below would pass vacuously on a router that refuses everything: the
    /// fixture's token and lease must open exactly the leased key, and nothing less may.
    fn self_check(&self) {
        let get = |token: Option<&str>, lease: Option<&str>, path: &str| {
            let mut b = Request::get(path);
            if let Some(t) = token {
                b = b.header("authorization", format!("Bearer {t}"));
            }
            if let Some(l) = lease {
                b = b.header("x-blindcast-lease", l);
            }
            send_on(
                &self.runtime,
                &self.up,
                b.body(Body::empty()).expect("request"),
            )
        };
        let (status, body) = get(Some(&self.token), Some(&self.lease), "/keys/movie-1");
        assert_eq!(status, 200);
        assert_eq!(body, self.key(LEASED, None));
        assert_eq!(get(Some(&self.token), None, "/keys/movie-1").0, 403);
        assert_eq!(
            get(Some(&self.token), Some(&self.lease), "/keys/movie-2").0,
            403
        );
        assert_eq!(get(None, Some(&self.lease), "/keys/movie-1").0, 401);
    }

    /// The key a correct server serves for `content` (and `epoch`).
    pub fn key(&self, content: &str, epoch: Option<u64>) -> Vec<u8> {
        let id = ContentId::new(content).expect("content id");
        self.deriver.key(&id, epoch).as_bytes().to_vec()
    }

    /// A router with its own, empty memory store: nothing one input does (lease limits,
    /// idempotency keys) changes what the next input sees.
    pub fn fresh(&self) -> Router {
        router(Arc::clone(&self.auth), Arc::new(MemoryLeaseStore::new()))
    }
}

/// Sends the request; returns the status and body.
pub fn send(router: &Router, request: Request<Body>) -> (u16, Vec<u8>) {
    send_on(&fixture().runtime, router, request)
}

/// No 5xx, except 503 from the router whose store is down; every error body is JSON.
pub fn check(status: u16, body: &[u8], store_down: bool) {
    assert!(
        status < 500 || (store_down && status == 503),
        "status {status}: {}",
        String::from_utf8_lossy(body)
    );
    if status >= 400 && !body.is_empty() {
        let v: serde_json::Value = serde_json::from_slice(body).expect("error bodies are JSON");
        assert!(v["error"].is_string());
    }
}

/// Splits `data` into its first line and the rest (the rest is empty without a `\n`).
pub fn line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Percent-decodes a path segment as the router does; `None` unless UTF-8.
pub fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = raw.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

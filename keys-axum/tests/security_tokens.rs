//! Security suite, token attacks: a counted set of forged tokens against three key
//! configurations and three token carriers (0 may be accepted), oversized tokens against
//! the real server (fast, bounded memory), and 10,000 random-`kid` tokens against a JWKS
//! URL (at most one refetch per cooldown). Each test prints its figure for SECURITY.md.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/server.rs"]
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blindcast_keys_axum::{JwtAuthenticator, KeyServer};
use common::{SECRET, deriver, jwks_server, send};
use http::Request;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const RSA_PRIV: &str = include_str!("fixtures/rsa-private.pem");
const RSA_PUB: &str = include_str!("fixtures/rsa-public.pem");
const EC_PRIV: &str = include_str!("fixtures/ec-private.pem");
const EC_PUB: &str = include_str!("fixtures/ec-public.pem");
const ED_PRIV: &str = include_str!("fixtures/ed25519-private.pem");
const ISS: &str = "https://idp.example";
const AUD: &str = "keys";
const COOKIE: &str = "bc_token";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

fn b64j(v: &Value) -> String {
    b64(&serde_json::to_vec(v).unwrap())
}

fn good_claims() -> Value {
    json!({ "sub": "attacker", "exp": now() + 600, "iss": ISS, "aud": AUD })
}

fn with(mut claims: Value, key: &str, value: Option<Value>) -> Value {
    let map = claims.as_object_mut().unwrap();
    match value {
        Some(v) => map.insert(key.to_owned(), v),
        None => map.remove(key),
    };
    claims
}

/// A legitimate signer of one configuration: what the identity provider holds.
#[derive(Clone, Copy)]
enum Legit {
    Hs256,
    Rsa,
    Jwks,
}

impl Legit {
    fn sign(self, claims: &Value) -> String {
        let (header, key) = match self {
            Self::Hs256 => (
                Header::new(Algorithm::HS256),
                EncodingKey::from_secret(SECRET),
            ),
            Self::Rsa => (
                Header::new(Algorithm::RS256),
                EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap(),
            ),
            Self::Jwks => {
                let mut h = Header::new(Algorithm::RS256);
                h.kid = Some("rsa-1".into());
                (h, EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap())
            }
        };
        encode(&header, claims, &key).unwrap()
    }
}

/// The attacker's own asymmetric key: EC P-256, trusted by none of the configurations.
fn attacker_es256(header: Header, claims: &Value) -> String {
    encode(
        &header,
        claims,
        &EncodingKey::from_ec_pem(EC_PRIV.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn hs(alg: Algorithm, kid: Option<&str>, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// Every forged token, named. None may be accepted by a configuration whose legitimate
/// signer is `legit`.
fn forged(legit: Legit, attacker_jwks_url: &str) -> Vec<(String, String)> {
    let c = good_claims();
    let body = b64j(&c);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, token: String| out.push((name.to_owned(), token));

    // alg none, every casing, with an empty and a junk signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64j(&json!({ "alg": alg, "typ": "JWT" }));
        add(
            &format!("alg {alg}, empty signature"),
            format!("{header}.{body}."),
        );
        add(
            &format!("alg {alg}, junk signature"),
            format!("{header}.{body}.AAAA"),
        );
    }
    // Key confusion: HMAC keyed with public key material the attacker can read.
    for (name, material) in [
        ("RSA public PEM", RSA_PUB.as_bytes().to_vec()),
        ("EC public PEM", EC_PUB.as_bytes().to_vec()),
        (
            "RSA public PEM, trimmed",
            RSA_PUB.trim().as_bytes().to_vec(),
        ),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            add(
                &format!("key confusion {alg:?} keyed with {name}"),
                hs(alg, None, &material, &c),
            );
        }
        add(
            &format!("key confusion HS256 keyed with {name}, kid rsa-1"),
            hs(Algorithm::HS256, Some("rsa-1"), &material, &c),
        );
    }
    // Signatures: garbled, stripped, borrowed from another token, truncated.
    let real = legit.sign(&c);
    let (signed, sig) = real.rsplit_once('.').unwrap();
    let flipped = if sig.ends_with('A') { "B" } else { "A" };
    add(
        "garbled signature",
        format!("{}{flipped}", &real[..real.len() - 1]),
    );
    add("signature stripped", format!("{signed}."));
    add("signature removed (two parts)", signed.to_owned());
    add(
        "truncated signature",
        format!("{signed}.{}", &sig[..sig.len() / 2]),
    );
    let other = legit.sign(&with(c.clone(), "sub", Some(json!("someone-else"))));
    let other_sig = other.rsplit_once('.').unwrap().1;
    let (header_part, _) = signed.split_once('.').unwrap();
    add(
        "signature borrowed from another token",
        format!("{header_part}.{body}.{other_sig}"),
    );
    add(
        "payload swapped under a real signature",
        format!(
            "{header_part}.{}.{sig}",
            b64j(&with(c.clone(), "sub", Some(json!("admin"))))
        ),
    );
    // Claims: signed by the legitimate key, but wrong.
    let t = now();
    for (name, claims) in [
        ("missing exp", with(c.clone(), "exp", None)),
        ("missing sub", with(c.clone(), "sub", None)),
        ("numeric sub", with(c.clone(), "sub", Some(json!(42)))),
        ("empty sub", with(c.clone(), "sub", Some(json!("")))),
        (
            "oversized sub",
            with(c.clone(), "sub", Some(json!("v".repeat(300)))),
        ),
        (
            "sub with control chars",
            with(c.clone(), "sub", Some(json!("a\u{0}b"))),
        ),
        (
            "exp as a string",
            with(c.clone(), "exp", Some(json!(format!("{}", t + 600)))),
        ),
        (
            "expired beyond leeway",
            with(c.clone(), "exp", Some(json!(t - 120))),
        ),
        ("expired long ago", with(c.clone(), "exp", Some(json!(1)))),
        (
            "nbf in the future",
            with(c.clone(), "nbf", Some(json!(t + 120))),
        ),
        (
            "wrong iss",
            with(c.clone(), "iss", Some(json!("https://evil.example"))),
        ),
        (
            "iss look-alike",
            with(c.clone(), "iss", Some(json!(format!("{ISS}.evil.com")))),
        ),
        ("missing iss", with(c.clone(), "iss", None)),
        ("wrong aud", with(c.clone(), "aud", Some(json!("other")))),
        (
            "aud list without ours",
            with(c.clone(), "aud", Some(json!(["a", "b"]))),
        ),
        ("missing aud", with(c.clone(), "aud", None)),
    ] {
        add(&format!("claims: {name}"), legit.sign(&claims));
    }
    // kid injection, signed with keys the attacker picks (empty, guessable).
    for (name, kid, secret) in [
        (
            "path traversal to /dev/null",
            "../../../../../../dev/null",
            b"".as_slice(),
        ),
        (
            "path traversal",
            "../../etc/passwd",
            b"root:x:0:0".as_slice(),
        ),
        ("SQL injection", "' UNION SELECT 'k' --", b"k".as_slice()),
        ("SQL injection 2", "x'; DROP TABLE keys; --", b"".as_slice()),
        ("overlong kid", &"k".repeat(10_000), b"k".as_slice()),
        ("kid with NUL", "a\u{0}b", b"".as_slice()),
        ("kid of the legit key", "rsa-1", b"rsa-1".as_slice()),
    ] {
        add(
            &format!("kid {name}"),
            hs(Algorithm::HS256, Some(kid), secret, &c),
        );
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(kid.to_owned());
        add(
            &format!("kid {name}, attacker ES256"),
            attacker_es256(h, &c),
        );
    }
    // Keys named by the token itself: never fetched, never trusted.
    let attacker_jwk = {
        let mut jwk = Jwk::from_encoding_key(
            &EncodingKey::from_ec_pem(EC_PRIV.as_bytes()).unwrap(),
            Algorithm::ES256,
        )
        .unwrap();
        jwk.common.key_id = Some("attacker".into());
        jwk
    };
    for field in ["jku", "x5u", "jwk", "all three"] {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("attacker".into());
        if field == "jku" || field == "all three" {
            h.jku = Some(attacker_jwks_url.to_owned());
        }
        if field == "x5u" || field == "all three" {
            h.x5u = Some(attacker_jwks_url.to_owned());
        }
        if field == "jwk" || field == "all three" {
            h.jwk = Some(attacker_jwk.clone());
        }
        add(
            &format!("{field} header, attacker ES256"),
            attacker_es256(h, &c),
        );
    }
    // An embedded symmetric jwk whose secret the attacker chose.
    let oct = b64j(&json!({
        "alg": "HS256", "kid": "attacker",
        "jwk": { "kty": "oct", "k": b64(b"attacker-secret-attacker-secret!") }
    }));
    let signing_input = format!("{oct}.{body}");
    let sig = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(b"attacker-secret-attacker-secret!"),
        Algorithm::HS256,
    )
    .unwrap();
    add("embedded oct jwk", format!("{signing_input}.{sig}"));
    // Wrong keys and algorithms.
    add(
        "HS256 with a guessed secret",
        hs(Algorithm::HS256, None, b"secret", &c),
    );
    add(
        "HS256 with a near-miss secret",
        hs(Algorithm::HS256, None, &SECRET[..SECRET.len() - 1], &c),
    );
    add(
        "HS512 with the real secret",
        hs(Algorithm::HS512, None, SECRET, &c),
    );
    add(
        "ES256 by the attacker",
        attacker_es256(Header::new(Algorithm::ES256), &c),
    );
    let rs = Legit::Rsa.sign(&c);
    let rs_rest = rs.split_once('.').unwrap().1;
    add(
        "RS256 signature relabelled PS256",
        format!(
            "{}.{rs_rest}",
            b64j(&json!({ "alg": "PS256", "kid": "rsa-1" }))
        ),
    );
    // Structure.
    for (name, t) in [
        ("empty", String::new()),
        ("dots only", "..".into()),
        ("four parts", format!("{real}.AAAA")),
        ("garbage", "a.b.c".into()),
        (
            "header not JSON",
            format!("{}.{body}.{sig}", b64(b"not json")),
        ),
        (
            "header a JSON array",
            format!("{}.{body}.{sig}", b64j(&json!(["HS256"]))),
        ),
        (
            "payload not JSON",
            format!("{header_part}.{}.{sig}", b64(b"{{{")),
        ),
        (
            "unknown alg",
            format!("{}.{body}.{sig}", b64j(&json!({ "alg": "HS1024" }))),
        ),
        ("standard base64 padding", format!("{signed}.{sig}==")),
        ("unicode", "ß.ü.ö".into()),
        (
            "deeply nested header",
            format!("{}.{body}.{sig}", b64(&[b'['; 5000])),
        ),
    ] {
        add(&format!("structure: {name}"), t);
    }
    out
}

/// The three carriers a token can arrive in.
fn requests(token: &str) -> Vec<(&'static str, Request<Body>)> {
    let pct: String = form_urlencode(token);
    vec![
        (
            "header",
            Request::get("/keys/movie-1")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty()),
        ),
        (
            "query",
            Request::get(format!("/keys/movie-1?token={pct}")).body(Body::empty()),
        ),
        (
            "cookie",
            Request::get("/keys/movie-1")
                .header("cookie", format!("{COOKIE}={token}"))
                .body(Body::empty()),
        ),
    ]
    .into_iter()
    // Tokens that cannot even form a header value are refused by the HTTP layer.
    .filter_map(|(name, r)| r.ok().map(|r| (name, r)))
    .collect()
}

fn form_urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn jwks_doc() -> String {
    let mut rsa = Jwk::from_encoding_key(
        &EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap(),
        Algorithm::RS256,
    )
    .unwrap();
    rsa.common.key_id = Some("rsa-1".into());
    let mut ed = Jwk::from_encoding_key(
        &EncodingKey::from_ed_pem(ED_PRIV.as_bytes()).unwrap(),
        Algorithm::EdDSA,
    )
    .unwrap();
    ed.common.key_id = Some("ed-1".into());
    serde_json::to_string(&JwkSet {
        keys: vec![rsa, ed],
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_never_accepted() {
    let (legit_url, legit_hits) = jwks_server(jwks_doc()).await;
    let (attacker_url, attacker_hits) = jwks_server(jwks_doc()).await;
    let builder = || {
        JwtAuthenticator::builder()
            .issuer(ISS)
            .audience(AUD)
            .cookie(COOKIE)
    };
    let configs = [
        ("HS256 secret", Legit::Hs256, builder().hs256_secret(SECRET)),
        (
            "RSA PEM",
            Legit::Rsa,
            builder().public_key_pem(RSA_PUB.as_bytes()),
        ),
        ("JWKS URL", Legit::Jwks, builder().jwks_url(&legit_url)),
    ];
    let (mut sent, mut accepted, mut distinct) = (0usize, Vec::new(), 0usize);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (config, legit, b) in configs {
        let router = KeyServer::new(deriver(), b.build().unwrap()).router();
        // Positive controls: a well-formed token of the legitimate signer is accepted in
        // every carrier, so a refusal below is about the forgery.
        for (carrier, request) in requests(&legit.sign(&good_claims())) {
            let r = send(&router, request).await;
            assert_eq!(
                r.status, 200,
                "{config}: control token refused via {carrier}"
            );
        }
        let within_leeway = legit.sign(&with(good_claims(), "exp", Some(json!(now() - 5))));
        assert_eq!(
            send(&router, requests(&within_leeway).remove(0).1)
                .await
                .status,
            200,
            "{config}: expired within the leeway should pass"
        );
        let tokens = forged(legit, &attacker_url);
        distinct += tokens.len();
        for (name, token) in &tokens {
            for (carrier, request) in requests(token) {
                let r = send(&router, request).await;
                sent += 1;
                *statuses.entry(r.status).or_default() += 1;
                if r.status == 200 {
                    accepted.push(format!("{config} / {carrier} / {name}"));
                }
                assert!(
                    r.status < 500,
                    "{config} / {carrier} / {name}: {}",
                    r.status
                );
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    println!(
        "FIGURE token attacks: {} of {sent} forged token requests accepted \
         ({distinct} forged tokens over 3 key configurations x up to 3 carriers); statuses {statuses:?}; \
         attacker JWKS fetched {} times; legit JWKS fetched {} times",
        accepted.len(),
        attacker_hits.load(Ordering::SeqCst),
        legit_hits.load(Ordering::SeqCst),
    );
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
    assert_eq!(
        attacker_hits.load(Ordering::SeqCst),
        0,
        "a URL from a token header was fetched"
    );
}

/// Sends one request with a big Authorization header or query over a fresh connection;
/// returns the status, or 0 when the server closed the connection without one.
async fn raw_request(addr: &str, head: &str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may reject (and close) before the head is fully written.
    let _ = s.write_all(head.as_bytes()).await;
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_tokens_are_refused_fast_with_bounded_memory() {
    server::bounded(Duration::from_secs(60), "oversized tokens", async {
        let srv = server::start(&[("JWT_COOKIE", COOKIE)]);
        // Warm up, so the baseline includes the runtime's steady state.
        let http = server::client(Duration::from_secs(10));
        for _ in 0..20 {
            let r = http
                .get(format!("{}/keys/movie-1", srv.base))
                .bearer_auth(server::token("v"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let rss_before = srv.proc_status_kb("VmHWM");
        let sizes = [8 * 1024 + 1, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 << 20];
        let (mut n, mut accepted, mut max_ms) = (0, 0, 0f64);
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for &size in &sizes {
            // A plausible JWT shape, so the size is the only thing wrong.
            let token = format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", "A".repeat(size));
            for carrier in ["header", "query", "cookie"] {
                for _ in 0..5 {
                    let head = match carrier {
                        "header" => format!(
                            "GET /keys/movie-1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
                        ),
                        "query" => format!(
                            "GET /keys/movie-1?token={token} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
                        ),
                        _ => format!(
                            "GET /keys/movie-1 HTTP/1.1\r\nhost: x\r\ncookie: {COOKIE}={token}\r\nconnection: close\r\n\r\n"
                        ),
                    };
                    let started = Instant::now();
                    let status = raw_request(&srv.addr, &head).await;
                    max_ms = f64::max(max_ms, started.elapsed().as_secs_f64() * 1000.0);
                    n += 1;
                    *statuses.entry(status).or_default() += 1;
                    if status == 200 {
                        accepted += 1;
                    }
                    assert!(
                        status == 0 || (400..500).contains(&status),
                        "{carrier} {size}: status {status}"
                    );
                }
            }
        }
        let rss_after = srv.proc_status_kb("VmHWM");
        let grown_mib = (rss_after.saturating_sub(rss_before)) as f64 / 1024.0;
        println!(
            "FIGURE oversized tokens: {accepted} of {n} accepted (8 KiB+1 to 4 MiB, header/query/cookie); \
             slowest refusal {max_ms:.1} ms; peak RSS grew {grown_mib:.1} MiB \
             ({rss_before} -> {rss_after} kB); statuses {statuses:?} (0 = closed by the server)"
        );
        assert_eq!(accepted, 0);
        assert!(max_ms < 1000.0, "a refusal took {max_ms} ms");
        assert!(grown_mib < 32.0, "peak RSS grew by {grown_mib} MiB");
        // The server still serves.
        let r = http
            .get(format!("{}/keys/movie-1", srv.base))
            .bearer_auth(server::token("v"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_kids_refetch_at_most_once_per_cooldown() {
    server::bounded(Duration::from_secs(90), "random kids", async {
        let (url, hits) = jwks_server(jwks_doc()).await;
        // A short cooldown, so the burst spans several windows and the limit is exercised.
        let cooldown = Duration::from_secs(1);
        let srv = server::start(&[
            ("JWT_SECRET", ""),
            ("JWT_JWKS_URL", &url),
            ("JWKS_REFETCH_COOLDOWN", "1s"),
            ("LOG_LEVEL", "warn,blindcast_keys_axum::server=info"),
        ]);
        let started = Instant::now();
        let http = server::client(Duration::from_secs(20));
        // Random kids with a junk signature: what an attacker without a key can send.
        let body = b64j(&json!({ "sub": "v", "exp": now() + 600 }));
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
        let tokens: Vec<String> = (0..10_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let header = b64j(&json!({ "alg": "RS256", "kid": format!("{seed:016x}") }));
                format!("{header}.{body}.{}", b64(&seed.to_le_bytes()))
            })
            .collect();
        let tokens = Arc::new(tokens);
        let next = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for _ in 0..64 {
            let (http, tokens, next, accepted) =
                (http.clone(), tokens.clone(), next.clone(), accepted.clone());
            let base = srv.base.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(t) = tokens.get(i) else { break };
                    let r = http
                        .get(format!("{base}/keys/movie-1"))
                        .bearer_auth(t)
                        .send()
                        .await
                        .unwrap();
                    let s = r.status().as_u16();
                    assert!(s < 500, "status {s}");
                    if s == 200 {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let elapsed = started.elapsed();
        let fetches = hits.load(Ordering::SeqCst);
        // The start-up prefetch, plus at most one refetch per cooldown window begun.
        let windows = elapsed.as_millis() / cooldown.as_millis() + 1;
        let windows = u64::try_from(windows).unwrap();
        println!(
            "FIGURE random kids: 10000 tokens with random kid -> {} refetches beyond the \
             start-up fetch in {:.1} s (cooldown 1 s, limit {windows}); {} accepted",
            fetches.saturating_sub(1),
            elapsed.as_secs_f64(),
            accepted.load(Ordering::Relaxed)
        );
        assert_eq!(accepted.load(Ordering::Relaxed), 0);
        assert!(fetches >= 1, "no start-up fetch");
        assert!(fetches - 1 <= windows, "{fetches} fetches in {elapsed:?}");
    })
    .await;
}

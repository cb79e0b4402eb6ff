//! Security suite, token attacks on the router in process: a counted set of forged tokens
//! against three key configurations and three token carriers (0 may be accepted).
//! Oversized tokens and 10,000 random-`kid` tokens against the real server are the system
//! tests' `security_tokens`. The test prints its figure for SECURITY.md.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blindcast_keys_axum::{JwtAuthenticator, KeyServer};
use common::jwks_endpoint::JwksEndpoint;
use common::signing::jwks;
use common::{SECRET, deriver, send};
use http::Request;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const RSA_PRIV: &str = include_str!("fixtures/rsa-private.pem");
const RSA_PUB: &str = include_str!("fixtures/rsa-public.pem");
const EC_PRIV: &str = include_str!("fixtures/ec-private.pem");
const EC_PUB: &str = include_str!("fixtures/ec-public.pem");
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
    jwks(&[
        (Algorithm::RS256, Some("rsa-1")),
        (Algorithm::EdDSA, Some("ed-1")),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_never_accepted() {
    let legit_idp = JwksEndpoint::start(&jwks_doc()).await;
    let attacker_idp = JwksEndpoint::start(&jwks_doc()).await;
    let (legit_url, attacker_url) = (legit_idp.url.clone(), attacker_idp.url.clone());
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
                // SECURITY.md says "all 401": a forged token is an authentication failure,
                // never a 403 or a 400.
                assert_eq!(r.status, 401, "{config} / {carrier} / {name}");
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    println!(
        "FIGURE token attacks: {} of {sent} forged token requests accepted \
         ({distinct} forged tokens over 3 key configurations x up to 3 carriers); statuses {statuses:?}; \
         attacker JWKS fetched {} times; legit JWKS fetched {} times",
        accepted.len(),
        attacker_idp.hits(),
        legit_idp.hits(),
    );
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
    // The counts SECURITY.md quotes (77 forged tokens per configuration, 693 requests):
    // a change to the attack list must update the document.
    assert_eq!((distinct, sent), (3 * 77, 693), "update SECURITY.md");
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), [401]);
    assert_eq!(
        attacker_idp.hits(),
        0,
        "a URL from a token header was fetched"
    );
}

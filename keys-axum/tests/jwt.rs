//! The JWT authenticator: RS256/ES256/EdDSA from a JWKS served on loopback, a JWKS file
//! and PEM files; the token attacks it must refuse.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blindcast_keys_axum::auth::JwtConfigError;
use blindcast_keys_axum::{JwtAuthenticator, KeyServer};
use common::jwks_endpoint::JwksEndpoint;
use common::signing::now;
use common::*;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const RSA_PRIV: &str = include_str!("fixtures/rsa-private.pem");
const RSA_PUB: &str = include_str!("fixtures/rsa-public.pem");
const EC_PUB: &str = include_str!("fixtures/ec-public.pem");
const ED_PUB: &str = include_str!("fixtures/ed25519-public.pem");

fn key_of(alg: Algorithm) -> EncodingKey {
    signing::fixture_key(alg).unwrap_or_else(|| EncodingKey::from_secret(SECRET))
}

fn jwk(alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(&key_of(alg), alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

fn jwks() -> String {
    let set = JwkSet {
        keys: vec![
            jwk(Algorithm::RS256, "rsa-1"),
            jwk(Algorithm::ES256, "ec-1"),
            jwk(Algorithm::EdDSA, "ed-1"),
        ],
    };
    serde_json::to_string(&set).unwrap()
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, &claims, &key_of(alg)).unwrap()
}

fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "exp": now() + 600 })
}

#[tokio::test]
async fn rs256_es256_eddsa_from_a_jwks_url() {
    let idp = JwksEndpoint::start(&jwks()).await;
    let url = idp.url.clone();
    let auth = JwtAuthenticator::builder().jwks_url(&url).build().unwrap();
    let router = KeyServer::new(deriver(), auth).router();
    for (alg, kid) in [
        (Algorithm::RS256, "rsa-1"),
        (Algorithm::ES256, "ec-1"),
        (Algorithm::EdDSA, "ed-1"),
    ] {
        let t = sign(alg, Some(kid), claims("viewer-1"));
        let r = send(&router, get("/keys/movie-1", Some(&t))).await;
        assert_eq!(r.status, 200, "{alg:?}");
        assert_eq!(r.body, expected_key("movie-1", None));
        // Without a kid the matching key is found by algorithm.
        let t = sign(alg, None, claims("viewer-1"));
        assert_eq!(
            send(&router, get("/keys/movie-1", Some(&t))).await.status,
            200
        );
    }
    assert_eq!(idp.hits(), 1, "one fetch serves all keys");
}

#[tokio::test]
async fn random_kids_refetch_at_most_once_per_cooldown() {
    let idp = JwksEndpoint::start(&jwks()).await;
    let url = idp.url.clone();
    let auth = Arc::new(
        JwtAuthenticator::builder()
            .jwks_url(&url)
            .jwks_refetch_cooldown(Duration::from_secs(30))
            .build()
            .unwrap(),
    );
    assert!(auth.prefetch().await);
    let mut tasks = Vec::new();
    for i in 0..500 {
        let auth = Arc::clone(&auth);
        tasks.push(tokio::spawn(async move {
            let t = sign(Algorithm::RS256, Some(&format!("random-{i}")), claims("v"));
            auth.verify(&t).await.is_err()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap(), "a token with an unknown kid was accepted");
    }
    // The prefetch, plus at most one refetch for the whole burst.
    assert!(idp.hits() <= 2, "{} fetches", idp.hits());
    assert_eq!(idp.hits(), auth.jwks_fetches());
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_kid() {
    let idp = JwksEndpoint::start(&jwks()).await;
    let url = idp.url.clone();
    let auth = JwtAuthenticator::builder()
        .jwks_url(&url)
        .jwks_refetch_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let t = sign(Algorithm::ES256, Some("ec-1"), claims("v"));
    assert!(auth.verify(&t).await.is_ok());
    let unknown = sign(Algorithm::ES256, Some("ec-2"), claims("v"));
    assert!(auth.verify(&unknown).await.is_err());
    assert_eq!(idp.hits(), 2);
}

#[tokio::test]
async fn jwks_file_and_pem_files() {
    let auth = JwtAuthenticator::builder()
        .jwks_json(jwks().as_bytes())
        .build()
        .unwrap();
    assert!(
        auth.verify(&sign(Algorithm::EdDSA, Some("ed-1"), claims("v")))
            .await
            .is_ok()
    );
    for (pem, alg) in [
        (RSA_PUB, Algorithm::RS256),
        (EC_PUB, Algorithm::ES256),
        (ED_PUB, Algorithm::EdDSA),
    ] {
        let auth = JwtAuthenticator::builder()
            .public_key_pem(pem.as_bytes())
            .build()
            .unwrap();
        let principal = auth
            .verify(&sign(alg, None, claims("pem-viewer")))
            .await
            .unwrap();
        // No issuer is checked, so the viewer is the (iss, sub) pair; these tokens have
        // no `iss`.
        assert_eq!(principal.viewer.as_str(), r#"[null,"pem-viewer"]"#);
        // Another family's token is refused.
        let other = if alg == Algorithm::RS256 {
            Algorithm::ES256
        } else {
            Algorithm::RS256
        };
        assert!(auth.verify(&sign(other, None, claims("v"))).await.is_err());
    }
    assert_eq!(
        JwtAuthenticator::builder()
            .public_key_pem(RSA_PRIV.as_bytes())
            .build()
            .err(),
        Some(JwtConfigError::InvalidPem)
    );
    assert_eq!(
        JwtAuthenticator::builder()
            .hs256_secret(b"short")
            .build()
            .err(),
        Some(JwtConfigError::SecretTooShort)
    );
    assert_eq!(
        JwtAuthenticator::builder()
            .hs256_secret(SECRET)
            .public_key_pem(RSA_PUB.as_bytes())
            .build()
            .err(),
        Some(JwtConfigError::MultipleKeySources)
    );
    assert_eq!(
        JwtAuthenticator::builder().build().err(),
        Some(JwtConfigError::NoKeySource)
    );
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let rsa = JwtAuthenticator::builder()
        .public_key_pem(RSA_PUB.as_bytes())
        .build()
        .unwrap();
    let hs = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap();
    let body = b64(&claims("attacker"));
    let mut forged = Vec::new();
    // alg none, in every casing, with and without a signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(&json!({ "alg": alg, "typ": "JWT" }));
        forged.push(format!("{header}.{body}."));
        forged.push(format!("{header}.{body}.AAAA"));
    }
    // Key confusion: HS256 keyed with the RSA public key.
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims("attacker"),
        &EncodingKey::from_secret(RSA_PUB.as_bytes()),
    )
    .unwrap();
    forged.push(confused);
    // A garbled signature, a missing exp, a missing sub, expired, not yet valid.
    let good = sign(Algorithm::RS256, None, claims("v"));
    forged.push(format!("{}x", &good[..good.len() - 2]));
    forged.push(sign(Algorithm::RS256, None, json!({ "sub": "v" })));
    forged.push(sign(Algorithm::RS256, None, json!({ "exp": now() + 600 })));
    forged.push(sign(
        Algorithm::RS256,
        None,
        json!({ "sub": "v", "exp": now() - 120 }),
    ));
    forged.push(sign(
        Algorithm::RS256,
        None,
        json!({ "sub": "v", "exp": now() + 600, "nbf": now() + 120 }),
    ));
    forged.push(sign(
        Algorithm::RS256,
        None,
        json!({ "sub": 42, "exp": now() + 600 }),
    ));
    forged.push(sign(
        Algorithm::RS256,
        None,
        json!({ "sub": "", "exp": now() + 600 }),
    ));
    // kid junk.
    forged.push(sign(Algorithm::RS256, Some("../../etc/passwd"), claims("")));
    forged.push("a".repeat(100_000));
    forged.push("..".into());
    for token in &forged {
        assert!(rsa.verify(token).await.is_err(), "RSA accepted {token:.60}");
        assert!(hs.verify(token).await.is_err(), "HS accepted {token:.60}");
    }
    // Expired within the leeway is fine; beyond it is not.
    let lenient = sign(
        Algorithm::RS256,
        None,
        json!({ "sub": "v", "exp": now() - 5 }),
    );
    assert!(rsa.verify(&lenient).await.is_ok());
}

#[tokio::test]
async fn header_urls_are_never_fetched() {
    let idp = JwksEndpoint::start(&jwks()).await;
    let url = idp.url.clone();
    let auth = JwtAuthenticator::builder()
        .public_key_pem(RSA_PUB.as_bytes())
        .build()
        .unwrap();
    // Signed with the attacker's EC key, pointing at "their" JWKS.
    let mut header = Header::new(Algorithm::ES256);
    header.jku = Some(url.clone());
    header.x5u = Some(url.clone());
    header.jwk = Some(jwk(Algorithm::ES256, "attacker"));
    let t = encode(&header, &claims("v"), &key_of(Algorithm::ES256)).unwrap();
    assert!(auth.verify(&t).await.is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(idp.hits(), 0);
}

#[tokio::test]
async fn issuer_and_audience_when_configured() {
    let auth = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .issuer("https://idp.example")
        .audience("keys")
        .build()
        .unwrap();
    let ok = token_with(
        "v",
        &[
            ("iss", json!("https://idp.example")),
            ("aud", json!(["keys", "x"])),
        ],
    );
    assert!(auth.verify(&ok).await.is_ok());
    for bad in [
        token_with(
            "v",
            &[
                ("iss", json!("https://evil.example")),
                ("aud", json!("keys")),
            ],
        ),
        token_with(
            "v",
            &[
                ("iss", json!("https://idp.example")),
                ("aud", json!("other")),
            ],
        ),
        token_with("v", &[("aud", json!("keys"))]),
        token_with("v", &[("iss", json!("https://idp.example"))]),
    ] {
        assert!(auth.verify(&bad).await.is_err());
    }
    // Without configuration, iss and aud are not checked.
    let open = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap();
    assert!(
        open.verify(&token_with("v", &[("aud", json!("anything"))]))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn cached_tokens_still_expire() {
    let auth = JwtAuthenticator::builder()
        .public_key_pem(EC_PUB.as_bytes())
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let t = sign(
        Algorithm::ES256,
        None,
        json!({ "sub": "v", "exp": now() + 1 }),
    );
    assert!(auth.verify(&t).await.is_ok());
    assert!(auth.verify(&t).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(auth.verify(&t).await.is_err());
}

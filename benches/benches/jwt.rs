//! JWT verification per algorithm (HS256, RS256, ES256, EdDSA; aws-lc-rs backend):
//!
//! - `decode`: `jsonwebtoken::decode` alone, the signature check and claim parsing (the
//!   floor of a cold verification);
//! - `cold`: `JwtAuthenticator::verify` with the verified-token cache turned off, what
//!   every request pays without a cache;
//! - `cached`: `JwtAuthenticator::verify` with the default cache (10,000 tokens, 5 min),
//!   the same token again, what a playing viewer's key requests pay after the first:
//!   a SHA-256 of the token and a hash-map lookup under a mutex.
//!
//! `cargo bench -p blindcast-benches --bench jwt`

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blindcast_keys_axum::auth::JwtAuthenticator;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

const SECRET: &[u8] = b"bench-secret-of-at-least-thirty-two-bytes!";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../keys-axum/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Case {
    name: &'static str,
    alg: Algorithm,
    token: String,
    decoding: DecodingKey,
    cold: JwtAuthenticator,
    cached: JwtAuthenticator,
}

fn case(name: &'static str, alg: Algorithm) -> Case {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = serde_json::json!({ "sub": "viewer-1", "iat": now, "exp": now + 3600 });
    let (enc, dec) = match alg {
        Algorithm::HS256 => (
            EncodingKey::from_secret(SECRET),
            DecodingKey::from_secret(SECRET),
        ),
        Algorithm::RS256 => (
            EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).expect("rsa"),
            DecodingKey::from_rsa_pem(&fixture("rsa-public.pem")).expect("rsa"),
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_pem(&fixture("ec-private.pem")).expect("ec"),
            DecodingKey::from_ec_pem(&fixture("ec-public.pem")).expect("ec"),
        ),
        Algorithm::EdDSA => (
            EncodingKey::from_ed_pem(&fixture("ed25519-private.pem")).expect("ed"),
            DecodingKey::from_ed_pem(&fixture("ed25519-public.pem")).expect("ed"),
        ),
        _ => unreachable!("not benchmarked"),
    };
    let builder = || match alg {
        Algorithm::HS256 => JwtAuthenticator::builder().hs256_secret(SECRET),
        Algorithm::RS256 => JwtAuthenticator::builder().public_key_pem(&fixture("rsa-public.pem")),
        Algorithm::ES256 => JwtAuthenticator::builder().public_key_pem(&fixture("ec-public.pem")),
        _ => JwtAuthenticator::builder().public_key_pem(&fixture("ed25519-public.pem")),
    };
    let token = jsonwebtoken::encode(&Header::new(alg), &claims, &enc).expect("sign");
    let cold = builder()
        .token_cache(0, Duration::from_secs(300))
        .build()
        .expect("authenticator");
    let cached = builder().build().expect("authenticator");
    Case {
        name,
        alg,
        token,
        decoding: dec,
        cold,
        cached,
    }
}

fn jwt(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let cases = [
        case("HS256", Algorithm::HS256),
        case("RS256", Algorithm::RS256),
        case("ES256", Algorithm::ES256),
        case("EdDSA", Algorithm::EdDSA),
    ];
    let mut group = c.benchmark_group("jwt");
    for case in &cases {
        let mut validation = Validation::new(case.alg);
        validation.set_required_spec_claims(&["exp", "sub"]);
        group.bench_function(format!("{}/decode", case.name), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Map<String, Value>>(
                    std::hint::black_box(&case.token),
                    &case.decoding,
                    &validation,
                )
                .expect("valid")
            });
        });
        group.bench_function(format!("{}/cold", case.name), |b| {
            b.iter(|| {
                rt.block_on(case.cold.verify(std::hint::black_box(&case.token)))
                    .expect("valid")
            });
        });
        rt.block_on(case.cached.verify(&case.token)).expect("valid");
        group.bench_function(format!("{}/cached", case.name), |b| {
            b.iter(|| {
                rt.block_on(case.cached.verify(std::hint::black_box(&case.token)))
                    .expect("valid")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, jwt);
criterion_main!(benches);

//! Signing keys of the test fixtures (tests/fixtures/*.pem), for tests that mint their own
//! asymmetric tokens and publish the matching JWKS. Shared with the system tests
//! (included there by path; the PEM files are found relative to this file).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

/// Seconds since the epoch, for `exp`/`iat` claims.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The fixture private key for `alg` (RS256, ES256, EdDSA); `None` for other algorithms.
pub fn fixture_key(alg: Algorithm) -> Option<EncodingKey> {
    Some(match alg {
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(include_bytes!("../fixtures/rsa-private.pem")).unwrap()
        }
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(include_bytes!("../fixtures/ec-private.pem")).unwrap()
        }
        Algorithm::EdDSA => {
            EncodingKey::from_ed_pem(include_bytes!("../fixtures/ed25519-private.pem")).unwrap()
        }
        _ => return None,
    })
}

fn key_of(alg: Algorithm) -> EncodingKey {
    fixture_key(alg).unwrap_or_else(|| panic!("no fixture key for {alg:?}"))
}

/// A JWKS of the fixture keys for these (algorithm, kid) pairs; `None` leaves the `kid` out.
pub fn jwks(keys: &[(Algorithm, Option<&str>)]) -> String {
    let keys = keys
        .iter()
        .map(|(alg, kid)| {
            let mut jwk = Jwk::from_encoding_key(&key_of(*alg), *alg).unwrap();
            jwk.common.key_id = kid.map(str::to_owned);
            jwk
        })
        .collect();
    serde_json::to_string(&JwkSet { keys }).unwrap()
}

/// A token for `sub`, valid for ten minutes, signed with the fixture key for `alg`.
pub fn sign(alg: Algorithm, kid: Option<&str>, sub: &str) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    let claims = json!({ "sub": sub, "exp": now() + 600 });
    encode(&header, &claims, &key_of(alg)).unwrap()
}

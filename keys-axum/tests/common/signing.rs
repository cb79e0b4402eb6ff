//! Signing keys of the test fixtures, for tests that mint their own asymmetric tokens.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey};

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

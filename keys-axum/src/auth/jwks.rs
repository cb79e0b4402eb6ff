//! Verification keys: a fixed set (HS256 secret, PEM file, JWKS file) or a JWKS fetched
//! from a URL ([`remote`]).

mod remote;

use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

pub(crate) use remote::{RefreshRules, RemoteJwks};

/// Why a key set could not be had. The JWT builder reports each as the
/// `JwtConfigError` variant of the same name and message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwksError {
    /// The JWKS document is unusable.
    #[error("invalid JWKS: {0}")]
    InvalidJwks(&'static str),
    /// The JWKS URL is not an absolute http(s) URL.
    #[error("the JWKS URL must be an absolute https:// (or http://) URL")]
    InvalidUrl,
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
    /// Fetching the JWKS failed.
    #[error("JWKS fetch failed: {0}")]
    Fetch(String),
}

/// Most keys of a JWKS considered for one token without a `kid`.
pub(crate) const MAX_CANDIDATES: usize = 8;

/// One key and the algorithms it may verify (never `none`, never a family other than the
/// key's own: no HS256 with an RSA public key).
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
    pub(crate) validation: Validation,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

/// The checks every token must pass, apart from the algorithm list which comes from the
/// key.
#[derive(Debug, Clone)]
pub(crate) struct ValidationTemplate {
    pub(crate) issuer: Vec<String>,
    pub(crate) audience: Vec<String>,
    pub(crate) leeway: Duration,
}

impl ValidationTemplate {
    pub(crate) fn validation(&self, algorithms: Vec<Algorithm>) -> Validation {
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = algorithms;
        v.set_required_spec_claims(&["exp", "sub"]);
        v.leeway = self.leeway.as_secs();
        v.validate_exp = true;
        v.validate_nbf = true;
        if self.issuer.is_empty() {
            v.iss = None;
        } else {
            v.set_issuer(&self.issuer);
            v.required_spec_claims.insert("iss".into());
        }
        if self.audience.is_empty() {
            v.validate_aud = false;
        } else {
            v.set_audience(&self.audience);
            v.required_spec_claims.insert("aud".into());
        }
        v
    }
}

/// A set of verification keys.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<VerifyKey>,
}

impl KeySet {
    pub(crate) fn single(
        key: DecodingKey,
        algorithms: Vec<Algorithm>,
        t: &ValidationTemplate,
    ) -> Self {
        Self {
            keys: vec![VerifyKey {
                kid: None,
                key,
                validation: t.validation(algorithms),
            }],
        }
    }

    /// Builds a set from a JWKS document. Symmetric (`oct`) keys and keys of unsupported
    /// types are skipped: a public JWKS must not carry shared secrets.
    pub(crate) fn from_jwks(json: &[u8], t: &ValidationTemplate) -> Result<Self, JwksError> {
        #[derive(serde::Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc = serde_json::from_slice(json)
            .map_err(|_| JwksError::InvalidJwks("not a JWKS JSON document"))?;
        // Key by key, so one key of a type we do not know does not spoil the set.
        let keys: Vec<VerifyKey> = doc
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
            .filter_map(|jwk| {
                let jwk = &jwk;
                let algorithms = jwk_algorithms(jwk)?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some(VerifyKey {
                    kid: jwk.common.key_id.clone(),
                    key,
                    validation: t.validation(algorithms),
                })
            })
            .collect();
        if keys.is_empty() {
            return Err(JwksError::InvalidJwks(
                "no usable RSA, EC (P-256/P-384) or Ed25519 public key",
            ));
        }
        Ok(Self { keys })
    }

    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Whether some key has no `kid`.
    pub(crate) fn has_kidless(&self) -> bool {
        self.keys.iter().any(|k| k.kid.is_none())
    }

    /// Whether some key may verify a token with this `kid`: one listed under it, or one
    /// without a `kid` (identity providers with a single key often leave it out).
    pub(crate) fn covers(&self, kid: Option<&str>) -> bool {
        match kid {
            None => !self.keys.is_empty(),
            Some(kid) => self
                .keys
                .iter()
                .any(|k| k.kid.is_none() || k.kid.as_deref() == Some(kid)),
        }
    }

    /// The keys that may verify a token with this `kid` and `alg`.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a VerifyKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| match (kid, &k.kid) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            })
            .filter(move |k| k.validation.algorithms.contains(&alg))
            .take(MAX_CANDIDATES)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The algorithms a JWK may verify: its own `alg` if it names one of its family, else the
/// family's usual ones. `None` for keys we do not use.
fn jwk_algorithms(jwk: &Jwk) -> Option<Vec<Algorithm>> {
    use Algorithm::*;
    let family: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![ES256],
            EllipticCurve::P384 => vec![ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => vec![EdDSA],
            _ => return None,
        },
        // Symmetric keys (and types added later) are never taken from a JWKS.
        _ => return None,
    };
    match jwk.common.key_algorithm.map(Algorithm::try_from) {
        None => Some(family),
        Some(Ok(alg)) if family.contains(&alg) => Some(vec![alg]),
        Some(_) => None,
    }
}

//! Verification keys: a fixed set (HS256 secret, PEM file, JWKS file) or a JWKS fetched
//! from a URL, refetched on an unknown `kid` at most once per cooldown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::jwt::JwtConfigError;

/// Largest JWKS document accepted, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;
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
    pub(crate) fn from_jwks(json: &[u8], t: &ValidationTemplate) -> Result<Self, JwtConfigError> {
        #[derive(serde::Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc = serde_json::from_slice(json)
            .map_err(|_| JwtConfigError::InvalidJwks("not a JWKS JSON document"))?;
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
            return Err(JwtConfigError::InvalidJwks(
                "no usable RSA, EC (P-256/P-384) or Ed25519 public key",
            ));
        }
        Ok(Self { keys })
    }

    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
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

/// A JWKS behind a URL.
#[derive(Debug)]
pub(crate) struct RemoteJwks {
    url: reqwest::Url,
    client: reqwest::Client,
    template: ValidationTemplate,
    current: RwLock<Arc<KeySet>>,
    /// Taken by the one task that fetches; others wait and then reuse its result.
    fetch_lock: tokio::sync::Mutex<FetchState>,
    /// Bumped after each fetch attempt, so waiters can tell that one happened.
    generation: AtomicU64,
    fetches: AtomicU64,
    /// Milliseconds after `born` until which the current set counts as fresh (0: never
    /// fetched). An atomic, so the hot path never takes a lock to learn the age.
    fresh_until_ms: AtomicU64,
    born: Instant,
    cooldown: Duration,
    max_age: Duration,
}

#[derive(Debug, Default)]
struct FetchState {
    last_attempt: Option<Instant>,
}

impl RemoteJwks {
    pub(crate) fn new(
        url: &str,
        template: ValidationTemplate,
        cooldown: Duration,
        max_age: Duration,
    ) -> Result<Self, JwtConfigError> {
        let url = reqwest::Url::parse(url).map_err(|_| JwtConfigError::InvalidUrl)?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(JwtConfigError::InvalidUrl);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            // A JWKS endpoint that redirects elsewhere is not followed: the configured
            // URL is the trust anchor.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| JwtConfigError::Client(e.to_string()))?;
        Ok(Self {
            url,
            client,
            template,
            current: RwLock::new(Arc::new(KeySet::default())),
            fetch_lock: tokio::sync::Mutex::new(FetchState::default()),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            fresh_until_ms: AtomicU64::new(0),
            born: Instant::now(),
            cooldown,
            max_age,
        })
    }

    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(set) => Arc::clone(&set),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The current keys, refetched first when the set is empty, stale, or lacks `kid`
    /// (subject to the cooldown, and with one fetch in flight at a time).
    pub(crate) async fn keys_for(&self, kid: Option<&str>) -> Arc<KeySet> {
        let set = self.snapshot();
        let missing = set.len() == 0 || kid.is_some_and(|k| !set.has_kid(k));
        if !missing && !self.is_stale() {
            return set;
        }
        self.refresh().await;
        self.snapshot()
    }

    fn is_stale(&self) -> bool {
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        now >= self.fresh_until_ms.load(Ordering::Relaxed)
    }

    /// Fetches unless a fetch was attempted within the cooldown. Returns whether a fetch
    /// succeeded.
    pub(crate) async fn refresh(&self) -> bool {
        let seen = self.generation.load(Ordering::Acquire);
        let mut state = self.fetch_lock.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            // Someone fetched while we waited: use their result.
            return true;
        }
        if state
            .last_attempt
            .is_some_and(|t| t.elapsed() < self.cooldown)
        {
            return false;
        }
        state.last_attempt = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch().await;
        self.generation.fetch_add(1, Ordering::Release);
        match result {
            Ok(set) => {
                let fresh = self.born.elapsed().saturating_add(self.max_age);
                let fresh = u64::try_from(fresh.as_millis()).unwrap_or(u64::MAX);
                self.fresh_until_ms.store(fresh.max(1), Ordering::Relaxed);
                match self.current.write() {
                    Ok(mut current) => *current = Arc::new(set),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS fetch failed; keeping the keys we had");
                false
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, JwtConfigError> {
        let fail = |why: &str| JwtConfigError::Fetch(why.to_owned());
        let mut response = self
            .client
            .get(self.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(&format!("request failed: {}", e.without_url())))?;
        if !response.status().is_success() {
            return Err(fail(&format!("status {}", response.status().as_u16())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fail(&format!("reading body: {}", e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(fail("document too large"));
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::from_jwks(&body, &self.template)
    }
}

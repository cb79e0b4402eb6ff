//! The built-in JWT authenticator.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blindcast_keys_core::lease::ViewerId;
use http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, decode, decode_header};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::cache::{VerifiedCache, token_hash};
use super::jwks::{JwksError, KeySet, RefreshRules, RemoteJwks, ValidationTemplate};
use super::token::extract_token;
use super::{AuthRejection, Authenticator, Principal};

/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// A JWT authenticator that cannot be built as configured. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// The HS256 secret is shorter than [`MIN_HS256_SECRET_LEN`] bytes.
    #[error("the HS256 secret must be at least {MIN_HS256_SECRET_LEN} bytes")]
    SecretTooShort,
    /// No key source was given.
    #[error("no key source: give an HS256 secret, a JWKS URL, a JWKS file or a PEM public key")]
    NoKeySource,
    /// More than one key source was given.
    #[error("give exactly one key source (HS256 secret, JWKS URL, JWKS file or PEM public key)")]
    MultipleKeySources,
    /// The PEM file holds no RSA, EC or Ed25519 public key.
    #[error("not a PEM-encoded RSA, EC or Ed25519 public key")]
    InvalidPem,
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
    /// An empty issuer: no token carries one, and a list of none would check nothing.
    #[error("issuer: must not be empty")]
    EmptyIssuer,
    /// An empty audience.
    #[error("audience: must not be empty")]
    EmptyAudience,
    /// The leeway is over [`MAX_LEEWAY`].
    #[error("leeway: at most 300 seconds")]
    Leeway,
    /// The cookie name is empty or holds a character outside `A-Z a-z 0-9 _ - .`.
    #[error("cookie: expected a cookie name (A-Z a-z 0-9 _ - .)")]
    Cookie,
    /// The token cache holds more than [`MAX_CACHE_CAPACITY`] tokens.
    #[error("cache_capacity: at most 1000000 tokens")]
    CacheCapacity,
    /// Tokens would be cached longer than [`MAX_CACHE_TTL`].
    #[error("cache_ttl: at most 1 hour")]
    CacheTtl,
    /// The JWKS refetch cooldown is over [`MAX_JWKS_REFETCH_COOLDOWN`].
    #[error("jwks_refetch_cooldown: at most 10 minutes")]
    JwksRefetchCooldown,
    /// The JWKS max age is 0 or over [`MAX_JWKS_MAX_AGE`].
    #[error("jwks_max_age: more than 0, at most 24 hours")]
    JwksMaxAge,
}

impl From<JwksError> for JwtConfigError {
    fn from(error: JwksError) -> Self {
        match error {
            JwksError::InvalidJwks(why) => Self::InvalidJwks(why),
            JwksError::InvalidUrl => Self::InvalidUrl,
            JwksError::Client(why) => Self::Client(why),
            JwksError::Fetch(why) => Self::Fetch(why),
        }
    }
}

impl JwtConfigError {
    /// The builder option at fault (`leeway`, `issuer`, ...), or `None` for the key
    /// source. The `Display` then starts with `option: `.
    pub fn option(&self) -> Option<&'static str> {
        Some(match self {
            Self::EmptyIssuer => "issuer",
            Self::EmptyAudience => "audience",
            Self::Leeway => "leeway",
            Self::Cookie => "cookie",
            Self::CacheCapacity => "cache_capacity",
            Self::CacheTtl => "cache_ttl",
            Self::JwksRefetchCooldown => "jwks_refetch_cooldown",
            Self::JwksMaxAge => "jwks_max_age",
            _ => return None,
        })
    }
}

/// Largest clock-skew allowance.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Most tokens the verified-token cache may hold.
pub const MAX_CACHE_CAPACITY: usize = 1_000_000;
/// Longest a verified token may be cached: a key removed from the JWKS stops working
/// within this time for tokens already seen.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(3600);
/// Longest JWKS refetch cooldown: a rotated key must be picked up within minutes.
pub const MAX_JWKS_REFETCH_COOLDOWN: Duration = Duration::from_secs(600);
/// Longest a fetched JWKS stays fresh.
pub const MAX_JWKS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug)]
enum Keys {
    Fixed(Arc<KeySet>),
    Remote(RemoteJwks),
}

/// Verifies JWTs: HS256 with a shared secret, or RS256/PS256/ES256/ES384/EdDSA public keys
/// from a JWKS (URL or file) or a PEM file.
///
/// - The algorithm allowlist comes from the key type; `none` is never accepted, nor a
///   symmetric algorithm with a public key (key confusion).
/// - `exp` and `sub` are required, `nbf` is honoured, `iss` and `aud` are checked when
///   configured, with a small leeway (30 s by default).
/// - The viewer is the `sub` (at most 255 bytes) when exactly one issuer is configured;
///   otherwise (several issuers, or none checked) it is the (`iss`, `sub`) pair of
///   [`ViewerId::from_issuer_subject`], so the same `sub` from two issuers is two
///   viewers. Going between one issuer and several or none changes every viewer id.
/// - The `jku`, `x5u`, `x5c` and `jwk` header fields are ignored: keys only ever come from
///   the configuration.
/// - A JWKS URL is fetched one fetch at a time, in the background: a token whose key is
///   in memory never waits for it, even when the set is stale or the identity provider
///   hangs; the last good set stays in use while fetches fail. A token with an unknown
///   `kid` waits (at most 3 s) for a fetch, and fetches start at most once per cooldown
///   (1 s by default). See the crate README, "JWKS refresh".
/// - Verified tokens are cached (by SHA-256, until `exp` or 5 minutes), so asymmetric
///   signatures are not re-checked on every request.
///
/// ```
/// use blindcast_keys_axum::auth::JwtAuthenticator;
/// let auth = JwtAuthenticator::builder()
///     .hs256_secret(b"an HS256 secret of at least 32 bytes!")
///     .issuer("https://auth.example.com")
///     .cookie("bc_token")
///     .build()?;
/// # Ok::<(), blindcast_keys_axum::auth::JwtConfigError>(())
/// ```
#[derive(Debug)]
pub struct JwtAuthenticator {
    keys: Keys,
    cookie: Option<String>,
    cache: Option<VerifiedCache>,
    viewers: ViewerIds,
}

/// How a verified token names its viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ViewerIds {
    /// Exactly one issuer is accepted, so every token carries that `iss`: the `sub` alone
    /// is unique, and keeps the ids (and leases) of deployments from before pairs.
    Subject,
    /// No issuer check, or several issuers: the same `sub` may name two people, so the
    /// viewer is the (`iss`, `sub`) pair.
    IssuerSubject,
}

impl ViewerIds {
    fn for_issuers(issuers: &[String]) -> Self {
        let distinct: std::collections::BTreeSet<&str> =
            issuers.iter().map(String::as_str).collect();
        if distinct.len() == 1 {
            Self::Subject
        } else {
            Self::IssuerSubject
        }
    }
}

/// Builds a [`JwtAuthenticator`].
#[derive(Default)]
pub struct JwtBuilder {
    secret: Option<Zeroizing<Vec<u8>>>,
    pem: Option<Vec<u8>>,
    jwks_json: Option<Vec<u8>>,
    jwks_url: Option<String>,
    issuer: Vec<String>,
    audience: Vec<String>,
    leeway: Option<Duration>,
    cookie: Option<String>,
    cache_capacity: Option<usize>,
    cache_ttl: Option<Duration>,
    refresh: RefreshRules,
    sources: usize,
}

impl std::fmt::Debug for JwtBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtBuilder")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("jwks_url", &self.jwks_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl JwtBuilder {
    /// Verify HS256 tokens with this shared secret (at least 32 bytes).
    #[must_use]
    pub fn hs256_secret(mut self, secret: &[u8]) -> Self {
        self.secret = Some(Zeroizing::new(secret.to_vec()));
        self.sources += 1;
        self
    }

    /// Verify with the public key of this PEM document (RSA, EC P-256/P-384 or Ed25519).
    #[must_use]
    pub fn public_key_pem(mut self, pem: &[u8]) -> Self {
        self.pem = Some(pem.to_vec());
        self.sources += 1;
        self
    }

    /// Verify with the keys of this JWKS document.
    #[must_use]
    pub fn jwks_json(mut self, json: &[u8]) -> Self {
        self.jwks_json = Some(json.to_vec());
        self.sources += 1;
        self
    }

    /// Verify with the keys of the JWKS at this URL, fetched on first use, refreshed in the
    /// background when stale, and refetched for an unknown `kid` (at most once per
    /// cooldown).
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self.sources += 1;
        self
    }

    /// Accept only tokens whose `iss` is this (may be called more than once).
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer.push(issuer.into());
        self
    }

    /// Accept only tokens whose `aud` contains this (may be called more than once).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.push(audience.into());
        self
    }

    /// Clock-skew allowance for `exp` and `nbf` (default 30 s, at most
    /// [`MAX_LEEWAY`]; whole seconds).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// Also read the token from this cookie (after the header and the `token` query
    /// parameter). A cookie name: `A-Z a-z 0-9 _ - .`.
    #[must_use]
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// The verified-token cache: at most `capacity` tokens (0 turns it off), each kept at
    /// most `ttl` (default 10,000 tokens, 5 minutes; at most [`MAX_CACHE_CAPACITY`]
    /// tokens and [`MAX_CACHE_TTL`]).
    #[must_use]
    pub fn token_cache(self, capacity: usize, ttl: Duration) -> Self {
        self.token_cache_capacity(capacity).token_cache_ttl(ttl)
    }

    /// The verified-token cache's size alone (see [`token_cache`](Self::token_cache)).
    #[must_use]
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = Some(capacity);
        self
    }

    /// The verified-token cache's lifetime alone (see [`token_cache`](Self::token_cache)).
    #[must_use]
    pub fn token_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = Some(ttl);
        self
    }

    /// Least time between the starts of two fetches of a JWKS URL, whatever asks for
    /// them (default 1 s, at most [`MAX_JWKS_REFETCH_COOLDOWN`]): a token under a just-rotated key waits at most about this long
    /// to be accepted, and a flood of random `kid`s costs at most one fetch per cooldown.
    #[must_use]
    pub fn jwks_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh.cooldown = cooldown;
        self
    }

    /// How long a fetched JWKS stays fresh when its response has no `Cache-Control:
    /// max-age`, and the longest `max-age` honoured (default 10 minutes; more than 0, at
    /// most [`MAX_JWKS_MAX_AGE`]). A stale set
    /// stays in use while it is refreshed in the background.
    #[must_use]
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.refresh.max_age = max_age;
        self
    }

    /// The shortest `Cache-Control: max-age` of a JWKS response honoured (default 60 s;
    /// `no-cache` counts as 0). Capped by [`jwks_max_age`](Self::jwks_max_age).
    #[must_use]
    pub fn jwks_min_age(mut self, min_age: Duration) -> Self {
        self.refresh.min_age = min_age;
        self
    }

    /// For platforms that freeze the process between requests (AWS Lambda): the request
    /// that finds the JWKS stale and starts its refresh waits for it, at most twice as
    /// long as the last good fetch took plus 50 ms, and never more than 1 s, then goes on
    /// with the keys it has. Off by default: a background refresh never delays a request.
    #[must_use]
    pub fn jwks_refresh_in_request(mut self, on: bool) -> Self {
        self.refresh.refresh_in_request = on;
        self
    }

    /// Builds the authenticator.
    ///
    /// # Errors
    /// When no or several key sources are given, a key is unusable, or an option is out
    /// of range ([`JwtConfigError::option`] names it).
    pub fn build(self) -> Result<JwtAuthenticator, JwtConfigError> {
        self.check_options()?;
        let viewers = ViewerIds::for_issuers(&self.issuer);
        let template = ValidationTemplate {
            issuer: self.issuer,
            audience: self.audience,
            leeway: self.leeway.unwrap_or(Duration::from_secs(30)),
        };
        let keys = match self.sources {
            0 => return Err(JwtConfigError::NoKeySource),
            1 => {
                if let Some(secret) = self.secret {
                    if secret.len() < MIN_HS256_SECRET_LEN {
                        return Err(JwtConfigError::SecretTooShort);
                    }
                    Keys::Fixed(Arc::new(KeySet::single(
                        DecodingKey::from_secret(&secret),
                        vec![Algorithm::HS256],
                        &template,
                    )))
                } else if let Some(pem) = self.pem {
                    let (key, algs) = pem_key(&pem)?;
                    Keys::Fixed(Arc::new(KeySet::single(key, algs, &template)))
                } else if let Some(json) = self.jwks_json {
                    Keys::Fixed(Arc::new(KeySet::from_jwks(&json, &template)?))
                } else if let Some(url) = self.jwks_url {
                    Keys::Remote(RemoteJwks::new(&url, template, self.refresh)?)
                } else {
                    return Err(JwtConfigError::NoKeySource);
                }
            }
            _ => return Err(JwtConfigError::MultipleKeySources),
        };
        let capacity = self.cache_capacity.unwrap_or(10_000);
        let ttl = self.cache_ttl.unwrap_or(Duration::from_secs(300));
        Ok(JwtAuthenticator {
            keys,
            cookie: self.cookie,
            cache: (capacity > 0 && !ttl.is_zero()).then(|| VerifiedCache::new(capacity, ttl)),
            viewers,
        })
    }
}

impl JwtBuilder {
    /// Every option but the key source, each against its range.
    fn check_options(&self) -> Result<(), JwtConfigError> {
        if self.issuer.iter().any(|i| i.trim().is_empty()) {
            return Err(JwtConfigError::EmptyIssuer);
        }
        if self.audience.iter().any(|a| a.trim().is_empty()) {
            return Err(JwtConfigError::EmptyAudience);
        }
        if self.leeway.is_some_and(|l| l > MAX_LEEWAY) {
            return Err(JwtConfigError::Leeway);
        }
        if let Some(cookie) = &self.cookie
            && (cookie.is_empty()
                || !cookie
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
        {
            return Err(JwtConfigError::Cookie);
        }
        if self.cache_capacity.is_some_and(|c| c > MAX_CACHE_CAPACITY) {
            return Err(JwtConfigError::CacheCapacity);
        }
        if self.cache_ttl.is_some_and(|t| t > MAX_CACHE_TTL) {
            return Err(JwtConfigError::CacheTtl);
        }
        if self.refresh.cooldown > MAX_JWKS_REFETCH_COOLDOWN {
            return Err(JwtConfigError::JwksRefetchCooldown);
        }
        if self.refresh.max_age.is_zero() || self.refresh.max_age > MAX_JWKS_MAX_AGE {
            return Err(JwtConfigError::JwksMaxAge);
        }
        Ok(())
    }
}

/// The key of a PEM public key and the algorithms its type allows.
fn pem_key(pem: &[u8]) -> Result<(DecodingKey, Vec<Algorithm>), JwtConfigError> {
    use Algorithm::*;
    let text = std::str::from_utf8(pem).map_err(|_| JwtConfigError::InvalidPem)?;
    if text.contains("PRIVATE KEY") {
        // A private key where a public one belongs is a deployment mistake worth
        // stopping for.
        return Err(JwtConfigError::InvalidPem);
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, vec![RS256, RS384, RS512, PS256, PS384, PS512]));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Ok((key, vec![ES256, ES384]));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((key, vec![EdDSA]));
    }
    Err(JwtConfigError::InvalidPem)
}

impl JwtAuthenticator {
    /// Starts a builder.
    pub fn builder() -> JwtBuilder {
        JwtBuilder::default()
    }

    /// For a JWKS URL: fetches the keys now (call at startup so the first viewer does
    /// not wait). Returns whether keys are available.
    pub async fn prefetch(&self) -> bool {
        match &self.keys {
            Keys::Fixed(_) => true,
            Keys::Remote(remote) => remote.prefetch().await,
        }
    }

    /// How many JWKS fetches failed (0 for fixed keys). The last good keys stayed in use.
    pub fn jwks_fetch_failures(&self) -> u64 {
        match &self.keys {
            Keys::Fixed(_) => 0,
            Keys::Remote(remote) => remote.failure_count(),
        }
    }

    /// How many times the JWKS URL was fetched (0 for fixed keys).
    pub fn jwks_fetches(&self) -> u64 {
        match &self.keys {
            Keys::Fixed(_) => 0,
            Keys::Remote(remote) => remote.fetch_count(),
        }
    }

    /// Verifies one token.
    ///
    /// # Errors
    /// 401 `unauthenticated` with a short reason.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthRejection> {
        let arrived = Instant::now();
        let hash = self.cache.as_ref().map(|_| token_hash(token));
        if let (Some(cache), Some(hash)) = (&self.cache, &hash)
            && let Some(principal) = cache.get(hash)
        {
            return Ok(principal);
        }
        let header = decode_header(token).map_err(|_| AuthRejection::invalid("malformed token"))?;
        // Only `alg` and `kid` of the unverified header are read, to pick a key; `jku`,
        // `x5u`, `x5c` and `jwk` are ignored.
        let kid = header.kid.as_deref().filter(|k| k.len() <= 256);
        if header.kid.is_some() && kid.is_none() {
            return Err(AuthRejection::invalid("invalid token"));
        }
        let set = match &self.keys {
            Keys::Fixed(set) => Arc::clone(set),
            Keys::Remote(remote) => remote.keys_for(kid, arrived).await,
        };
        let mut checked = check(token, &set, kid, header.alg);
        // No key verified a public-key signature, the set has keys without a `kid` and
        // none under the token's: the provider may have rotated a key it lists without a
        // `kid`, so look once at a set fetched after the request arrived.
        if let Keys::Remote(remote) = &self.keys
            && matches!(checked, Err((_, true)))
            && set.has_kidless()
            && !kid.is_some_and(|k| set.has_kid(k))
            && !matches!(
                header.alg,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            )
            && let Some(newer) = remote.after_key_miss(&set, arrived).await
        {
            checked = check(token, &newer, kid, header.alg);
        }
        let claims = checked.map_err(|(rejection, _)| rejection)?;
        let principal = principal_from(claims, self.viewers)?;
        if let (Some(cache), Some(hash)) = (&self.cache, hash) {
            cache.insert(hash, &principal);
        }
        Ok(principal)
    }
}

/// The verified claims of `token` under one of the keys of `set`, or why not and
/// whether that was because no key verified the signature.
fn check(
    token: &str,
    set: &KeySet,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<Map<String, Value>, (AuthRejection, bool)> {
    let mut last = AuthRejection::invalid("invalid token");
    for key in set.candidates(kid, alg) {
        match decode::<Map<String, Value>>(token, &key.key, &key.validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => {
                last = rejection_for(e.kind());
                if !matches!(e.kind(), ErrorKind::InvalidSignature) {
                    // The signature was fine (or never reached): another key would not
                    // change the verdict.
                    return Err((last, false));
                }
            }
        }
    }
    Err((last, true))
}

/// The principal of verified claims. Each mode is injective on its own: with one
/// issuer, distinct subjects are distinct ids; otherwise every id is the JSON array of
/// [`ViewerId::from_issuer_subject`], which parses back to exactly one pair. A bare `sub`
/// and a pair never meet, since one authenticator uses one mode. (Changing `JWT_ISSUER`
/// between one issuer and several or none changes every id: leases in flight are then
/// not found and viewers create new ones. Only a `sub` that is itself such an array
/// could meet a pair across the change, until its old leases expire.)
fn principal_from(
    claims: Map<String, Value>,
    viewers: ViewerIds,
) -> Result<Principal, AuthRejection> {
    let invalid_sub = || AuthRejection::invalid("token subject is not a valid viewer id");
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(invalid_sub)?;
    let viewer = match viewers {
        ViewerIds::Subject => ViewerId::from_subject(sub).map_err(|_| invalid_sub())?,
        ViewerIds::IssuerSubject => {
            ViewerId::from_subject(sub).map_err(|_| invalid_sub())?;
            let iss = match claims.get("iss") {
                None | Some(Value::Null) => None,
                Some(Value::String(iss)) => Some(iss.as_str()),
                // Unchecked issuers may be anything; only a string names one.
                Some(_) => return Err(AuthRejection::invalid("token issuer is not a string")),
            };
            ViewerId::from_issuer_subject(iss, sub).map_err(|_| {
                AuthRejection::invalid("token issuer is too long or holds control characters")
            })?
        }
    };
    Ok(Principal::with_claims(viewer, claims))
}

fn rejection_for(kind: &ErrorKind) -> AuthRejection {
    AuthRejection::invalid(match kind {
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not yet valid",
        ErrorKind::InvalidIssuer => "token issuer not accepted",
        ErrorKind::InvalidAudience => "token audience not accepted",
        ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
        _ => "invalid token",
    })
}

#[async_trait::async_trait]
impl Authenticator for JwtAuthenticator {
    async fn authenticate(&self, head: &Parts) -> Result<Principal, AuthRejection> {
        match extract_token(head, self.cookie.as_deref())? {
            Some((token, _source)) => self.verify(&token).await,
            None => Err(AuthRejection::missing("a bearer token is required")),
        }
    }
}

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The secret is shorter than [`MIN_HS256_SECRET_LEN`] bytes.
    #[error("the HS256 secret must be at least {MIN_HS256_SECRET_LEN} bytes")]
    SecretTooShort,
    /// The subject is not a valid viewer id.
    #[error("the subject must be 1 to 255 bytes without control characters")]
    InvalidSubject,
    /// Signing failed.
    #[error("signing failed")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

/// Mints an HS256 token for `sub`, valid for `ttl`, with extra claims (which may set
/// `iss`, `aud` or an entitlement claim). For tests, pipelines and `serve --dev`.
///
/// ```
/// use std::time::Duration;
/// let token = blindcast_keys_axum::auth::mint_hs256(
///     b"an HS256 secret of at least 32 bytes!", "viewer-1", Duration::from_secs(3600),
///     Default::default())?;
/// assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), blindcast_keys_axum::auth::MintError>(())
/// ```
///
/// # Errors
/// [`MintError`].
pub fn mint_hs256(
    secret: &[u8],
    sub: &str,
    ttl: Duration,
    extra: BTreeMap<String, Value>,
) -> Result<String, MintError> {
    if secret.len() < MIN_HS256_SECRET_LEN {
        return Err(MintError::SecretTooShort);
    }
    ViewerId::from_subject(sub).map_err(|_| MintError::InvalidSubject)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut claims: Map<String, Value> = extra.into_iter().collect();
    claims.insert("sub".into(), Value::from(sub));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now.saturating_add(ttl.as_secs())));
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(MintError::Signing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option_of(builder: JwtBuilder) -> Option<&'static str> {
        builder.build().err().and_then(|e| e.option())
    }

    #[test]
    fn every_option_out_of_range_is_refused_by_name() {
        let b = || JwtAuthenticator::builder().hs256_secret(&[7; 32]);
        let secs = Duration::from_secs;
        for (builder, option) in [
            (b().issuer(" "), "issuer"),
            (b().issuer("https://a").issuer(""), "issuer"),
            (b().audience(""), "audience"),
            (b().leeway(secs(301)), "leeway"),
            (b().cookie(""), "cookie"),
            (b().cookie("a b"), "cookie"),
            (
                b().token_cache_capacity(MAX_CACHE_CAPACITY + 1),
                "cache_capacity",
            ),
            (b().token_cache_ttl(secs(3601)), "cache_ttl"),
            (
                b().jwks_refetch_cooldown(secs(601)),
                "jwks_refetch_cooldown",
            ),
            (b().jwks_max_age(Duration::ZERO), "jwks_max_age"),
            (b().jwks_max_age(secs(24 * 3600 + 1)), "jwks_max_age"),
        ] {
            assert_eq!(option_of(builder), Some(option));
        }
        let e = b().leeway(secs(301)).build().unwrap_err();
        assert_eq!(e.to_string(), "leeway: at most 300 seconds");
        // The edges, and the values that turn the cache off, are allowed.
        assert!(
            b().leeway(MAX_LEEWAY)
                .cookie("bc_token-1.x")
                .token_cache(0, Duration::ZERO)
                .jwks_refetch_cooldown(Duration::ZERO)
                .jwks_max_age(MAX_JWKS_MAX_AGE)
                .build()
                .is_ok()
        );
        assert_eq!(
            JwtAuthenticator::builder().build().unwrap_err().option(),
            None
        );
    }
}

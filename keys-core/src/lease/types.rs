//! Values that cross the [`LeaseStore`](super::LeaseStore) boundary.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::LeaseError;
use crate::ContentId;

/// Longest accepted viewer id, in bytes. Room for an (issuer, subject) pair of
/// [`ViewerId::from_issuer_subject`]; a bare subject is held to
/// [`ViewerId::MAX_SUBJECT_LEN`].
pub const MAX_VIEWER_ID_LEN: usize = 1024;
/// Longest accepted idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// Longest lease TTL a store accepts (one day).
pub const MAX_LEASE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

const LEASE_ID_BYTES: usize = 16;
const LEASE_ID_CHARS: usize = 22;

/// An opaque lease id: 128 bits from the OS RNG, as 22 characters of unpadded base64url.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseId(String);

/// A lease id that is not 22 characters of unpadded base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("lease id must be 22 characters of unpadded base64url")]
pub struct InvalidLeaseId;

impl LeaseId {
    /// A fresh random id.
    ///
    /// # Errors
    /// [`LeaseError::Backend`] if the OS RNG fails.
    pub fn generate() -> Result<Self, LeaseError> {
        let bytes = crate::secret::random_bytes::<LEASE_ID_BYTES>().map_err(LeaseError::backend)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(&bytes[..])))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for LeaseId {
    type Err = InvalidLeaseId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; LEASE_ID_BYTES + 2];
        // Decoding (not just a charset check) also rejects non-canonical trailing bits, so
        // each 128-bit id has exactly one spelling.
        match URL_SAFE_NO_PAD.decode_slice(s.as_bytes(), &mut bytes) {
            Ok(LEASE_ID_BYTES) if s.len() == LEASE_ID_CHARS => Ok(Self(s.to_owned())),
            _ => Err(InvalidLeaseId),
        }
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LeaseId").field(&self.0).finish()
    }
}

/// Who holds leases. From a token: its `sub` when a single issuer is accepted, else the
/// (issuer, subject) pair of [`ViewerId::from_issuer_subject`]. 1 to 1024 bytes, no
/// control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewerId(String);

impl ViewerId {
    /// Longest token subject (`sub`) accepted as (part of) a viewer id, in bytes.
    pub const MAX_SUBJECT_LEN: usize = 255;
    /// Longest token issuer (`iss`) accepted in a viewer id, in bytes.
    pub const MAX_ISSUER_LEN: usize = 512;

    /// Validates and wraps a viewer id.
    ///
    /// # Errors
    /// [`LeaseError::InvalidRequest`] if empty, longer than [`MAX_VIEWER_ID_LEN`] bytes,
    /// or holding control characters.
    pub fn new(id: impl Into<String>) -> Result<Self, LeaseError> {
        let id = id.into();
        check_text(
            &id,
            MAX_VIEWER_ID_LEN,
            "viewer id must be 1 to 1024 bytes without control characters",
        )?;
        Ok(Self(id))
    }

    /// The viewer id of a token subject alone, for when every accepted token comes from
    /// one issuer.
    ///
    /// # Errors
    /// [`LeaseError::InvalidRequest`] if `sub` is empty, longer than
    /// [`MAX_SUBJECT_LEN`](Self::MAX_SUBJECT_LEN) bytes, or holds control characters.
    pub fn from_subject(sub: &str) -> Result<Self, LeaseError> {
        check_text(sub, Self::MAX_SUBJECT_LEN, SUBJECT_PROBLEM)?;
        Ok(Self(sub.to_owned()))
    }

    /// The viewer id of an (issuer, subject) pair, for when tokens of more than one
    /// issuer are accepted: the same `sub` from two issuers is two viewers. Encoded as
    /// the compact JSON array `["<iss>","<sub>"]`, `[null,"<sub>"]` without an issuer.
    ///
    /// Injective: a JSON string escapes every `"` and `\` inside it, so the first
    /// unescaped `"` after an opening one closes it; the id therefore parses back as JSON
    /// to exactly one pair, and two different pairs never share an id. (`null` and a
    /// quoted string cannot be confused either.)
    ///
    /// ```
    /// use blindcast_keys_core::lease::ViewerId;
    /// let id = ViewerId::from_issuer_subject(Some("https://a.example"), "42")?;
    /// assert_eq!(id.as_str(), r#"["https://a.example","42"]"#);
    /// assert_eq!(ViewerId::from_issuer_subject(None, "42")?.as_str(), r#"[null,"42"]"#);
    /// # Ok::<(), blindcast_keys_core::LeaseError>(())
    /// ```
    ///
    /// # Errors
    /// [`LeaseError::InvalidRequest`] if `sub` is not valid for
    /// [`from_subject`](Self::from_subject), `iss` is longer than
    /// [`MAX_ISSUER_LEN`](Self::MAX_ISSUER_LEN) bytes or holds control characters, or the
    /// encoded pair is longer than [`MAX_VIEWER_ID_LEN`] bytes (only when escaping many
    /// `"` or `\` doubles them).
    pub fn from_issuer_subject(iss: Option<&str>, sub: &str) -> Result<Self, LeaseError> {
        check_text(sub, Self::MAX_SUBJECT_LEN, SUBJECT_PROBLEM)?;
        if let Some(iss) = iss
            && (iss.len() > Self::MAX_ISSUER_LEN || iss.chars().any(char::is_control))
        {
            return Err(LeaseError::InvalidRequest(
                "issuer must be at most 512 bytes without control characters",
            ));
        }
        let mut id = String::with_capacity(iss.map_or(4, str::len) + sub.len() + 8);
        id.push('[');
        match iss {
            Some(iss) => push_json_string(&mut id, iss),
            None => id.push_str("null"),
        }
        id.push(',');
        push_json_string(&mut id, sub);
        id.push(']');
        if id.len() > MAX_VIEWER_ID_LEN {
            return Err(LeaseError::InvalidRequest(
                "issuer and subject are too long together once escaped",
            ));
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const SUBJECT_PROBLEM: &str = "subject must be 1 to 255 bytes without control characters";

/// Appends `text` as a JSON string. Callers have refused control characters, so `"` and
/// `\` are the only characters JSON requires escaping (the output is what `serde_json`
/// writes for the same text).
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

impl fmt::Display for ViewerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ViewerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ViewerId").field(&self.0).finish()
    }
}

/// A caller-chosen key that makes [`create`](super::LeaseStore::create) idempotent per
/// viewer. 1 to 255 bytes, no control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Validates and wraps a key.
    ///
    /// # Errors
    /// [`LeaseError::InvalidRequest`] if empty, longer than 255 bytes, or holding control
    /// characters.
    pub fn new(key: impl Into<String>) -> Result<Self, LeaseError> {
        let key = key.into();
        check_text(
            &key,
            MAX_IDEMPOTENCY_KEY_LEN,
            "idempotency key must be 1 to 255 bytes without control characters",
        )?;
        Ok(Self(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdempotencyKey").field(&self.0).finish()
    }
}

fn check_text(text: &str, max: usize, problem: &'static str) -> Result<(), LeaseError> {
    if text.is_empty() || text.len() > max || text.chars().any(char::is_control) {
        return Err(LeaseError::InvalidRequest(problem));
    }
    Ok(())
}

/// A request to [`create`](super::LeaseStore::create) a lease.
#[derive(Debug, Clone)]
pub struct CreateLease {
    /// Who the lease is for.
    pub viewer: ViewerId,
    /// What it covers.
    pub content: ContentId,
    /// How long it lives unless renewed: more than zero, at most [`MAX_LEASE_TTL`].
    pub ttl: Duration,
    /// How many unexpired leases the viewer may hold, this one included; at least 1. One
    /// name end to end: the server's `MAX_LEASES_PER_VIEWER` setting, the router's
    /// `max_leases_per_viewer`, this field, and the stores' SQL parameter.
    pub max_leases_per_viewer: u32,
    /// Makes the request idempotent for this viewer.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl CreateLease {
    /// A request without an idempotency key.
    pub fn new(
        viewer: ViewerId,
        content: ContentId,
        ttl: Duration,
        max_leases_per_viewer: u32,
    ) -> Self {
        Self {
            viewer,
            content,
            ttl,
            max_leases_per_viewer,
            idempotency_key: None,
        }
    }

    /// Sets the idempotency key.
    #[must_use]
    pub fn with_idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    /// Checks the TTL and limit. Stores call this before touching state.
    ///
    /// # Errors
    /// [`LeaseError::InvalidRequest`] naming the problem.
    pub fn validate(&self) -> Result<(), LeaseError> {
        validate_ttl(self.ttl)?;
        if self.max_leases_per_viewer == 0 {
            return Err(LeaseError::InvalidRequest(
                "max_leases_per_viewer must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Checks a TTL for `create` or `renew`: more than zero, at most [`MAX_LEASE_TTL`].
///
/// # Errors
/// [`LeaseError::InvalidRequest`].
pub fn validate_ttl(ttl: Duration) -> Result<(), LeaseError> {
    if ttl.is_zero() || ttl > MAX_LEASE_TTL {
        return Err(LeaseError::InvalidRequest(
            "ttl must be more than 0 and at most 24 hours",
        ));
    }
    Ok(())
}

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Its opaque id.
    pub id: LeaseId,
    /// Who holds it.
    pub viewer: ViewerId,
    /// What it covers.
    pub content: ContentId,
    /// When it was created (store clock).
    pub created_at: SystemTime,
    /// When it expires unless renewed (store clock).
    pub expires_at: SystemTime,
    /// How many times it was renewed.
    pub renewals: u64,
}

impl Lease {
    /// True when the lease has expired at `now`: expiry is inclusive of `expires_at`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_are_22_chars_of_base64url_and_parse_back() {
        let id = LeaseId::generate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.as_str().len(), 22);
        assert_eq!(id.as_str().parse::<LeaseId>(), Ok(id.clone()));
        for bad in [
            "",
            "short",
            "AAAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAAAB",
        ] {
            assert_eq!(bad.parse::<LeaseId>(), Err(InvalidLeaseId), "{bad:?}");
        }
    }

    #[test]
    fn viewer_and_idempotency_keys_are_bounded() {
        assert!(ViewerId::new("user-1").is_ok());
        assert!(ViewerId::new("").is_err());
        assert!(ViewerId::new("a\nb").is_err());
        assert!(ViewerId::new("v".repeat(MAX_VIEWER_ID_LEN)).is_ok());
        assert!(ViewerId::new("v".repeat(MAX_VIEWER_ID_LEN + 1)).is_err());
        assert!(IdempotencyKey::new("k".repeat(255)).is_ok());
        assert!(IdempotencyKey::new("k".repeat(256)).is_err());
    }

    /// Issuers and subjects that could confuse a naive encoding: quotes, backslashes,
    /// brackets, commas, `null`, a subject that itself looks like an encoded pair,
    /// unicode.
    const TRICKY: &[&str] = &[
        "42",
        "",
        "\"",
        "\\",
        "\\\"",
        "a\",\"b",
        "a\\",
        "[",
        "]",
        ",",
        "null",
        "[null,\"42\"]",
        "[\"a\",\"42\"]",
        "a\",\"42",
        "\",\"",
        "https://a.example/",
        "é",
        "視聴者",
        "😀\u{200b}",
        "\u{7e}",
    ];

    fn pairs() -> Vec<(Option<&'static str>, &'static str)> {
        let issuers = std::iter::once(None).chain(TRICKY.iter().copied().map(Some));
        issuers
            .flat_map(|iss| {
                TRICKY
                    .iter()
                    .copied()
                    .filter(|sub| !sub.is_empty())
                    .map(move |sub| (iss, sub))
            })
            .collect()
    }

    #[test]
    fn issuer_subject_ids_are_the_serde_json_array_and_parse_back_to_the_pair() {
        for (iss, sub) in pairs() {
            let id = ViewerId::from_issuer_subject(iss, sub).unwrap_or_else(|e| panic!("{e}"));
            let json = serde_json::to_string(&(iss, sub)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(id.as_str(), json, "{iss:?} {sub:?}");
            let back: (Option<String>, String) =
                serde_json::from_str(id.as_str()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((back.0.as_deref(), back.1.as_str()), (iss, sub));
        }
    }

    #[test]
    fn distinct_issuer_subject_pairs_are_distinct_viewers() {
        let pairs = pairs();
        let ids: std::collections::HashSet<ViewerId> = pairs
            .iter()
            .map(|&(iss, sub)| {
                ViewerId::from_issuer_subject(iss, sub).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        assert_eq!(ids.len(), pairs.len());
        // A missing issuer and the issuer "null" are two viewers, as are the empty issuer
        // and none.
        let of = |iss| ViewerId::from_issuer_subject(iss, "42").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(of(None), of(Some("null")));
        assert_ne!(of(None), of(Some("")));
        // Without escaping, these two would both read `["a","b","c"]`.
        assert_ne!(
            ViewerId::from_issuer_subject(Some("a"), "b\",\"c").ok(),
            ViewerId::from_issuer_subject(Some("a\",\"b"), "c").ok()
        );
    }

    #[test]
    fn issuer_subject_ids_are_bounded() {
        let ok = |iss: Option<&str>, sub: &str| ViewerId::from_issuer_subject(iss, sub).is_ok();
        let sub_max = "s".repeat(ViewerId::MAX_SUBJECT_LEN);
        let iss_max = "i".repeat(ViewerId::MAX_ISSUER_LEN);
        assert!(ok(Some(&iss_max), &sub_max));
        assert!(!ok(Some(&iss_max), &format!("{sub_max}s")));
        assert!(!ok(Some(&format!("{iss_max}i")), "42"));
        assert!(!ok(Some("a"), ""));
        assert!(!ok(Some("a"), "4\n2"));
        assert!(!ok(Some("a\u{0}"), "42"));
        assert!(!ok(Some("a\u{85}"), "42"));
        // Escaping doubles quotes and backslashes: past 1024 bytes the pair is refused
        // rather than cut.
        assert!(!ok(Some(&"\"".repeat(ViewerId::MAX_ISSUER_LEN)), "42"));
        assert!(ok(Some(&"\\".repeat(500)), "42"));
        let longest = ViewerId::from_issuer_subject(Some(&iss_max), &sub_max)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(longest.as_str().len() <= MAX_VIEWER_ID_LEN);
        // The bare subject keeps its old limit.
        assert!(ViewerId::from_subject(&sub_max).is_ok());
        assert!(ViewerId::from_subject(&format!("{sub_max}s")).is_err());
        assert_eq!(
            ViewerId::from_subject("[\"a\",\"42\"]")
                .map(|v| v.as_str().to_owned())
                .ok(),
            Some("[\"a\",\"42\"]".to_owned())
        );
    }

    proptest::proptest! {
        #[test]
        fn issuer_subject_encoding_is_injective(
            a_iss in proptest::option::of("[\"\\\\\\[\\],nul aé😀]{0,12}"),
            a_sub in "[\"\\\\\\[\\],nul aé😀]{1,12}",
            b_iss in proptest::option::of("[\"\\\\\\[\\],nul aé😀]{0,12}"),
            b_sub in "[\"\\\\\\[\\],nul aé😀]{1,12}",
        ) {
            let a = ViewerId::from_issuer_subject(a_iss.as_deref(), &a_sub).unwrap_or_else(|e| panic!("{e}"));
            let b = ViewerId::from_issuer_subject(b_iss.as_deref(), &b_sub).unwrap_or_else(|e| panic!("{e}"));
            proptest::prop_assert_eq!(a == b, (&a_iss, &a_sub) == (&b_iss, &b_sub));
            let json = serde_json::to_string(&(b_iss.as_deref(), b_sub.as_str())).unwrap_or_else(|e| panic!("{e}"));
            proptest::prop_assert_eq!(b.as_str(), json);
            let back: (Option<String>, String) =
                serde_json::from_str(a.as_str()).unwrap_or_else(|e| panic!("{e}"));
            proptest::prop_assert_eq!(back, (a_iss, a_sub));
        }
    }
}

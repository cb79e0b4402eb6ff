//! Values that cross the [`LeaseStore`](super::LeaseStore) boundary.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::LeaseError;
use crate::ContentId;

/// Longest accepted viewer id, in bytes.
pub const MAX_VIEWER_ID_LEN: usize = 255;
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

/// Who holds leases: the verified `sub` of a token. 1 to 255 bytes, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewerId(String);

impl ViewerId {
    /// Validates and wraps a viewer id.
    ///
    /// # Errors
    /// [`LeaseError::InvalidRequest`] if empty, longer than 255 bytes, or holding control
    /// characters.
    pub fn new(id: impl Into<String>) -> Result<Self, LeaseError> {
        let id = id.into();
        check_text(
            &id,
            MAX_VIEWER_ID_LEN,
            "viewer id must be 1 to 255 bytes without control characters",
        )?;
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
    /// How many unexpired leases the viewer may hold, this one included; at least 1.
    pub max_active: u32,
    /// Makes the request idempotent for this viewer.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl CreateLease {
    /// A request without an idempotency key.
    pub fn new(viewer: ViewerId, content: ContentId, ttl: Duration, max_active: u32) -> Self {
        Self {
            viewer,
            content,
            ttl,
            max_active,
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
        if self.max_active == 0 {
            return Err(LeaseError::InvalidRequest("max_active must be at least 1"));
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
        assert!(ViewerId::new("v".repeat(256)).is_err());
        assert!(IdempotencyKey::new("k".repeat(255)).is_ok());
        assert!(IdempotencyKey::new("k".repeat(256)).is_err());
    }
}

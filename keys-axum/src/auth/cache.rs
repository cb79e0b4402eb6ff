//! A bounded cache of verified tokens, so an RS256/ES256 signature (25-90 µs) is checked
//! once per token and cache period instead of on every key request of a playing viewer.
//!
//! Keyed by the SHA-256 of the token (the token itself is never kept), and each entry
//! lives until the token's `exp` or the cache TTL, whichever comes first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Principal;

#[derive(Debug)]
pub(crate) struct VerifiedCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    capacity: usize,
    ttl: Duration,
}

#[derive(Debug)]
struct Entry {
    principal: Principal,
    until: Instant,
}

pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            ttl,
        }
    }

    pub(crate) fn get(&self, hash: &[u8; 32]) -> Option<Principal> {
        let now = Instant::now();
        let entries = self.entries.lock().ok()?;
        entries
            .get(hash)
            .filter(|e| e.until > now)
            .map(|e| e.principal.clone())
    }

    /// Remembers a verified principal until min(`exp`, now + TTL). Tokens with an `nbf`
    /// in the future are not cached (they were refused anyway).
    pub(crate) fn insert(&self, hash: [u8; 32], principal: &Principal) {
        let now_wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let claim = |name: &str| principal.claims.get(name).and_then(Value::as_f64);
        let Some(exp) = claim("exp") else { return };
        if claim("nbf").is_some_and(|nbf| nbf > now_wall) || exp <= now_wall {
            return;
        }
        let left = Duration::from_secs_f64((exp - now_wall).min(self.ttl.as_secs_f64()));
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.until > now);
            if entries.len() >= self.capacity {
                // Still full of live entries: start over rather than track recency; a
                // miss only costs one signature check.
                entries.clear();
            }
        }
        entries.insert(
            hash,
            Entry {
                principal: principal.clone(),
                until: now + left,
            },
        );
    }
}

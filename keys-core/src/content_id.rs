//! Content identifiers: the `contentId` of the specification.

use std::fmt;
use std::str::FromStr;

/// Longest accepted content id, in bytes.
pub const MAX_CONTENT_ID_LEN: usize = 128;

/// A validated content identifier.
///
/// ASCII, 1 to 128 bytes, matching `^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$`: it can never
/// contain `/` and can never be `.` or `..`, so it is safe in URL paths, object keys and
/// file names.
///
/// ```
/// use blindcast_keys_core::{ContentId, ContentIdError};
///
/// let id: ContentId = "movie-1".parse()?;
/// assert_eq!(id.as_str(), "movie-1");
/// assert_eq!("a/b".parse::<ContentId>(), Err(ContentIdError::InvalidChar { position: 1 }));
/// # Ok::<(), ContentIdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentId(String);

/// Why a content id was rejected. Carries positions, never the rejected text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContentIdError {
    /// The id is empty.
    #[error("content id is empty (it must be 1 to 128 characters)")]
    Empty,
    /// The id is longer than [`MAX_CONTENT_ID_LEN`] bytes.
    #[error("content id is {len} bytes long (the maximum is 128)")]
    TooLong {
        /// Length of the rejected id in bytes.
        len: usize,
    },
    /// A byte outside `A-Z a-z 0-9 . _ -` (this includes `/`, spaces and non-ASCII).
    #[error(
        "content id has a character at byte {position} outside A-Z, a-z, 0-9, '.', '_' and '-'"
    )]
    InvalidChar {
        /// Byte offset of the first offending byte.
        position: usize,
    },
    /// The id starts with `.` (which also rules out `.` and `..`).
    #[error("content id must not start with '.'")]
    LeadingDot,
}

impl ContentId {
    /// Validates `id` and wraps it.
    pub fn new(id: impl Into<String>) -> Result<Self, ContentIdError> {
        let id = id.into();
        validate(&id)?;
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as bytes, as they enter the HKDF `info`.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Unwraps the id.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Checks `id` against the content-id rules without allocating.
pub fn validate(id: &str) -> Result<(), ContentIdError> {
    let bytes = id.as_bytes();
    if bytes.is_empty() {
        return Err(ContentIdError::Empty);
    }
    if bytes.len() > MAX_CONTENT_ID_LEN {
        return Err(ContentIdError::TooLong { len: bytes.len() });
    }
    if let Some(position) = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
    {
        return Err(ContentIdError::InvalidChar { position });
    }
    if bytes[0] == b'.' {
        return Err(ContentIdError::LeadingDot);
    }
    Ok(())
}

impl FromStr for ContentId {
    type Err = ContentIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        validate(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for ContentId {
    type Error = ContentIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl AsRef<str> for ContentId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ContentId").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in [
            "a",
            "movie-1",
            "_x",
            "-x",
            "a.b",
            "a..b",
            "A_b-9.ts",
            &"z".repeat(128),
        ] {
            assert!(ContentId::new(ok).is_ok(), "{ok:?} should be accepted");
        }
    }

    #[test]
    fn rejects_each_rule_with_its_own_error() {
        assert_eq!(validate(""), Err(ContentIdError::Empty));
        assert_eq!(
            validate(&"a".repeat(129)),
            Err(ContentIdError::TooLong { len: 129 })
        );
        assert_eq!(
            validate("a/b"),
            Err(ContentIdError::InvalidChar { position: 1 })
        );
        assert_eq!(validate("."), Err(ContentIdError::LeadingDot));
        assert_eq!(validate(".."), Err(ContentIdError::LeadingDot));
        assert_eq!(validate(".hidden"), Err(ContentIdError::LeadingDot));
        assert_eq!(
            validate("caf\u{e9}"),
            Err(ContentIdError::InvalidChar { position: 3 })
        );
        assert_eq!(
            validate("a b"),
            Err(ContentIdError::InvalidChar { position: 1 })
        );
        assert_eq!(
            validate("a\0"),
            Err(ContentIdError::InvalidChar { position: 1 })
        );
        assert_eq!(
            validate("%2e"),
            Err(ContentIdError::InvalidChar { position: 0 })
        );
    }
}

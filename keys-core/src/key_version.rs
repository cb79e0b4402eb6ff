//! Master-key versions: the `kv` of the specification.

use std::fmt;
use std::num::NonZeroU16;
use std::str::FromStr;

/// The number of a master-key version, 1 to 65535.
///
/// Every version is a complete (master key, salt) pair; version 1 derives exactly the keys
/// of an unversioned deployment (see `SPEC.md`, "Key versions"). Parsed from canonical
/// decimal only, like epochs, because the number is written into the HKDF `info` as text.
///
/// ```
/// use blindcast_keys_core::{KeyVersion, KeyVersionError};
///
/// let v: KeyVersion = "2".parse()?;
/// assert_eq!(v.get(), 2);
/// assert_eq!(v.to_string(), "2");
/// assert_eq!("02".parse::<KeyVersion>(), Err(KeyVersionError::LeadingZero));
/// assert_eq!("0".parse::<KeyVersion>(), Err(KeyVersionError::Zero));
/// assert_eq!(KeyVersion::new(1), Ok(KeyVersion::V1));
/// # Ok::<(), KeyVersionError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyVersion(NonZeroU16);

/// Why a key version was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyVersionError {
    /// The text is empty.
    #[error("key version is empty (expected a decimal number from 1 to 65535)")]
    Empty,
    /// A character other than `0`-`9` (signs, spaces, exponents, hex...).
    #[error("key version must be plain decimal digits (no sign, spaces or exponent)")]
    NotDecimal,
    /// A leading zero, as in `02`: only canonical decimal is accepted.
    #[error("key version must not have leading zeros")]
    LeadingZero,
    /// Version 0: versions start at 1.
    #[error("key version 0 does not exist (versions are 1 to 65535)")]
    Zero,
    /// Larger than 65535.
    #[error("key version is larger than 65535")]
    TooLarge,
}

impl KeyVersion {
    /// Version 1: the derivation of an unversioned deployment (`MASTER_KEY`/`SALT` alone).
    pub const V1: Self = Self(NonZeroU16::MIN);
    /// The largest version, 65535.
    pub const MAX: Self = Self(NonZeroU16::MAX);

    /// The version numbered `n`; 0 is refused.
    pub const fn new(n: u16) -> Result<Self, KeyVersionError> {
        match NonZeroU16::new(n) {
            Some(n) => Ok(Self(n)),
            None => Err(KeyVersionError::Zero),
        }
    }

    /// The number, 1 to 65535.
    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

impl FromStr for KeyVersion {
    type Err = KeyVersionError;

    /// Accepts only canonical decimal: `1`, `2`, `65535`; never `01`, `+2`, ` 2`, `0`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err(KeyVersionError::Empty);
        }
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(KeyVersionError::NotDecimal);
        }
        if bytes.len() > 1 && bytes[0] == b'0' {
            return Err(KeyVersionError::LeadingZero);
        }
        let n = bytes.iter().try_fold(0u16, |acc, b| {
            acc.checked_mul(10)
                .and_then(|acc| acc.checked_add(u16::from(b - b'0')))
                .ok_or(KeyVersionError::TooLarge)
        })?;
        Self::new(n)
    }
}

impl TryFrom<u16> for KeyVersion {
    type Error = KeyVersionError;

    fn try_from(n: u16) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl From<KeyVersion> for u16 {
    fn from(v: KeyVersion) -> Self {
        v.get()
    }
}

impl fmt::Display for KeyVersion {
    /// Canonical decimal, exactly as it enters the HKDF `info` and the `kv` parameter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyVersion({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_decimal_only() {
        let parse = |s: &str| s.parse::<KeyVersion>().map(KeyVersion::get);
        assert_eq!(parse("1"), Ok(1));
        assert_eq!(parse("2"), Ok(2));
        assert_eq!(parse("10"), Ok(10));
        assert_eq!(parse("65535"), Ok(65535));
        assert_eq!(parse("65536"), Err(KeyVersionError::TooLarge));
        assert_eq!(
            parse("99999999999999999999"),
            Err(KeyVersionError::TooLarge)
        );
        assert_eq!(parse("0"), Err(KeyVersionError::Zero));
        assert_eq!(parse("00"), Err(KeyVersionError::LeadingZero));
        assert_eq!(parse("02"), Err(KeyVersionError::LeadingZero));
        assert_eq!(parse(""), Err(KeyVersionError::Empty));
        for bad in ["+1", "-1", "1e3", " 1", "1 ", "0x10", "v2", "\u{661}"] {
            assert_eq!(parse(bad), Err(KeyVersionError::NotDecimal), "{bad:?}");
        }
    }

    #[test]
    fn numbers_and_text_agree() {
        assert_eq!(KeyVersion::new(0), Err(KeyVersionError::Zero));
        assert_eq!(KeyVersion::V1.get(), 1);
        assert_eq!(KeyVersion::MAX.get(), 65535);
        for n in [1u16, 9, 10, 255, 65535] {
            let v = KeyVersion::try_from(n).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(v.to_string(), n.to_string());
            assert_eq!(v.to_string().parse::<KeyVersion>(), Ok(v));
            assert_eq!(u16::from(v), n);
            assert_eq!(format!("{v:?}"), format!("KeyVersion({n})"));
        }
    }
}

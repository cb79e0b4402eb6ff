//! Epochs of rotating keys.

/// Why an epoch was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    /// The text is empty.
    #[error("epoch is empty (expected a decimal number such as 0 or 17)")]
    Empty,
    /// A character other than `0`-`9` (signs, spaces, exponents, hex...).
    #[error("epoch must be plain decimal digits (no sign, spaces or exponent)")]
    NotDecimal,
    /// A leading zero, as in `017`: only canonical decimal is accepted.
    #[error("epoch must not have leading zeros")]
    LeadingZero,
    /// Larger than `u64::MAX`.
    #[error("epoch is larger than 18446744073709551615")]
    Overflow,
}

/// Parses an epoch, accepting only canonical decimal: `0`, `17`, `18446744073709551615`;
/// never `017`, `+1`, `1e3`, ` 1` or `-1`.
///
/// Canonical form matters because the epoch is written into the HKDF `info` as text:
/// `017` and `17` would otherwise name the same key twice.
///
/// ```
/// use blindcast_keys_core::{parse_epoch, EpochError};
/// assert_eq!(parse_epoch("17"), Ok(17));
/// assert_eq!(parse_epoch("017"), Err(EpochError::LeadingZero));
/// ```
pub fn parse_epoch(text: &str) -> Result<u64, EpochError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(EpochError::Empty);
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err(EpochError::NotDecimal);
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return Err(EpochError::LeadingZero);
    }
    bytes.iter().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(b - b'0')))
            .ok_or(EpochError::Overflow)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_decimal_only() {
        assert_eq!(parse_epoch("0"), Ok(0));
        assert_eq!(parse_epoch("17"), Ok(17));
        assert_eq!(parse_epoch("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_epoch("18446744073709551616"),
            Err(EpochError::Overflow)
        );
        assert_eq!(
            parse_epoch("99999999999999999999999"),
            Err(EpochError::Overflow)
        );
        assert_eq!(parse_epoch("017"), Err(EpochError::LeadingZero));
        assert_eq!(parse_epoch("00"), Err(EpochError::LeadingZero));
        assert_eq!(parse_epoch(""), Err(EpochError::Empty));
        for bad in ["+1", "-1", "1e3", " 1", "1 ", "0x10", "١"] {
            assert_eq!(parse_epoch(bad), Err(EpochError::NotDecimal), "{bad:?}");
        }
    }
}

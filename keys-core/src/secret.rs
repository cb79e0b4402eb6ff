//! The two secrets every key is derived from: the master key and the salt.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Shortest accepted master key, in bytes.
pub const MASTER_KEY_MIN_LEN: usize = 32;
/// Longest accepted master key, in bytes.
pub const MASTER_KEY_MAX_LEN: usize = 64;
/// Shortest accepted salt, in bytes.
pub const SALT_MIN_LEN: usize = 16;
/// Longest accepted salt, in bytes.
pub const SALT_MAX_LEN: usize = 64;

/// A secret setting that failed to parse. Names the setting and the problem, never the
/// value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct SecretError {
    /// The setting's name, e.g. `MASTER_KEY`.
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: SecretProblem,
}

/// What is wrong with a secret setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretProblem {
    /// Empty after trimming whitespace.
    #[error("is empty (expected hex)")]
    Empty,
    /// An odd number of hex digits.
    #[error("has an odd number of hex digits ({digits})")]
    OddLength {
        /// Number of hex digits found.
        digits: usize,
    },
    /// A character that is not a hex digit.
    #[error("is not hex: character {position} is not 0-9, a-f or A-F")]
    NotHex {
        /// Character offset of the first non-hex character, after trimming.
        position: usize,
    },
    /// Fewer bytes than the minimum.
    #[error("is {len} bytes; at least {min} bytes ({} hex digits) are required", min * 2)]
    TooShort {
        /// Decoded length in bytes.
        len: usize,
        /// Minimum length in bytes.
        min: usize,
    },
    /// More bytes than the maximum.
    #[error("is {len} bytes; at most {max} bytes ({} hex digits) are allowed", max * 2)]
    TooLong {
        /// Decoded length in bytes.
        len: usize,
        /// Maximum length in bytes.
        max: usize,
    },
}

/// Decodes hex for `setting`, trimming whitespace, accepting either case and checking the
/// decoded length. The value never appears in the error.
fn decode_hex(
    setting: &'static str,
    text: &str,
    min: usize,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let fail = |problem| SecretError { setting, problem };
    let text = text.trim();
    if text.is_empty() {
        return Err(fail(SecretProblem::Empty));
    }
    if let Some(position) = text.chars().position(|c| !c.is_ascii_hexdigit()) {
        return Err(fail(SecretProblem::NotHex { position }));
    }
    if !text.len().is_multiple_of(2) {
        return Err(fail(SecretProblem::OddLength { digits: text.len() }));
    }
    let mut bytes = Zeroizing::new(vec![0u8; text.len() / 2]);
    hex::decode_to_slice(text, &mut bytes[..])
        .map_err(|_| fail(SecretProblem::NotHex { position: 0 }))?;
    check_len(setting, bytes.len(), min, max)?;
    Ok(bytes)
}

fn check_len(setting: &'static str, len: usize, min: usize, max: usize) -> Result<(), SecretError> {
    let problem = if len < min {
        SecretProblem::TooShort { len, min }
    } else if len > max {
        SecretProblem::TooLong { len, max }
    } else {
        return Ok(());
    };
    Err(SecretError { setting, problem })
}

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident, $setting:literal, $min:ident, $max:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name(Vec<u8>);

        impl $name {
            #[doc = concat!("The setting name used in errors: `", $setting, "`.")]
            pub const SETTING: &'static str = $setting;

            #[doc = concat!("Parses `", $setting, "` from hex (whitespace trimmed, any case).")]
            pub fn from_hex(text: &str) -> Result<Self, SecretError> {
                Self::from_hex_for(Self::SETTING, text)
            }

            /// Like `from_hex`, naming `setting` in errors (for values read from a
            /// file or another variable, e.g. `MASTER_KEY_FILE`).
            pub fn from_hex_for(setting: &'static str, text: &str) -> Result<Self, SecretError> {
                let bytes = decode_hex(setting, text, $min, $max)?;
                Ok(Self(bytes.to_vec()))
            }

            /// Wraps raw bytes, checking the length.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
                check_len(Self::SETTING, bytes.len(), $min, $max)?;
                Ok(Self(bytes.to_vec()))
            }

            /// The raw bytes. Handle with care: they are the secret.
            pub fn expose_bytes(&self) -> &[u8] {
                &self.0
            }

            /// The bytes as lowercase hex, zeroized when dropped.
            pub fn expose_hex(&self) -> Zeroizing<String> {
                Zeroizing::new(hex::encode(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({} bytes, redacted)"), self.0.len())
            }
        }
    };
}

secret_type!(
    /// The master key (`MASTER_KEY`): the HKDF input keying material, 32 to 64 bytes.
    ///
    /// Zeroized on drop; `Debug` prints only its length.
    MasterKey,
    "MASTER_KEY",
    MASTER_KEY_MIN_LEN,
    MASTER_KEY_MAX_LEN
);

secret_type!(
    /// The HKDF salt (`SALT`), 16 to 64 bytes.
    ///
    /// Zeroized on drop; `Debug` prints only its length.
    Salt,
    "SALT",
    SALT_MIN_LEN,
    SALT_MAX_LEN
);

/// Fills a buffer from the operating system's random number generator.
///
/// # Errors
/// Fails only if the OS RNG is unavailable.
pub fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, getrandom::Error> {
    let mut buf = Zeroizing::new([0u8; N]);
    getrandom::fill(&mut buf[..])?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hex_is_trimmed_and_case_insensitive() {
        let lower = MasterKey::from_hex(KEY).unwrap_or_else(|e| panic!("{e}"));
        let upper = MasterKey::from_hex(&format!("  {}\n", KEY.to_uppercase()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lower.expose_bytes(), upper.expose_bytes());
    }

    #[test]
    fn errors_name_the_setting_and_never_the_value() {
        let cases = [
            ("", SecretProblem::Empty),
            ("   ", SecretProblem::Empty),
            ("xyz", SecretProblem::NotHex { position: 0 }),
            ("0g", SecretProblem::NotHex { position: 1 }),
            (&KEY[1..], SecretProblem::OddLength { digits: 63 }),
            (&KEY[..62], SecretProblem::TooShort { len: 31, min: 32 }),
        ];
        for (text, problem) in cases {
            let err = MasterKey::from_hex(text).expect_err(text);
            assert_eq!(
                err,
                SecretError {
                    setting: "MASTER_KEY",
                    problem
                }
            );
            let shown = err.to_string();
            assert!(shown.starts_with("MASTER_KEY: "), "{shown}");
            if text.trim().len() > 2 {
                assert!(
                    !shown.contains(text.trim()),
                    "error echoes the value: {shown}"
                );
            }
        }
        let long = "ab".repeat(65);
        assert_eq!(
            MasterKey::from_hex(&long).map(|_| ()),
            Err(SecretError {
                setting: "MASTER_KEY",
                problem: SecretProblem::TooLong { len: 65, max: 64 }
            })
        );
        assert_eq!(
            Salt::from_hex("00ff").map(|_| ()),
            Err(SecretError {
                setting: "SALT",
                problem: SecretProblem::TooShort { len: 2, min: 16 }
            })
        );
    }

    #[test]
    fn debug_prints_no_bytes() {
        let key = MasterKey::from_hex(KEY).unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{key:?}");
        assert_eq!(shown, "MasterKey(32 bytes, redacted)");
    }
}

//! HKDF-SHA-256 key derivation, exactly as `SPEC.md` fixes it.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::content_id::ContentId;
use crate::secret::{MasterKey, Salt};

/// Length of every derived key: one AES-128 key.
pub const KEY_LEN: usize = 16;

/// Prefix of the HKDF `info` for content keys.
pub const CONTENT_INFO_PREFIX: &[u8] = b"blindcast/v1/content/";
/// Prefix of the HKDF `info` for epoch keys.
pub const EPOCH_INFO_PREFIX: &[u8] = b"blindcast/v1/epoch/";

/// Derives content and epoch keys from one master key and salt.
///
/// Construction runs HKDF-Extract once (RFC 5869 §2.2) and keeps the pseudorandom key
/// (PRK) as a pre-keyed HMAC state; each key is then one HKDF-Expand (§2.3) with
/// `L = 16`:
///
/// ```text
/// PRK         = HKDF-Extract(salt = SALT, IKM = MASTER_KEY)
/// content key = HKDF-Expand(PRK, "blindcast/v1/content/" || contentId, 16)
/// epoch key   = HKDF-Expand(PRK, "blindcast/v1/epoch/" || contentId || "/" || epoch, 16)
/// ```
///
/// The PRK is zeroized when the deriver is dropped, and `Debug` prints no bytes.
///
/// ```
/// use blindcast_keys_core::{ContentId, KeyDeriver, MasterKey, Salt};
///
/// let master = MasterKey::from_hex(&"0b".repeat(32))?;
/// let salt = Salt::from_hex(&"00".repeat(16))?;
/// let deriver = KeyDeriver::new(&master, &salt);
/// let id: ContentId = "movie-1".parse()?;
/// let key = deriver.epoch_key(&id, 7);
/// assert_eq!(key.as_bytes().len(), 16);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KeyDeriver {
    prk: Hkdf<Sha256>,
}

impl KeyDeriver {
    /// Runs HKDF-Extract over the master key and salt.
    pub fn new(master_key: &MasterKey, salt: &Salt) -> Self {
        let prk = Hkdf::<Sha256>::new(Some(salt.expose_bytes()), master_key.expose_bytes());
        Self { prk }
    }

    /// The content key of `content_id`.
    pub fn content_key(&self, content_id: &ContentId) -> DerivedKey {
        self.expand(&[CONTENT_INFO_PREFIX, content_id.as_bytes()])
    }

    /// The key of `content_id` for rotation epoch `epoch`.
    pub fn epoch_key(&self, content_id: &ContentId, epoch: u64) -> DerivedKey {
        let mut digits = itoa_u64(epoch);
        let key = self.expand(&[
            EPOCH_INFO_PREFIX,
            content_id.as_bytes(),
            b"/",
            digits.as_bytes(),
        ]);
        digits.buf.zeroize();
        key
    }

    /// The content key, or the epoch key when `epoch` is given.
    pub fn key(&self, content_id: &ContentId, epoch: Option<u64>) -> DerivedKey {
        match epoch {
            Some(epoch) => self.epoch_key(content_id, epoch),
            None => self.content_key(content_id),
        }
    }

    fn expand(&self, info: &[&[u8]]) -> DerivedKey {
        let mut key = DerivedKey([0; KEY_LEN]);
        // Cannot fail: HKDF-SHA-256 allows up to 255 * 32 bytes of output, we ask for 16.
        self.prk
            .expand_multi_info(info, &mut key.0)
            .expect("16 bytes is a valid HKDF-SHA-256 output length");
        key
    }
}

impl fmt::Debug for KeyDeriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDeriver(HKDF-SHA-256, PRK redacted)")
    }
}

/// A 16-byte AES-128 key. Zeroized on drop; `Debug` prints no bytes; the bytes are only
/// reachable through the explicitly named accessors.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DerivedKey([u8; KEY_LEN]);

impl DerivedKey {
    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Lowercase hex (32 characters), zeroized when dropped.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }

    /// Standard base64 with padding, zeroized when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKey(16 bytes, redacted)")
    }
}

/// Canonical decimal of a `u64` on the stack, so the hot path does not allocate.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_u64(mut n: u64) -> Digits {
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { buf, start }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PRK lives inside `Hkdf` as two pre-keyed SHA-256 states (HMAC's inner and outer
    /// pads); sha2's `zeroize` feature makes each state wipe itself on drop. This fails to
    /// compile if the feature is ever lost.
    #[test]
    fn prk_state_zeroizes_on_drop() {
        fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroize_on_drop::<sha2::block_api::Sha256VarCore>();
        zeroize_on_drop::<DerivedKey>();
    }

    #[test]
    fn decimal_is_canonical() {
        for n in [0, 1, 9, 10, 17, 1_000_000, u64::MAX] {
            assert_eq!(itoa_u64(n).as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn debug_prints_no_key_bytes() {
        let master = MasterKey::from_hex(&"0b".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
        let salt = Salt::from_hex(&"00".repeat(16)).unwrap_or_else(|e| panic!("{e}"));
        let deriver = KeyDeriver::new(&master, &salt);
        let id = ContentId::new("movie-1").unwrap_or_else(|e| panic!("{e}"));
        let key = deriver.content_key(&id);
        let hex = key.to_hex();
        for shown in [format!("{deriver:?}"), format!("{key:?}")] {
            assert!(!shown.contains(hex.as_str()), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }
}

//! HKDF-SHA-256 key derivation, exactly as `SPEC.md` fixes it.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::content_id::ContentId;
use crate::key_version::KeyVersion;
use crate::secret::{MasterKey, Salt};

/// Length of every derived key: one AES-128 key.
pub const KEY_LEN: usize = 16;

/// Prefix of the HKDF `info` for content keys of key version 1.
pub const CONTENT_INFO_PREFIX: &[u8] = b"blindcast/v1/content/";
/// Prefix of the HKDF `info` for epoch keys of key version 1.
pub const EPOCH_INFO_PREFIX: &[u8] = b"blindcast/v1/epoch/";
/// Start of the HKDF `info` of every key version from 2 on: `KV_INFO_PREFIX || N ||
/// "/content/"` or `KV_INFO_PREFIX || N || "/epoch/"`, `N` in canonical decimal.
pub const KV_INFO_PREFIX: &[u8] = b"blindcast/v1/kv/";

/// Derives content and epoch keys from one master key and salt, under one key version.
///
/// Construction runs HKDF-Extract once (RFC 5869 §2.2) and keeps the pseudorandom key
/// (PRK) as a pre-keyed HMAC state; each key is then one HKDF-Expand (§2.3) with
/// `L = 16`. For version 1 (what [`KeyDeriver::new`] builds):
///
/// ```text
/// PRK         = HKDF-Extract(salt = SALT, IKM = MASTER_KEY)
/// content key = HKDF-Expand(PRK, "blindcast/v1/content/" || contentId, 16)
/// epoch key   = HKDF-Expand(PRK, "blindcast/v1/epoch/" || contentId || "/" || epoch, 16)
/// ```
///
/// and for version `N` ≥ 2 ([`KeyDeriver::with_version`]):
///
/// ```text
/// content key = HKDF-Expand(PRK, "blindcast/v1/kv/" || N || "/content/" || contentId, 16)
/// epoch key   = HKDF-Expand(PRK, "blindcast/v1/kv/" || N || "/epoch/" || contentId || "/" || epoch, 16)
/// ```
///
/// The version's `info` prefixes are built once, at construction, so deriving a key
/// allocates nothing whatever the version. The PRK is zeroized when the deriver is
/// dropped, and `Debug` prints no bytes.
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
    version: KeyVersion,
    content_prefix: InfoPrefix,
    epoch_prefix: InfoPrefix,
}

impl KeyDeriver {
    /// Runs HKDF-Extract over the master key and salt, for key version 1: the keys of an
    /// unversioned deployment, byte for byte.
    pub fn new(master_key: &MasterKey, salt: &Salt) -> Self {
        Self::with_version(master_key, salt, KeyVersion::V1)
    }

    /// Runs HKDF-Extract over the master key and salt of key version `version`.
    ///
    /// ```
    /// use blindcast_keys_core::{ContentId, KeyDeriver, KeyVersion, MasterKey, Salt};
    ///
    /// let master = MasterKey::from_hex(&"0b".repeat(32))?;
    /// let salt = Salt::from_hex(&"00".repeat(16))?;
    /// let v2 = KeyDeriver::with_version(&master, &salt, KeyVersion::new(2)?);
    /// let v1 = KeyDeriver::new(&master, &salt);
    /// assert_eq!(v2.version().get(), 2);
    /// let id: ContentId = "movie-1".parse()?;
    /// // Same secrets, different version: a different key.
    /// assert_ne!(v2.content_key(&id), v1.content_key(&id));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_version(master_key: &MasterKey, salt: &Salt, version: KeyVersion) -> Self {
        let prk = Hkdf::<Sha256>::new(Some(salt.expose_bytes()), master_key.expose_bytes());
        let (content_prefix, epoch_prefix) = if version == KeyVersion::V1 {
            (
                InfoPrefix::from_parts(&[CONTENT_INFO_PREFIX]),
                InfoPrefix::from_parts(&[EPOCH_INFO_PREFIX]),
            )
        } else {
            let n = itoa_u64(u64::from(version.get()));
            (
                InfoPrefix::from_parts(&[KV_INFO_PREFIX, n.as_bytes(), b"/content/"]),
                InfoPrefix::from_parts(&[KV_INFO_PREFIX, n.as_bytes(), b"/epoch/"]),
            )
        };
        Self {
            prk,
            version,
            content_prefix,
            epoch_prefix,
        }
    }

    /// The key version this deriver derives for.
    pub fn version(&self) -> KeyVersion {
        self.version
    }

    /// The content key of `content_id`.
    pub fn content_key(&self, content_id: &ContentId) -> DerivedKey {
        self.expand(&[self.content_prefix.as_bytes(), content_id.as_bytes()])
    }

    /// The key of `content_id` for rotation epoch `epoch`.
    pub fn epoch_key(&self, content_id: &ContentId, epoch: u64) -> DerivedKey {
        let mut digits = itoa_u64(epoch);
        let key = self.expand(&[
            self.epoch_prefix.as_bytes(),
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
        write!(
            f,
            "KeyDeriver(version {}, HKDF-SHA-256, PRK redacted)",
            self.version
        )
    }
}

/// Longest `info` prefix: `"blindcast/v1/kv/65535/content/"`, 30 bytes.
const MAX_PREFIX_LEN: usize = KV_INFO_PREFIX.len() + 5 + b"/content/".len();

/// A version's `info` prefix, inline so the deriver stays one allocation-free value.
#[derive(Clone, Copy)]
struct InfoPrefix {
    buf: [u8; MAX_PREFIX_LEN],
    len: usize,
}

impl InfoPrefix {
    fn from_parts(parts: &[&[u8]]) -> Self {
        let mut buf = [0u8; MAX_PREFIX_LEN];
        let mut len = 0;
        for part in parts {
            buf[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        Self { buf, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
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
    fn info_prefixes_are_the_specified_strings() {
        let master = MasterKey::from_hex(&"0b".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
        let salt = Salt::from_hex(&"00".repeat(16)).unwrap_or_else(|e| panic!("{e}"));
        let cases: [(u16, &[u8], &[u8]); 4] = [
            (1, b"blindcast/v1/content/", b"blindcast/v1/epoch/"),
            (
                2,
                b"blindcast/v1/kv/2/content/",
                b"blindcast/v1/kv/2/epoch/",
            ),
            (
                10,
                b"blindcast/v1/kv/10/content/",
                b"blindcast/v1/kv/10/epoch/",
            ),
            (
                65535,
                b"blindcast/v1/kv/65535/content/",
                b"blindcast/v1/kv/65535/epoch/",
            ),
        ];
        for (n, content, epoch) in cases {
            let v = KeyVersion::new(n).unwrap_or_else(|e| panic!("{e}"));
            let d = KeyDeriver::with_version(&master, &salt, v);
            assert_eq!(d.version(), v);
            assert_eq!(d.content_prefix.as_bytes(), content, "version {n}");
            assert_eq!(d.epoch_prefix.as_bytes(), epoch, "version {n}");
        }
        assert_eq!(MAX_PREFIX_LEN, b"blindcast/v1/kv/65535/content/".len());
        assert_eq!(KeyDeriver::new(&master, &salt).version(), KeyVersion::V1);
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

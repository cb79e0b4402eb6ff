//! [`Keyring`]: numbered master-key versions, one primary, some retired.

use std::fmt;

use crate::derive::KeyDeriver;
use crate::key_version::KeyVersion;
use crate::secret::{MasterKey, Salt};

/// The master-key versions a server knows: active versions (each with its own master key
/// and salt, derived through its own [`KeyDeriver`]), one of them **primary** (the version
/// new content is packaged under), and **retired** versions, which hold no key material
/// at all: the keyring only knows their number, so a request for one can be refused
/// without deriving anything.
///
/// Build one with [`Keyring::builder`]; a single master key is [`Keyring::single`] (or
/// `KeyDeriver::into`). `Debug` prints version numbers only; every PRK is zeroized when
/// the keyring is dropped.
///
/// ```
/// use blindcast_keys_core::{
///     ContentId, KeyDeriver, KeyLookupError, KeyVersion, Keyring, MasterKey, Salt,
/// };
///
/// let v = |n| KeyVersion::new(n);
/// let keyring = Keyring::builder()
///     .version(v(2)?, &MasterKey::from_hex(&"0b".repeat(32))?, &Salt::from_hex(&"00".repeat(16))?)
///     .version(v(3)?, &MasterKey::from_hex(&"0c".repeat(32))?, &Salt::from_hex(&"01".repeat(16))?)
///     .retired(v(1)?)
///     .primary(v(3)?)
///     .build()?;
///
/// let id: ContentId = "movie-1".parse()?;
/// assert_eq!(keyring.primary().version(), v(3)?);
/// let key = keyring.deriver(v(2)?)?.content_key(&id);
/// assert_eq!(key.as_bytes().len(), 16);
/// assert_eq!(keyring.deriver(v(1)?).map(|_| ()), Err(KeyLookupError::Retired(v(1)?)));
/// assert_eq!(keyring.deriver(v(4)?).map(|_| ()), Err(KeyLookupError::Unknown(v(4)?)));
/// assert_eq!(format!("{keyring:?}"), "Keyring { primary: 3, active: [2, 3], retired: [1] }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    /// Sorted by version, never empty.
    active: Vec<KeyDeriver>,
    /// Sorted, disjoint from `active`.
    retired: Vec<KeyVersion>,
    /// Index into `active`.
    primary: usize,
}

/// Why a keyring was refused. Messages name versions, never key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// No version has a master key (none configured, or all retired).
    #[error("the keyring has no active key version: configure at least one master key")]
    NoActiveVersion,
    /// Several active versions and none named primary.
    #[error(
        "key versions {} are active and none is named primary: name the version new content is packaged under",
        list(.active)
    )]
    NoPrimary {
        /// The active versions, ascending.
        active: Vec<KeyVersion>,
    },
    /// The primary is neither active nor retired.
    #[error("primary key version {0} is not configured")]
    UnknownPrimary(KeyVersion),
    /// The primary is retired.
    #[error("primary key version {0} is retired: the primary must be an active version")]
    PrimaryRetired(KeyVersion),
    /// The same version given twice (twice active, or twice retired).
    #[error("key version {0} is configured twice")]
    DuplicateVersion(KeyVersion),
    /// Two versions share a master key: a leaked key would stay usable under the other.
    #[error(
        "key versions {first} and {second} have the same master key: every version needs its own"
    )]
    DuplicateMasterKey {
        /// The lower of the two versions.
        first: KeyVersion,
        /// The higher of the two versions.
        second: KeyVersion,
    },
    /// A version given both a master key and the retired mark.
    #[error(
        "key version {0} is both active and retired: a retired version must have no master key or salt configured"
    )]
    ActiveAndRetired(KeyVersion),
}

/// Why [`Keyring::deriver`] has no deriver for a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyLookupError {
    /// The keyring has never heard of this version (a 404-class error).
    #[error("key version {0} is not configured")]
    Unknown(KeyVersion),
    /// The version is retired: its keys are no longer served (410 Gone).
    #[error("key version {0} is retired")]
    Retired(KeyVersion),
}

/// What a keyring does with a version, as [`Keyring::versions`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Active and the version new content is packaged under.
    Primary,
    /// Active: its keys are served.
    Active,
    /// Retired: its keys are refused.
    Retired,
}

impl KeyStatus {
    /// `primary`, `active` or `retired`: a stable label for metrics and CLI output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Keyring {
    /// A keyring with no version yet; see [`KeyringBuilder`] for the rules.
    pub fn builder() -> KeyringBuilder {
        KeyringBuilder::default()
    }

    /// A one-version keyring: `deriver`'s version (1 for [`KeyDeriver::new`]), primary,
    /// nothing retired. This is the keyring of a deployment configured with one master key.
    ///
    /// ```
    /// use blindcast_keys_core::{KeyDeriver, KeyVersion, Keyring, MasterKey, Salt};
    ///
    /// let deriver = KeyDeriver::new(&MasterKey::from_hex(&"0b".repeat(32))?, &Salt::from_hex(&"00".repeat(16))?);
    /// let keyring: Keyring = deriver.into();
    /// assert_eq!(keyring.primary().version(), KeyVersion::V1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn single(deriver: KeyDeriver) -> Self {
        Self {
            active: vec![deriver],
            retired: Vec::new(),
            primary: 0,
        }
    }

    /// The deriver of `version`, or why there is none: [`KeyLookupError::Unknown`] or
    /// [`KeyLookupError::Retired`]. Nothing is derived either way.
    pub fn deriver(&self, version: KeyVersion) -> Result<&KeyDeriver, KeyLookupError> {
        // A keyring holds a handful of versions: a linear scan is as fast as any index.
        if let Some(deriver) = self.active.iter().find(|d| d.version() == version) {
            return Ok(deriver);
        }
        if self.retired.contains(&version) {
            return Err(KeyLookupError::Retired(version));
        }
        Err(KeyLookupError::Unknown(version))
    }

    /// The primary version's deriver: the one new content is packaged under.
    pub fn primary(&self) -> &KeyDeriver {
        &self.active[self.primary]
    }

    /// Every version the keyring knows, ascending, with its status.
    pub fn versions(&self) -> impl Iterator<Item = (KeyVersion, KeyStatus)> + '_ {
        let primary = self.primary().version();
        let mut active = self.active.iter().map(KeyDeriver::version).peekable();
        let mut retired = self.retired.iter().copied().peekable();
        std::iter::from_fn(move || {
            // Merge of two sorted, disjoint lists.
            let take_active = match (active.peek(), retired.peek()) {
                (Some(a), Some(r)) => a < r,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return None,
            };
            if take_active {
                let v = active.next()?;
                let status = if v == primary {
                    KeyStatus::Primary
                } else {
                    KeyStatus::Active
                };
                Some((v, status))
            } else {
                retired.next().map(|v| (v, KeyStatus::Retired))
            }
        })
    }
}

impl From<KeyDeriver> for Keyring {
    /// Same as [`Keyring::single`].
    fn from(deriver: KeyDeriver) -> Self {
        Self::single(deriver)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let active: Vec<u16> = self.active.iter().map(|d| d.version().get()).collect();
        let retired: Vec<u16> = self.retired.iter().map(|v| v.get()).collect();
        f.debug_struct("Keyring")
            .field("primary", &self.primary().version().get())
            .field("active", &active)
            .field("retired", &retired)
            .finish()
    }
}

/// Collects versions for a [`Keyring`]; [`KeyringBuilder::build`] checks the rules, each
/// failure its own [`KeyringError`]:
///
/// - at least one active version ([`KeyringError::NoActiveVersion`]);
/// - no version given twice ([`KeyringError::DuplicateVersion`]) or both active and
///   retired ([`KeyringError::ActiveAndRetired`]);
/// - no two active versions with the same master key, whatever their salts
///   ([`KeyringError::DuplicateMasterKey`], compared in constant time);
/// - the primary is an active version ([`KeyringError::UnknownPrimary`],
///   [`KeyringError::PrimaryRetired`]); it may be left out only when exactly one version
///   is active, which is then the primary ([`KeyringError::NoPrimary`]).
///
/// The builder holds copies of the master keys until it is dropped (they are zeroized
/// then); `Debug` prints version numbers only.
#[derive(Default)]
pub struct KeyringBuilder {
    active: Vec<(KeyVersion, MasterKey, Salt)>,
    retired: Vec<KeyVersion>,
    primary: Option<KeyVersion>,
}

impl KeyringBuilder {
    /// Adds active version `version` with its own master key and salt.
    pub fn version(mut self, version: KeyVersion, master_key: &MasterKey, salt: &Salt) -> Self {
        self.active
            .push((version, master_key.clone(), salt.clone()));
        self
    }

    /// Marks `version` retired: its keys are refused, and it has no key material.
    pub fn retired(mut self, version: KeyVersion) -> Self {
        self.retired.push(version);
        self
    }

    /// Names the primary version (the last call wins).
    pub fn primary(mut self, version: KeyVersion) -> Self {
        self.primary = Some(version);
        self
    }

    /// Checks the rules (see [`KeyringBuilder`]) and runs HKDF-Extract once per active
    /// version.
    pub fn build(self) -> Result<Keyring, KeyringError> {
        let mut active: Vec<KeyVersion> = self.active.iter().map(|(v, _, _)| *v).collect();
        let mut retired = self.retired.clone();
        active.sort_unstable();
        retired.sort_unstable();
        if let Some(v) = first_repeat(&active).or_else(|| first_repeat(&retired)) {
            return Err(KeyringError::DuplicateVersion(v));
        }
        if let Some(&v) = active.iter().find(|v| retired.binary_search(v).is_ok()) {
            return Err(KeyringError::ActiveAndRetired(v));
        }
        if active.is_empty() {
            return Err(KeyringError::NoActiveVersion);
        }
        self.check_distinct_master_keys()?;
        let primary = match self.primary {
            Some(p) if retired.binary_search(&p).is_ok() => {
                return Err(KeyringError::PrimaryRetired(p));
            }
            Some(p) if active.binary_search(&p).is_err() => {
                return Err(KeyringError::UnknownPrimary(p));
            }
            Some(p) => p,
            None if active.len() == 1 => active[0],
            None => return Err(KeyringError::NoPrimary { active }),
        };
        let mut derivers: Vec<KeyDeriver> = self
            .active
            .iter()
            .map(|(v, master, salt)| KeyDeriver::with_version(master, salt, *v))
            .collect();
        derivers.sort_unstable_by_key(KeyDeriver::version);
        let primary = active
            .binary_search(&primary)
            .map_err(|_| KeyringError::UnknownPrimary(primary))?;
        Ok(Keyring {
            active: derivers,
            retired,
            primary,
        })
    }

    /// Every pair of master keys, compared without an early exit on the first differing
    /// byte, so start-up time says nothing about how alike two keys are.
    fn check_distinct_master_keys(&self) -> Result<(), KeyringError> {
        for (i, (va, ka, _)) in self.active.iter().enumerate() {
            for (vb, kb, _) in &self.active[i + 1..] {
                if constant_time_eq(ka.expose_bytes(), kb.expose_bytes()) {
                    return Err(KeyringError::DuplicateMasterKey {
                        first: (*va).min(*vb),
                        second: (*va).max(*vb),
                    });
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for KeyringBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let active: Vec<u16> = self.active.iter().map(|(v, _, _)| v.get()).collect();
        let retired: Vec<u16> = self.retired.iter().map(|v| v.get()).collect();
        f.debug_struct("KeyringBuilder")
            .field("active", &active)
            .field("retired", &retired)
            .field("primary", &self.primary.map(KeyVersion::get))
            .finish()
    }
}

/// Equal lengths and equal bytes; every byte pair is visited whatever the contents (the
/// lengths, 32 to 64 bytes, are not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The first version that appears twice in a sorted list.
fn first_repeat(sorted: &[KeyVersion]) -> Option<KeyVersion> {
    sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

fn list(versions: &[KeyVersion]) -> String {
    versions
        .iter()
        .map(KeyVersion::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routers share one keyring between tasks.
    #[test]
    fn keyring_is_send_and_sync() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Keyring>();
        shared::<KeyringError>();
        shared::<KeyLookupError>();
    }

    #[test]
    fn constant_time_eq_compares_lengths_and_every_byte() {
        assert!(constant_time_eq(&[1, 2, 3], &[1, 2, 3]));
        assert!(!constant_time_eq(&[1, 2, 3], &[1, 2, 4]));
        assert!(!constant_time_eq(&[0, 2, 3], &[1, 2, 3]));
        assert!(!constant_time_eq(&[1, 2, 3], &[1, 2, 3, 0]));
        assert!(constant_time_eq(&[], &[]));
    }
}

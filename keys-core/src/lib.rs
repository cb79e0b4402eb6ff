#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod content_id;
mod derive;
mod epoch;
mod error_chain;
mod key_version;
mod keyring;
pub mod lease;
mod secret;

pub use content_id::{
    ContentId, ContentIdError, MAX_CONTENT_ID_LEN, validate as validate_content_id,
};
pub use derive::{
    CONTENT_INFO_PREFIX, DerivedKey, EPOCH_INFO_PREFIX, KEY_LEN, KV_INFO_PREFIX, KeyDeriver,
};
pub use epoch::{EpochError, parse_epoch};
pub use error_chain::ErrorChain;
pub use key_version::{KeyVersion, KeyVersionError};
pub use keyring::{KeyLookupError, KeyStatus, Keyring, KeyringBuilder, KeyringError};
pub use lease::{LeaseError, LeaseStore};
pub use secret::{
    MASTER_KEY_MAX_LEN, MASTER_KEY_MIN_LEN, MasterKey, SALT_MAX_LEN, SALT_MIN_LEN, Salt,
    SecretError, SecretProblem, random_bytes,
};

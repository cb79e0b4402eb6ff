//! [`ConfigError`]: an option or a setting that could not be used.

use blindcast_keys_core::SecretError;

/// An option (`lease_ttl`) or an environment setting (`LEASE_TTL`) that could not be used.
/// Its `Display` is one line that starts with the name and never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    /// The option's name (`lease_ttl`), or the setting's when read from the environment
    /// (`LEASE_TTL`).
    pub setting: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `setting`.
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: message.into(),
        }
    }

    /// The same error under another name (an option's error under its setting's name).
    #[must_use]
    pub fn named(self, setting: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: self.message,
        }
    }
}

impl From<SecretError> for ConfigError {
    fn from(e: SecretError) -> Self {
        Self::new(e.setting, e.problem.to_string())
    }
}

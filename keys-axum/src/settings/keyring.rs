//! The keyring's settings: `MASTER_KEY`/`SALT` (version 1), `MASTER_KEY_V<N>`/`SALT_V<N>`
//! (versions 2 to [`MAX_CONFIGURED_KEY_VERSION`]), each with a `_FILE` form,
//! `KEY_VERSION_PRIMARY` and `KEY_VERSIONS_RETIRED`.

use std::path::Path;

use blindcast_keys_core::{KeyVersion, Keyring, KeyringError, MasterKey, Salt, SecretError};
use zeroize::Zeroizing;

use super::env::Env;
use super::error::ConfigError;
use super::secrets::read_secret_file;

/// The highest version whose master key can be configured (`MASTER_KEY_V99`): names are
/// looked up one by one (an [`Env`] cannot list its names), so the range is bounded. A
/// rotation a month lasts eight years; retired versions and `kv` in URIs go up to 65535.
pub const MAX_CONFIGURED_KEY_VERSION: u16 = 99;

/// The names of one version's secrets: `MASTER_KEY`, `MASTER_KEY_FILE`, `SALT`,
/// `SALT_FILE` for version 1, `MASTER_KEY_V2`, ... for the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNames {
    /// `MASTER_KEY` or `MASTER_KEY_V<N>`.
    pub master_key: String,
    /// `MASTER_KEY_FILE` or `MASTER_KEY_V<N>_FILE`.
    pub master_key_file: String,
    /// `SALT` or `SALT_V<N>`.
    pub salt: String,
    /// `SALT_FILE` or `SALT_V<N>_FILE`.
    pub salt_file: String,
}

impl VersionNames {
    /// The names of version `n`'s settings.
    pub fn of(n: u16) -> Self {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("_V{n}")
        };
        Self {
            master_key: format!("MASTER_KEY{suffix}"),
            master_key_file: format!("MASTER_KEY{suffix}_FILE"),
            salt: format!("SALT{suffix}"),
            salt_file: format!("SALT{suffix}_FILE"),
        }
    }
}

/// A secret given inline or as a file, `None` when neither is set; both is refused.
/// Returns the text and the name it was given under.
fn read_optional(
    env: &dyn Env,
    name: &str,
    file_name: &str,
    explicit_file: Option<&Path>,
) -> Result<Option<(Zeroizing<String>, String)>, ConfigError> {
    if let Some(path) = explicit_file {
        return Ok(Some((
            read_secret_file(file_name, path)?,
            file_name.to_owned(),
        )));
    }
    let set = |n: &str| env.var(n).filter(|v| !v.trim().is_empty());
    match (set(name), set(file_name)) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            name,
            format!("set either {name} or {file_name}, not both"),
        )),
        (Some(value), None) => Ok(Some((Zeroizing::new(value), name.to_owned()))),
        (None, Some(path)) => Ok(Some((
            read_secret_file(file_name, Path::new(&path))?,
            file_name.to_owned(),
        ))),
        (None, None) => Ok(None),
    }
}

/// One configured version: its keys and the setting its master key came from.
struct Configured {
    version: KeyVersion,
    master: MasterKey,
    salt: Salt,
    master_setting: String,
}

/// Reads every version's master key and salt, `KEY_VERSION_PRIMARY` and
/// `KEY_VERSIONS_RETIRED`, and builds the keyring. `master_key_file` and `salt_file`
/// (command-line flags) replace version 1's `MASTER_KEY`/`SALT`.
///
/// `MASTER_KEY`/`SALT` alone make a one-version keyring whose keys are those of a
/// deployment without versions. The rules, each refused with an error naming a setting:
/// every version with a master key has a salt and the reverse; no two versions share a
/// master key; a retired version has no master key or salt left (retiring removes the
/// secret); with several versions `KEY_VERSION_PRIMARY` is required (adding a version
/// never changes by itself what new content is packaged under), and names an active one.
///
/// ```
/// use blindcast_keys_axum::settings::load_keyring;
/// use blindcast_keys_core::KeyVersion;
///
/// let env = |name: &str| match name {
///     "MASTER_KEY" => Some("0b".repeat(32)),
///     "SALT" => Some("00".repeat(16)),
///     "MASTER_KEY_V2" => Some("0c".repeat(32)),
///     "SALT_V2" => Some("01".repeat(16)),
///     "KEY_VERSION_PRIMARY" => Some("2".to_owned()),
///     _ => None,
/// };
/// let keyring = load_keyring(&env, None, None)?;
/// assert_eq!(keyring.primary().version(), KeyVersion::new(2)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The first bad setting, by name; never a secret.
pub fn load_keyring(
    env: &dyn Env,
    master_key_file: Option<&Path>,
    salt_file: Option<&Path>,
) -> Result<Keyring, ConfigError> {
    let mut configured = Vec::new();
    for n in 1..=MAX_CONFIGURED_KEY_VERSION {
        let names = VersionNames::of(n);
        let (master_file, salt_file) = if n == 1 {
            (master_key_file, salt_file)
        } else {
            (None, None)
        };
        let set = |name: &str| env.var(name).is_some_and(|v| !v.trim().is_empty());
        let has_master =
            master_file.is_some() || set(&names.master_key) || set(&names.master_key_file);
        let has_salt = salt_file.is_some() || set(&names.salt) || set(&names.salt_file);
        if has_salt && !has_master {
            // Checked before any file is read: the missing key is the mistake to report.
            let salt_setting = if set(&names.salt) {
                &names.salt
            } else {
                &names.salt_file
            };
            return Err(ConfigError::new(
                salt_setting,
                format!(
                    "{} is not set: a salt alone is no key version (set {} or {} too, or remove it)",
                    names.master_key, names.master_key, names.master_key_file
                ),
            ));
        }
        let master = read_optional(env, &names.master_key, &names.master_key_file, master_file)?;
        let salt = read_optional(env, &names.salt, &names.salt_file, salt_file)?;
        let version =
            KeyVersion::new(n).map_err(|e| ConfigError::new(&names.master_key, e.to_string()))?;
        match (master, salt) {
            (Some((text, setting)), Some((salt_text, salt_setting))) => {
                let master = master_key(&setting, &text)?;
                let salt = Salt::from_hex(&salt_text).map_err(|e| named(&salt_setting, e))?;
                configured.push(Configured {
                    version,
                    master,
                    salt,
                    master_setting: setting,
                });
            }
            (Some((text, setting)), None) => {
                // A bad key is named before the missing salt: fix one thing at a time.
                master_key(&setting, &text)?;
                return Err(ConfigError::new(
                    &names.salt,
                    format!(
                        "not set: version {n} needs its own salt next to {setting} (set {} to hex, or {} to a file holding it)",
                        names.salt, names.salt_file
                    ),
                ));
            }
            (None, _) => {}
        }
    }
    if configured.is_empty() {
        return Err(ConfigError::new(
            "MASTER_KEY",
            "not set (set MASTER_KEY to hex, or MASTER_KEY_FILE to a file holding it; `blindcast-keys gen-secrets` makes one)",
        ));
    }
    let retired = retired_versions(env)?;
    let primary = env
        .var("KEY_VERSION_PRIMARY")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .map(|text| {
            text.parse::<KeyVersion>()
                .map_err(|e| ConfigError::new("KEY_VERSION_PRIMARY", e.to_string()))
        })
        .transpose()?;

    let mut builder = Keyring::builder();
    for c in &configured {
        builder = builder.version(c.version, &c.master, &c.salt);
    }
    for v in &retired {
        builder = builder.retired(*v);
    }
    if let Some(p) = primary {
        builder = builder.primary(p);
    }
    builder.build().map_err(|e| keyring_error(e, &configured))
}

/// `KEY_VERSIONS_RETIRED`: a comma-separated list of versions (1 to 65535).
fn retired_versions(env: &dyn Env) -> Result<Vec<KeyVersion>, ConfigError> {
    const NAME: &str = "KEY_VERSIONS_RETIRED";
    let Some(text) = env.var(NAME).filter(|v| !v.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, item) in text.split(',').map(str::trim).enumerate() {
        let v: KeyVersion = item.parse().map_err(|e| {
            ConfigError::new(
                NAME,
                format!("item {} of the list: {e} (expected e.g. 1,2)", i + 1),
            )
        })?;
        out.push(v);
    }
    Ok(out)
}

/// A keyring rule broken by the settings, reported under the setting that breaks it.
fn keyring_error(error: KeyringError, configured: &[Configured]) -> ConfigError {
    let master_setting = |v| {
        configured.iter().find(|c| c.version == v).map_or_else(
            || VersionNames::of(v.get()).master_key,
            |c| c.master_setting.clone(),
        )
    };
    match &error {
        KeyringError::NoPrimary { .. } => ConfigError::new(
            "KEY_VERSION_PRIMARY",
            format!("not set: {error} (KEY_VERSION_PRIMARY)"),
        ),
        KeyringError::UnknownPrimary(_) | KeyringError::PrimaryRetired(_) => {
            ConfigError::new("KEY_VERSION_PRIMARY", error.to_string())
        }
        KeyringError::DuplicateVersion(_) => {
            ConfigError::new("KEY_VERSIONS_RETIRED", error.to_string())
        }
        KeyringError::ActiveAndRetired(v) => ConfigError::new(
            "KEY_VERSIONS_RETIRED",
            format!(
                "version {v} is retired but {} is still set: retiring a version means removing its master key and salt",
                master_setting(*v)
            ),
        ),
        KeyringError::DuplicateMasterKey { second, .. } => {
            ConfigError::new(master_setting(*second), error.to_string())
        }
        // Unreachable from settings (an empty keyring is refused above); named anyway.
        _ => ConfigError::new("MASTER_KEY", error.to_string()),
    }
}

fn master_key(setting: &str, text: &str) -> Result<MasterKey, ConfigError> {
    MasterKey::from_hex(text).map_err(|e| named(setting, e))
}

/// A secret's error under the setting it was given by (`MASTER_KEY_V2_FILE`).
fn named(setting: &str, error: SecretError) -> ConfigError {
    ConfigError::new(setting, error.problem.to_string())
}

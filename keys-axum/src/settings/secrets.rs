//! Secrets given inline (`MASTER_KEY`) or as a file (`MASTER_KEY_FILE`), and the deriver
//! they make.

use std::path::Path;

use blindcast_keys_core::{KeyDeriver, MasterKey, Salt};
use zeroize::Zeroizing;

use super::env::Env;
use super::error::ConfigError;

/// Reads a secret given either inline (`NAME`) or as a path (`NAME_FILE`), preferring an
/// explicit file path passed by the caller (a command-line flag). Setting both `NAME` and
/// `NAME_FILE` is refused so that it is never unclear which one is in force.
///
/// Returns the text and the setting name to report errors under.
pub fn read_secret(
    env: &dyn Env,
    name: &'static str,
    file_name: &'static str,
    explicit_file: Option<&Path>,
) -> Result<(Zeroizing<String>, &'static str), ConfigError> {
    if let Some(path) = explicit_file {
        return Ok((read_secret_file(file_name, path)?, file_name));
    }
    match (env.var(name), env.var(file_name)) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            name,
            format!("set either {name} or {file_name}, not both"),
        )),
        (Some(value), None) => Ok((Zeroizing::new(value), name)),
        (None, Some(path)) => Ok((read_secret_file(file_name, Path::new(&path))?, file_name)),
        (None, None) => Err(ConfigError::new(
            name,
            format!(
                "not set (set {name} to hex, or {file_name} to a file holding it; `blindcast-keys gen-secrets` makes one)"
            ),
        )),
    }
}

pub(super) fn read_secret_file(
    setting: &str,
    path: &Path,
) -> Result<Zeroizing<String>, ConfigError> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| ConfigError::new(setting, format!("cannot read {}: {e}", path.display())))
}

/// Loads `MASTER_KEY`/`MASTER_KEY_FILE` and `SALT`/`SALT_FILE` and builds the deriver.
///
/// ```no_run
/// use blindcast_keys_axum::settings::{ProcessEnv, load_deriver};
/// let deriver = load_deriver(&ProcessEnv, None, None)?;
/// # Ok::<(), blindcast_keys_axum::ConfigError>(())
/// ```
pub fn load_deriver(
    env: &dyn Env,
    master_key_file: Option<&Path>,
    salt_file: Option<&Path>,
) -> Result<KeyDeriver, ConfigError> {
    let (text, setting) = read_secret(env, "MASTER_KEY", "MASTER_KEY_FILE", master_key_file)?;
    let master = MasterKey::from_hex_for(setting, &text)?;
    let (text, setting) = read_secret(env, "SALT", "SALT_FILE", salt_file)?;
    let salt = Salt::from_hex_for(setting, &text)?;
    Ok(KeyDeriver::new(&master, &salt))
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::settings::env::map_env as env;

    #[test]
    fn missing_and_conflicting_settings_are_named() {
        let err = load_deriver(&env(&[]), None, None).unwrap_err();
        assert_eq!(err.setting, "MASTER_KEY");
        let both = env(&[("MASTER_KEY", "00"), ("MASTER_KEY_FILE", "/x")]);
        assert!(
            load_deriver(&both, None, None)
                .unwrap_err()
                .to_string()
                .contains("not both")
        );
        let short_salt = env(&[("MASTER_KEY", &"ab".repeat(32)), ("SALT", "abcd")]);
        let err = load_deriver(&short_salt, None, None).unwrap_err();
        assert_eq!(err.setting, "SALT");
        assert!(!err.to_string().contains("abcd"));
    }

    #[test]
    fn file_settings_are_read_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("master.hex");
        std::fs::write(&key, format!("{}\n", "ab".repeat(31))).unwrap();
        let e = env(&[
            ("MASTER_KEY_FILE", key.to_str().unwrap()),
            ("SALT", &"cd".repeat(16)),
        ]);
        let err = load_deriver(&e, None, None).unwrap_err();
        assert_eq!(err.setting, "MASTER_KEY_FILE");
        std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
        assert!(load_deriver(&e, None, None).is_ok());
        let missing = env(&[("SALT", &"cd".repeat(16))]);
        let err = load_deriver(&missing, Some(&dir.path().join("nope")), None).unwrap_err();
        assert_eq!(err.setting, "MASTER_KEY_FILE");
    }
}

//! The SPEKE settings (`SPEKE_KEY_URL_BASE`, `SPEKE_TOKEN`) into a [`SpekeConfig`].

use super::env::{Env, EnvReader, Platform};
use super::error::ConfigError;
use super::secrets::read_secret;
use crate::speke::{SpekeConfig, SpekeConfigError};

/// Reads the SPEKE settings: `None` unless `SPEKE_KEY_URL_BASE` is set (the token is then
/// left unread, and refused by [`EnvReader::finish`]).
///
/// - `SPEKE_KEY_URL_BASE`: the public base URL of this server's key routes.
/// - `SPEKE_TOKEN` or `SPEKE_TOKEN_FILE` (server only, required there): the packagers'
///   bearer secret. On Lambda packagers authenticate with API Gateway IAM authorization
///   instead, which the Lambda adapter adds.
///
/// # Errors
/// The first bad setting, by name, never with the token in the message.
pub(super) fn read(r: &EnvReader<'_>) -> Result<Option<SpekeConfig>, ConfigError> {
    let Some(base) = r.text("SPEKE_KEY_URL_BASE") else {
        return Ok(None);
    };
    let config = SpekeConfig::new(&base)
        .map_err(|e| ConfigError::new("SPEKE_KEY_URL_BASE", e.to_string()))?;
    if r.platform() == Platform::Lambda {
        return Ok(Some(config));
    }
    if r.var("SPEKE_TOKEN").is_none() && r.var("SPEKE_TOKEN_FILE").is_none() {
        return Err(ConfigError::new(
            "SPEKE_TOKEN",
            "not set (SPEKE_KEY_URL_BASE turns SPEKE on; packagers need a bearer secret of at least 32 bytes, or SPEKE_TOKEN_FILE; e.g. `openssl rand -hex 32`)",
        ));
    }
    let (token, setting) = read_secret(r, "SPEKE_TOKEN", "SPEKE_TOKEN_FILE", None)?;
    config
        .bearer_token(token.trim())
        .map(Some)
        .map_err(|e: SpekeConfigError| ConfigError::new(setting, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::env::map_env as env;

    fn read_with(
        pairs: &[(&str, &str)],
        platform: Platform,
    ) -> Result<Option<SpekeConfig>, ConfigError> {
        let e = env(pairs);
        let r = EnvReader::new(&e, platform);
        let out = read(&r)?;
        r.finish()?;
        Ok(out)
    }

    #[test]
    fn off_unless_the_base_is_set_and_the_token_is_required_on_the_server() {
        assert!(read_with(&[], Platform::Server).unwrap().is_none());
        let token = "t".repeat(32);
        let err = read_with(&[("SPEKE_TOKEN", &token)], Platform::Server).unwrap_err();
        assert_eq!(err.setting, "SPEKE_TOKEN");
        let base = ("SPEKE_KEY_URL_BASE", "https://keys.example.com");
        assert_eq!(
            read_with(&[base], Platform::Server).unwrap_err().setting,
            "SPEKE_TOKEN"
        );
        let short =
            read_with(&[base, ("SPEKE_TOKEN", "short-secret")], Platform::Server).unwrap_err();
        assert_eq!(short.setting, "SPEKE_TOKEN");
        assert!(!short.to_string().contains("short-secret"));
        let on = read_with(&[base, ("SPEKE_TOKEN", &token)], Platform::Server).unwrap();
        assert!(on.unwrap().packagers.is_some());
        let bad = read_with(
            &[
                ("SPEKE_KEY_URL_BASE", "keys.example.com"),
                ("SPEKE_TOKEN", &token),
            ],
            Platform::Server,
        );
        assert_eq!(bad.unwrap_err().setting, "SPEKE_KEY_URL_BASE");
    }

    #[test]
    fn the_token_file_is_read_and_lambda_takes_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speke-token");
        std::fs::write(&path, format!("{}\n", "f".repeat(40))).unwrap();
        let base = ("SPEKE_KEY_URL_BASE", "https://keys.example.com");
        let on = read_with(
            &[base, ("SPEKE_TOKEN_FILE", path.to_str().unwrap())],
            Platform::Server,
        );
        assert!(on.unwrap().is_some());
        let lambda = read_with(&[base], Platform::Lambda).unwrap().unwrap();
        assert!(lambda.packagers.is_none());
        let refused = read_with(&[base, ("SPEKE_TOKEN", &"t".repeat(32))], Platform::Lambda);
        assert_eq!(refused.unwrap_err().setting, "SPEKE_TOKEN");
    }
}

//! The presign settings (`S3_BUCKET`, ...) into a [`PresignConfig`].

use zeroize::Zeroizing;

use super::env::{Env, EnvReader};
use super::error::ConfigError;
use crate::presign::{
    DEFAULT_ROLE, DEFAULT_ROLE_CLAIM, PresignConfig, PresignConfigError, S3Credentials,
};

/// Reads the presign settings: `None` unless `S3_BUCKET` is set (the others are then
/// left unread, and refused by [`EnvReader::finish`]).
///
/// - `S3_REGION` (else `AWS_REGION`, else `AWS_DEFAULT_REGION`): the signing region.
/// - `S3_ENDPOINT` (default `https://s3.{region}.amazonaws.com`).
/// - `S3_PATH_STYLE` (default `true` with `S3_ENDPOINT`, `false` without).
/// - `S3_PREFIX`, `PRESIGN_TTL`, `PRESIGN_ROLE_CLAIM`, `PRESIGN_ROLE`,
///   `PRESIGN_ALLOW_GET`; `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
///   `AWS_SESSION_TOKEN`.
///
/// # Errors
/// The first bad setting, by name, never with a credential in the message.
pub(super) fn read(r: &EnvReader<'_>) -> Result<Option<PresignConfig>, ConfigError> {
    let Some(bucket) = r.text("S3_BUCKET") else {
        return Ok(None);
    };
    let (region, region_setting) = ["S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|name| r.text(name).map(|v| (v, name)))
        .ok_or_else(|| {
            ConfigError::new(
                "S3_REGION",
                "not set (the bucket's region, e.g. us-east-1; any value the S3-compatible store accepts)",
            )
        })?;
    let endpoint = r.text("S3_ENDPOINT");
    let path_style = match r.text("S3_PATH_STYLE") {
        Some(_) => r.flag("S3_PATH_STYLE")?,
        None => endpoint.is_some(),
    };
    let credentials = credentials(r)?;
    let (endpoint, endpoint_setting) = match endpoint {
        Some(url) => (url, "S3_ENDPOINT"),
        None => (format!("https://s3.{region}.amazonaws.com"), region_setting),
    };
    let named = |e: PresignConfigError| {
        let setting = match e {
            PresignConfigError::Endpoint => endpoint_setting,
            PresignConfigError::Bucket => "S3_BUCKET",
            PresignConfigError::Region => region_setting,
            PresignConfigError::Prefix => "S3_PREFIX",
            PresignConfigError::Ttl => "PRESIGN_TTL",
            PresignConfigError::Role => "PRESIGN_ROLE",
            PresignConfigError::Credentials => "AWS_ACCESS_KEY_ID",
        };
        ConfigError::new(setting, e.to_string())
    };
    let mut config = PresignConfig::new(&endpoint, path_style, &bucket, &region, credentials)
        .map_err(named)?
        .prefix(&r.var("S3_PREFIX").unwrap_or_default())
        .map_err(named)?;
    if let Some(ttl) = r.duration("PRESIGN_TTL")? {
        config = config.ttl(ttl).map_err(named)?;
    }
    let claim = r.text("PRESIGN_ROLE_CLAIM");
    let role = r.text("PRESIGN_ROLE");
    if claim.is_some() || role.is_some() {
        let claim = claim.unwrap_or_else(|| DEFAULT_ROLE_CLAIM.to_owned());
        let role = role.unwrap_or_else(|| DEFAULT_ROLE.to_owned());
        config = config.publisher_role(&claim, &role).map_err(|e| {
            let setting = if claim.bytes().all(|b| b.is_ascii_graphic()) {
                "PRESIGN_ROLE"
            } else {
                "PRESIGN_ROLE_CLAIM"
            };
            ConfigError::new(setting, e.to_string())
        })?;
    }
    Ok(Some(config.allow_get(r.flag("PRESIGN_ALLOW_GET")?)))
}

fn credentials(env: &EnvReader<'_>) -> Result<S3Credentials, ConfigError> {
    let needed = |name: &str| {
        env.var(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            ConfigError::new(name, "not set (S3_BUCKET needs credentials to sign with)")
        })
    };
    let key = needed("AWS_ACCESS_KEY_ID")?;
    let secret = Zeroizing::new(needed("AWS_SECRET_ACCESS_KEY")?);
    fn bad(name: &'static str) -> impl Fn(PresignConfigError) -> ConfigError {
        move |_| ConfigError::new(name, "expected visible ASCII characters only")
    }
    let (key, secret) = (key.trim(), secret.trim());
    let setting = if !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()) {
        "AWS_SECRET_ACCESS_KEY"
    } else {
        "AWS_ACCESS_KEY_ID"
    };
    let credentials = S3Credentials::new(key, secret).map_err(bad(setting))?;
    match env
        .var("AWS_SESSION_TOKEN")
        .filter(|v| !v.trim().is_empty())
    {
        Some(token) => credentials
            .session_token(token.trim())
            .map_err(bad("AWS_SESSION_TOKEN")),
        None => Ok(credentials),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::presign::DEFAULT_TTL;

    use crate::settings::env::map_env as env;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn base(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut pairs = vec![
            ("S3_BUCKET", "media"),
            ("S3_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ];
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend(extra.iter().filter(|(_, v)| !v.is_empty()));
        pairs
    }

    fn from_env(env: &dyn Env) -> Result<Option<PresignConfig>, ConfigError> {
        read(&EnvReader::new(env, crate::settings::Platform::Server))
    }

    fn error(extra: &[(&'static str, &'static str)]) -> ConfigError {
        match from_env(&env(&base(extra))) {
            Err(e) => e,
            Ok(c) => panic!("accepted {extra:?}: {c:?}"),
        }
    }

    #[test]
    fn off_without_a_bucket_and_on_with_one() {
        assert!(from_env(&env(&[])).unwrap().is_none());
        // AWS_REGION is always set on Lambda: it alone does not turn presigning on.
        assert!(
            from_env(&env(&[("AWS_REGION", "eu-west-1")]))
                .unwrap()
                .is_none()
        );
        let config = from_env(&env(&base(&[]))).unwrap().unwrap();
        assert_eq!(config.url_ttl(), DEFAULT_TTL);
        assert!(!config.allow_get);
        assert_eq!(
            config.bucket.base_url().as_str(),
            "https://media.s3.us-east-1.amazonaws.com/"
        );
        let config = from_env(&env(&base(&[
            ("S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("S3_PREFIX", "hls/"),
            ("PRESIGN_TTL", "90s"),
            ("PRESIGN_ALLOW_GET", "true"),
            ("AWS_SESSION_TOKEN", "tok"),
        ])))
        .unwrap()
        .unwrap();
        assert_eq!(
            config.bucket.base_url().as_str(),
            "http://127.0.0.1:9000/media/"
        );
        assert_eq!(config.url_ttl(), Duration::from_secs(90));
        assert!(config.allow_get);
        assert_eq!(config.object_key("m", "a.ts"), "hls/m/a.ts");
        let lambda = env(&[
            ("S3_BUCKET", "media"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ]);
        let config = from_env(&lambda).unwrap().unwrap();
        assert_eq!(config.bucket.region(), "eu-west-1");
    }

    #[test]
    fn every_bad_setting_is_named_without_its_value() {
        for (extra, setting) in [
            (vec![("S3_REGION", "")], "S3_REGION"),
            (vec![("S3_REGION", "us east")], "S3_REGION"),
            (vec![("S3_BUCKET", "A")], "S3_BUCKET"),
            (vec![("S3_ENDPOINT", "ftp://x")], "S3_ENDPOINT"),
            (vec![("S3_PATH_STYLE", "maybe")], "S3_PATH_STYLE"),
            (vec![("S3_PREFIX", "../up/")], "S3_PREFIX"),
            (vec![("PRESIGN_TTL", "0")], "PRESIGN_TTL"),
            (vec![("PRESIGN_TTL", "8d")], "PRESIGN_TTL"),
            (vec![("PRESIGN_TTL", "soon")], "PRESIGN_TTL"),
            (vec![("PRESIGN_ROLE_CLAIM", "a b")], "PRESIGN_ROLE_CLAIM"),
            (vec![("PRESIGN_ROLE", "pub lisher")], "PRESIGN_ROLE"),
            (vec![("PRESIGN_ALLOW_GET", "2")], "PRESIGN_ALLOW_GET"),
            (vec![("AWS_ACCESS_KEY_ID", "")], "AWS_ACCESS_KEY_ID"),
            (vec![("AWS_SECRET_ACCESS_KEY", "")], "AWS_SECRET_ACCESS_KEY"),
            (
                vec![("AWS_SECRET_ACCESS_KEY", "se cret")],
                "AWS_SECRET_ACCESS_KEY",
            ),
            (
                vec![("AWS_SESSION_TOKEN", "to\u{1}ken")],
                "AWS_SESSION_TOKEN",
            ),
        ] {
            let err = error(&extra);
            assert_eq!(err.setting, setting, "{extra:?}: {err}");
            let line = err.to_string();
            assert!(line.starts_with(setting) && !line.contains('\n'), "{line}");
            assert!(
                !line.contains(SECRET) && !line.contains("se cret"),
                "{line}"
            );
        }
    }
}

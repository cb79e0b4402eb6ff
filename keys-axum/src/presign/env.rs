//! Reading [`PresignConfig`] from the environment (`S3_BUCKET`, ...).

use crate::config::{ConfigError, Env};
use crate::settings::{duration, flag, text};

use zeroize::Zeroizing;

use super::config::{DEFAULT_TTL, PresignConfig, PresignConfigError, S3Credentials, is_visible};

/// Every setting of the presign endpoint but `S3_BUCKET` (which turns it on) and the AWS
/// credentials. Setting one of these without `S3_BUCKET` is a mistake worth reporting.
pub const PRESIGN_SETTINGS: [&str; 8] = [
    "S3_REGION",
    "S3_ENDPOINT",
    "S3_PATH_STYLE",
    "S3_PREFIX",
    "PRESIGN_TTL",
    "PRESIGN_ROLE_CLAIM",
    "PRESIGN_ROLE",
    "PRESIGN_ALLOW_GET",
];

impl PresignConfig {
    /// Reads the presign settings: `None` unless `S3_BUCKET` is set.
    ///
    /// - `S3_BUCKET`: the bucket (turns `POST /presign` on).
    /// - `S3_REGION` (else `AWS_REGION`, else `AWS_DEFAULT_REGION`): the signing region.
    /// - `S3_ENDPOINT` (default `https://s3.{region}.amazonaws.com`): any S3-compatible
    ///   store.
    /// - `S3_PATH_STYLE` (default `true` with `S3_ENDPOINT`, `false` without).
    /// - `S3_PREFIX` (default empty): object keys are `{prefix}{contentId}/{name}`.
    /// - `PRESIGN_TTL` (default 15m, 1s to 7d).
    /// - `PRESIGN_ROLE_CLAIM` (default `role`), `PRESIGN_ROLE` (default `publisher`).
    /// - `PRESIGN_ALLOW_GET` (default `false`).
    /// - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    ///
    /// # Errors
    /// The first bad setting, by name, never with a credential in the message.
    pub fn from_env(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        let Some(bucket) = text(env, "S3_BUCKET") else {
            if let Some(name) = PRESIGN_SETTINGS.iter().find(|n| text(env, n).is_some()) {
                return Err(ConfigError::new(
                    *name,
                    "needs S3_BUCKET (presigning is off without a bucket)",
                ));
            }
            return Ok(None);
        };
        let (region, region_setting) = ["S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"]
            .into_iter()
            .find_map(|name| text(env, name).map(|v| (v, name)))
            .ok_or_else(|| {
                ConfigError::new(
                    "S3_REGION",
                    "not set (the bucket's region, e.g. us-east-1; any value the S3-compatible store accepts)",
                )
            })?;
        let endpoint = text(env, "S3_ENDPOINT");
        let path_style = match text(env, "S3_PATH_STYLE") {
            Some(_) => flag(env, "S3_PATH_STYLE")?,
            None => endpoint.is_some(),
        };
        let credentials = credentials(env)?;
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
        let config = Self::new(&endpoint, path_style, &bucket, &region, credentials)
            .map_err(named)?
            .prefix(&env.var("S3_PREFIX").unwrap_or_default())
            .map_err(named)?
            .ttl(duration(env, "PRESIGN_TTL", DEFAULT_TTL)?)
            .map_err(named)?;
        let claim = text(env, "PRESIGN_ROLE_CLAIM").unwrap_or_else(|| "role".to_owned());
        let role = text(env, "PRESIGN_ROLE").unwrap_or_else(|| "publisher".to_owned());
        let config = config.publisher_role(&claim, &role).map_err(|e| {
            let setting = if !is_visible(&claim) {
                "PRESIGN_ROLE_CLAIM"
            } else {
                "PRESIGN_ROLE"
            };
            ConfigError::new(setting, e.to_string())
        })?;
        Ok(Some(config.allow_get(flag(env, "PRESIGN_ALLOW_GET")?)))
    }
}

fn credentials(env: &dyn Env) -> Result<S3Credentials, ConfigError> {
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
    let setting = if is_visible(key) {
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
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

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

    fn error(extra: &[(&'static str, &'static str)]) -> ConfigError {
        match PresignConfig::from_env(&env(&base(extra))) {
            Err(e) => e,
            Ok(c) => panic!("accepted {extra:?}: {c:?}"),
        }
    }

    #[test]
    fn off_without_a_bucket_and_on_with_one() {
        assert!(PresignConfig::from_env(&env(&[])).unwrap().is_none());
        // AWS_REGION is always set on Lambda: it alone does not turn presigning on.
        assert!(
            PresignConfig::from_env(&env(&[("AWS_REGION", "eu-west-1")]))
                .unwrap()
                .is_none()
        );
        let err = PresignConfig::from_env(&env(&[("PRESIGN_TTL", "5m")])).unwrap_err();
        assert_eq!(err.setting, "PRESIGN_TTL");
        let config = PresignConfig::from_env(&env(&base(&[]))).unwrap().unwrap();
        assert_eq!(config.url_ttl(), DEFAULT_TTL);
        assert!(!config.allow_get);
        assert_eq!(
            config.bucket.base_url().as_str(),
            "https://media.s3.us-east-1.amazonaws.com/"
        );
        let config = PresignConfig::from_env(&env(&base(&[
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
        let config = PresignConfig::from_env(&lambda).unwrap().unwrap();
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

//! Secrets named by ARN or parameter name instead of given in plain text:
//! `MASTER_KEY_SECRET_ARN`, `SALT_PARAMETER`, ... resolved once at cold start.

use std::collections::HashMap;

use blindcast_keys_axum::settings::{
    ConfigError, Env, MAX_CONFIGURED_KEY_VERSION, SECRET_SETTINGS, VERSIONED_SECRET_SETTINGS,
};

use crate::source::Source;

/// One setting to fetch: the setting it fills and the variable that named the source.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "aws-secrets"), allow(dead_code))]
pub(crate) struct Wanted {
    pub(crate) setting: String,
    pub(crate) named_by: String,
    pub(crate) source: Source,
}

/// `id#field` → (`id`, `Some(field)`). Secret ARNs and parameter names never contain `#`.
fn split_field(text: &str) -> (String, Option<String>) {
    match text.split_once('#') {
        Some((id, field)) if !field.is_empty() => (id.to_owned(), Some(field.to_owned())),
        Some((id, _)) => (id.to_owned(), None),
        None => (text.to_owned(), None),
    }
}

/// Every secret setting that can be fetched: the fixed ones, then every key version's
/// `MASTER_KEY_V<N>` and `SALT_V<N>`.
fn secret_settings() -> impl Iterator<Item = String> {
    let fixed = SECRET_SETTINGS.into_iter().map(str::to_owned);
    let versioned = (2..=MAX_CONFIGURED_KEY_VERSION).flat_map(|n| {
        VERSIONED_SECRET_SETTINGS
            .into_iter()
            .map(move |name| format!("{name}_V{n}"))
    });
    fixed.chain(versioned)
}

/// The settings the environment asks to fetch, checked for conflicts.
pub(crate) fn wanted(env: &dyn Env) -> Result<Vec<Wanted>, ConfigError> {
    let mut out = Vec::new();
    for setting in secret_settings() {
        let arn_var = format!("{setting}_SECRET_ARN");
        let param_var = format!("{setting}_PARAMETER");
        let set = |name: &str| env.var(name).filter(|v| !v.trim().is_empty());
        let (named_by, source) = match (set(&arn_var), set(&param_var)) {
            (None, None) => continue,
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    arn_var,
                    format!("set either {setting}_SECRET_ARN or {setting}_PARAMETER, not both"),
                ));
            }
            (Some(arn), None) => {
                let (id, field) = split_field(arn.trim());
                (arn_var, Source::Secret { id, field })
            }
            (None, Some(name)) => {
                let (name, field) = split_field(name.trim());
                (param_var, Source::Parameter { name, field })
            }
        };
        for plain in [setting.to_owned(), format!("{setting}_FILE")] {
            if set(&plain).is_some() {
                return Err(ConfigError::new(
                    named_by.clone(),
                    format!("set either {named_by} or {plain}, not both"),
                ));
            }
        }
        out.push(Wanted {
            setting,
            named_by,
            source,
        });
    }
    Ok(out)
}

/// Fetched values by setting name, and the variable that named each one's source.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    pub(crate) values: HashMap<String, String>,
    pub(crate) named_by: HashMap<String, String>,
}

impl Resolved {
    /// An error about a fetched setting is reported under the variable that named its
    /// source (`MASTER_KEY_SECRET_ARN`), since `MASTER_KEY` itself is not set.
    pub(crate) fn rename(&self, mut error: ConfigError) -> ConfigError {
        if let Some(named_by) = self.named_by.get(&error.setting) {
            error.message = format!("the fetched {}: {}", error.setting, error.message);
            error.setting.clone_from(named_by);
        }
        error
    }
}

/// Fetches every secret the environment names, once.
#[cfg(feature = "aws-secrets")]
pub(crate) async fn resolve(env: &dyn Env) -> Result<Resolved, ConfigError> {
    let wanted = wanted(env)?;
    let mut resolved = Resolved::default();
    let Some(first) = wanted.first() else {
        return Ok(resolved);
    };
    let client = crate::extension::ExtensionClient::from_env(env)
        .map_err(|e| ConfigError::new(first.named_by.clone(), e.to_string()))?;
    for item in wanted {
        let value = client
            .fetch(&item.source)
            .await
            .map_err(|e| ConfigError::new(item.named_by.clone(), e.to_string()))?;
        resolved.values.insert(item.setting.clone(), value);
        resolved.named_by.insert(item.setting, item.named_by);
    }
    Ok(resolved)
}

/// Without the `aws-secrets` feature: refuses settings that name secrets.
#[cfg(not(feature = "aws-secrets"))]
pub(crate) async fn resolve(env: &dyn Env) -> Result<Resolved, ConfigError> {
    match wanted(env)?.into_iter().next() {
        None => Ok(Resolved::default()),
        Some(item) => Err(ConfigError::new(
            item.named_by,
            "this build cannot fetch secrets: rebuild with the cargo feature `aws-secrets`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn names_sources_and_fields() {
        let e = env(&[
            (
                "MASTER_KEY_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:k-AbC#master",
            ),
            ("SALT_PARAMETER", "/blindcast/salt"),
        ]);
        let w = wanted(&e).unwrap_or_default();
        assert_eq!(w.len(), 2);
        assert_eq!(
            w[0].source,
            Source::Secret {
                id: "arn:aws:secretsmanager:eu-west-1:1:secret:k-AbC".into(),
                field: Some("master".into())
            }
        );
        assert_eq!(w[1].named_by, "SALT_PARAMETER");
    }

    #[test]
    fn conflicts_are_named() {
        let e = env(&[("MASTER_KEY_SECRET_ARN", "a"), ("MASTER_KEY", "00")]);
        let err = wanted(&e).err().map(|e| e.setting).unwrap_or_default();
        assert_eq!(err, "MASTER_KEY_SECRET_ARN");
        let e = env(&[("SALT_SECRET_ARN", "a"), ("SALT_PARAMETER", "b")]);
        let err = wanted(&e).err().map(|e| e.setting).unwrap_or_default();
        assert_eq!(err, "SALT_SECRET_ARN");
        let e = env(&[
            ("MASTER_KEY_V7_PARAMETER", "a"),
            ("MASTER_KEY_V7_FILE", "/k"),
        ]);
        let err = wanted(&e).err().map(|e| e.setting).unwrap_or_default();
        assert_eq!(err, "MASTER_KEY_V7_PARAMETER");
    }

    #[test]
    fn every_key_version_can_be_fetched() {
        let e = env(&[
            (
                "MASTER_KEY_V2_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:k2",
            ),
            ("SALT_V99_PARAMETER", "/blindcast/salt-v99#salt"),
        ]);
        let w = wanted(&e).unwrap_or_default();
        let got: Vec<(&str, &str)> = w
            .iter()
            .map(|w| (w.setting.as_str(), w.named_by.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("MASTER_KEY_V2", "MASTER_KEY_V2_SECRET_ARN"),
                ("SALT_V99", "SALT_V99_PARAMETER")
            ]
        );
    }
}

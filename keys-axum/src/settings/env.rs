//! Where settings come from ([`Env`]), and [`EnvReader`]: the one reader of the server and
//! Lambda, which turns strings into values, records what it read and refuses what it
//! did not.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use super::error::ConfigError;
use super::list::{Scope, Setting, find};

/// Where a setting's value comes from: a source of named variables, usually the process
/// environment. Tests pass a closure over a map.
pub trait Env {
    /// The variable's value, if set.
    fn var(&self, name: &str) -> Option<String>;

    /// Every variable name, when this source can list them (the process environment can,
    /// a closure cannot): [`EnvReader::finish`] then also refuses per-version names whose
    /// version is malformed or out of range (`MASTER_KEY_V02`, `SALT_V100`), which no
    /// lookup by name would find.
    fn names(&self) -> Option<Vec<String>> {
        None
    }
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn names(&self) -> Option<Vec<String>> {
        Some(
            std::env::vars_os()
                .filter_map(|(name, _)| name.into_string().ok())
                .collect(),
        )
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Which program reads the settings: some settings mean something to only one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// `blindcast-keys serve`: a TCP server.
    Server,
    /// The AWS Lambda `bootstrap`.
    Lambda,
}

/// Reads settings from an [`Env`], with values replaced or hidden on top (command-line
/// flags, `--dev`, secrets fetched at cold start), and records every name it was asked
/// for. [`finish`](Self::finish) then refuses every known setting that is set but was
/// never read: a setting that means nothing in the chosen mode is an error, not a
/// silent no-op.
pub struct EnvReader<'a> {
    base: &'a dyn Env,
    platform: Platform,
    overrides: HashMap<String, Option<String>>,
    read: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for EnvReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: only names.
        f.debug_struct("EnvReader")
            .field("platform", &self.platform)
            .field("overridden", &self.overrides.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<'a> EnvReader<'a> {
    /// A reader of `base` for `platform`.
    pub fn new(base: &'a dyn Env, platform: Platform) -> Self {
        Self {
            base,
            platform,
            overrides: HashMap::new(),
            read: Mutex::new(BTreeSet::new()),
        }
    }

    /// The platform.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// Replaces `name`'s value (`None` hides it).
    pub fn set(&mut self, name: &str, value: Option<String>) {
        self.overrides.insert(name.to_owned(), value);
    }

    /// Whether `name` is set (and not blank), without counting as a read.
    pub fn is_set(&self, name: &str) -> bool {
        self.raw(name).is_some_and(|v| !v.trim().is_empty())
    }

    fn raw(&self, name: &str) -> Option<String> {
        match self.overrides.get(name) {
            Some(value) => value.clone(),
            None => self.base.var(name),
        }
    }

    fn record(&self, name: &str) {
        if let Ok(mut read) = self.read.lock() {
            read.insert(name.to_owned());
        }
    }

    /// The value, trimmed, if set and not blank; else the platform's default from the
    /// list of settings (Lambda's `JWKS_REFRESH_IN_REQUEST`), if any.
    pub fn text(&self, name: &str) -> Option<String> {
        self.var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .or_else(|| match (self.platform, find(name)) {
                (Platform::Lambda, Some(setting)) => setting.lambda_default.map(str::to_owned),
                _ => None,
            })
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`); `false` when unset.
    ///
    /// # Errors
    /// Anything else.
    pub fn flag(&self, name: &str) -> Result<bool, ConfigError> {
        match self.text(name).as_deref() {
            None => Ok(false),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(name, "expected true or false")),
            },
        }
    }

    /// A duration: `90` (seconds), `90s`, `2m`, `1h 30m`.
    ///
    /// # Errors
    /// Anything else.
    pub fn duration(&self, name: &str) -> Result<Option<Duration>, ConfigError> {
        self.text(name)
            .map(|text| {
                parse_duration(&text).ok_or_else(|| {
                    ConfigError::new(name, "expected a duration such as 120, 120s, 2m or 1h")
                })
            })
            .transpose()
    }

    /// A whole number.
    ///
    /// # Errors
    /// Anything else (a sign, a fraction, too large for the option).
    pub fn number<T: FromStr>(&self, name: &str) -> Result<Option<T>, ConfigError> {
        self.text(name)
            .map(|text| {
                text.parse()
                    .map_err(|_| ConfigError::new(name, "expected a whole number"))
            })
            .transpose()
    }

    /// A comma-separated list.
    ///
    /// # Errors
    /// A value that lists nothing (`' , '`): an empty list would turn its check off.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(text) = self.var(name) else {
            return Ok(None);
        };
        let items: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if items.is_empty() {
            return Err(ConfigError::new(
                name,
                "lists nothing (leave it unset to skip this check)",
            ));
        }
        Ok(Some(items))
    }

    /// Refuses every setting of the list that is set but was not read: it belongs to the
    /// other platform, or means nothing with the other settings given.
    ///
    /// # Errors
    /// The first such setting, with the reason.
    pub fn finish(&self) -> Result<(), ConfigError> {
        let read = self.read.lock().map(|r| r.clone()).unwrap_or_default();
        for setting in super::list::SETTINGS {
            if setting.versioned {
                // Every version's name: `MASTER_KEY_V7_SECRET_ARN` on a server is refused
                // like `MASTER_KEY_V2_SECRET_ARN`.
                for n in 2..=super::MAX_CONFIGURED_KEY_VERSION {
                    if let Some(name) = setting.versioned_name(n) {
                        self.check_read(setting, &name, &read)?;
                    }
                }
            } else {
                self.check_read(setting, setting.name, &read)?;
            }
        }
        self.check_version_names()
    }

    /// Refuses a set variable that looks like a per-version setting but names no version
    /// of 2 to [`MAX_CONFIGURED_KEY_VERSION`](super::MAX_CONFIGURED_KEY_VERSION) in
    /// canonical decimal: it would otherwise be ignored, and its version unknown.
    fn check_version_names(&self) -> Result<(), ConfigError> {
        let Some(names) = self.names() else {
            return Ok(());
        };
        for name in names {
            if let Some(why) = malformed_version_name(&name)
                && self.is_set(&name)
            {
                return Err(ConfigError::new(name, why));
            }
        }
        Ok(())
    }

    /// Refuses `name` (a name of `setting`) if it is set and out of scope or unread.
    fn check_read(
        &self,
        setting: &Setting,
        name: &str,
        read: &BTreeSet<String>,
    ) -> Result<(), ConfigError> {
        if !self.is_set(name) {
            return Ok(());
        }
        if let Some(why) = self.out_of_scope(setting) {
            return Err(ConfigError::new(name, why));
        }
        if !read.contains(name) && !setting.ambient {
            return Err(ConfigError::new(name, setting.unused_because));
        }
        Ok(())
    }

    fn out_of_scope(&self, setting: &Setting) -> Option<&'static str> {
        match (setting.scope, self.platform) {
            (Scope::Server, Platform::Lambda) => Some(
                "a setting of `blindcast-keys serve`; it means nothing on AWS Lambda (Lambda \
                 owns the connections and freezes instances between invocations): remove it",
            ),
            (Scope::Lambda, Platform::Server) => Some(
                "a setting of the AWS Lambda bootstrap; it means nothing to \
                 `blindcast-keys serve`: remove it",
            ),
            _ => None,
        }
    }
}

impl Env for EnvReader<'_> {
    /// The value, read from the overrides or the base, recorded as read.
    fn var(&self, name: &str) -> Option<String> {
        self.record(name);
        self.raw(name)
    }

    /// The base's names and the overridden ones.
    fn names(&self) -> Option<Vec<String>> {
        let mut names = self.base.names()?;
        names.extend(self.overrides.keys().cloned());
        names.sort_unstable();
        names.dedup();
        Some(names)
    }
}

/// Why `name` is a malformed per-version setting name, if it is one: `MASTER_KEY_V` or
/// `SALT_V`, then a digit (so `SALT_VALUE` is someone else's), but not a canonical version
/// of 2 to 99 followed by nothing, `_FILE`, `_SECRET_ARN` or `_PARAMETER`.
fn malformed_version_name(name: &str) -> Option<&'static str> {
    let rest = name
        .strip_prefix("MASTER_KEY_V")
        .or_else(|| name.strip_prefix("SALT_V"))?;
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (number, suffix) = match rest.find('_') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !matches!(suffix, "" | "_FILE" | "_SECRET_ARN" | "_PARAMETER") {
        return Some(
            "not a setting: per-version names end in _FILE, _SECRET_ARN or _PARAMETER, if anything",
        );
    }
    match number.parse::<blindcast_keys_core::KeyVersion>() {
        Ok(v) if (2..=super::MAX_CONFIGURED_KEY_VERSION).contains(&v.get()) => None,
        Ok(_) => Some(
            "names no configurable key version: versions 2 to 99 (version 1 is MASTER_KEY/SALT)",
        ),
        Err(_) => Some(
            "names no key version: write the version in plain decimal without leading zeros (MASTER_KEY_V2)",
        ),
    }
}

/// `120` (seconds) or a humantime duration (`120s`, `2m`, `1h`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(text).ok(),
    }
}

/// An environment of exactly these variables that can list its names, as the process
/// environment can, for unit tests.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub(crate) struct ListedEnv(pub(crate) std::collections::BTreeMap<String, String>);

#[cfg(test)]
impl Env for ListedEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    fn names(&self) -> Option<Vec<String>> {
        Some(self.0.keys().cloned().collect())
    }
}

/// An environment of exactly these variables, for unit tests.
#[cfg(test)]
pub(crate) fn map_env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

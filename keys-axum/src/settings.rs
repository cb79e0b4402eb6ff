//! Every setting of the key server, read from the environment (or any [`Env`]) and
//! checked before anything binds, each error naming its setting. Shared by
//! `blindcast-keys serve` and other front doors such as AWS Lambda.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::lease::{MAX_LEASE_TTL, ViewerId};
use blindcast_keys_core::{KeyDeriver, LeaseStore};

use crate::auth::{AnonymousAuthenticator, Authenticator, JwtAuthenticator};
use crate::config::{ConfigError, Env, load_deriver, read_secret};
use crate::cors::CorsConfig;
use crate::router::{KeyRouterConfig, KeyServer};

/// Where leases are kept.
#[derive(Clone, PartialEq, Eq)]
pub enum LeaseStoreSetting {
    /// No lease store: lease routes answer 404, keys are served on authentication alone.
    None,
    /// In process memory (single instance, lost on restart).
    Memory,
    /// A SQLite file (`sqlite:PATH`).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://...`).
    Postgres(String),
}

impl std::fmt::Debug for LeaseStoreSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Memory => f.write_str("Memory"),
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            // The URL may hold a password.
            Self::Postgres(_) => f.write_str("Postgres(<url redacted>)"),
        }
    }
}

impl LeaseStoreSetting {
    /// Parses `LEASE_STORE`: `none`, `memory`, `sqlite:PATH` or `postgres://...`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `LEASE_STORE` (without echoing the value).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        let bad = |m: &str| ConfigError::new("LEASE_STORE", m);
        if text.is_empty() || text == "none" {
            Ok(Self::None)
        } else if text == "memory" {
            Ok(Self::Memory)
        } else if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(bad(
                    "sqlite: needs a path, e.g. sqlite:/var/lib/blindcast/leases.db",
                ));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(Self::Postgres(text.to_owned()))
        } else {
            Err(bad("expected none, memory, sqlite:PATH or postgres://..."))
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything `serve` needs, validated.
#[derive(Debug)]
#[non_exhaustive]
pub struct Settings {
    /// `BIND` (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// From `MASTER_KEY`/`SALT` or their `*_FILE`.
    pub deriver: KeyDeriver,
    /// From the `JWT_*` settings, or anonymous with `ALLOW_ANONYMOUS=true`.
    pub authenticator: Arc<dyn Authenticator>,
    /// The JWT authenticator, when one is used (to prefetch a JWKS URL).
    pub jwt: Option<Arc<JwtAuthenticator>>,
    /// `CORS_ORIGINS`, `CORS_ALLOW_CREDENTIALS`.
    pub cors: Option<CorsConfig>,
    /// Router options (`LEASE_TTL`, `MAX_LEASES_PER_VIEWER`, `KEY_CACHE_MAX_AGE`, ...).
    pub router: KeyRouterConfig,
    /// `LEASE_STORE`.
    pub lease_store: LeaseStoreSetting,
    /// `LOG_FORMAT` (default `text`).
    pub log_format: LogFormat,
    /// `LOG_LEVEL` (default `info`): a tracing filter such as `info` or
    /// `info,blindcast_keys::audit=warn`.
    pub log_level: String,
    /// `HEADER_READ_TIMEOUT` (default 5 s).
    pub header_read_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT` (default 10 s): how long in-flight requests may finish.
    pub shutdown_timeout: Duration,
    /// `MAX_CONNECTIONS` (default 4096).
    pub max_connections: usize,
    /// `PURGE_INTERVAL` (default 60 s): how often expired leases are deleted.
    pub purge_interval: Duration,
    /// `S3_BUCKET` and the other presign settings: `POST /presign` is on when set.
    #[cfg(feature = "presign")]
    pub presign: Option<crate::presign::PresignConfig>,
}

/// Parses a duration: `90` (seconds), `90s`, `2m`, `1h 30m`.
pub(crate) fn duration(
    env: &dyn Env,
    name: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match env.var(name) {
        None => Ok(default),
        Some(text) => parse_duration(&text).ok_or_else(|| {
            ConfigError::new(name, "expected a duration such as 120, 120s, 2m or 1h")
        }),
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

fn number<T: std::str::FromStr>(env: &dyn Env, name: &str, default: T) -> Result<T, ConfigError> {
    match env.var(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| ConfigError::new(name, "expected a whole number")),
    }
}

pub(crate) fn flag(env: &dyn Env, name: &str) -> Result<bool, ConfigError> {
    match env.var(name).as_deref().map(str::trim) {
        None | Some("") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(_) => Err(ConfigError::new(name, "expected true or false")),
    }
}

pub(crate) fn text(env: &dyn Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn list(env: &dyn Env, name: &str) -> Vec<String> {
    text(env, name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Settings {
    /// Reads and checks every setting. Files named by settings are read here, so every
    /// mistake surfaces before the server binds.
    ///
    /// # Errors
    /// The first bad setting, by name.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let bind = match text(env, "BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::new("BIND", "expected IP:PORT, e.g. 0.0.0.0:8080"))?,
        };
        let deriver = load_deriver(env, None, None)?;
        let (authenticator, jwt) = authenticator(env)?;
        let cors = match text(env, "CORS_ORIGINS") {
            None => {
                if flag(env, "CORS_ALLOW_CREDENTIALS")? {
                    return Err(ConfigError::new(
                        "CORS_ALLOW_CREDENTIALS",
                        "needs CORS_ORIGINS with an explicit list of origins",
                    ));
                }
                None
            }
            Some(origins) => {
                let cors = CorsConfig::parse(&origins)
                    .map_err(|e| ConfigError::new("CORS_ORIGINS", e.to_string()))?;
                Some(
                    cors.allow_credentials(flag(env, "CORS_ALLOW_CREDENTIALS")?)
                        .map_err(|e| ConfigError::new("CORS_ALLOW_CREDENTIALS", e.to_string()))?,
                )
            }
        };
        let lease_ttl = duration(env, "LEASE_TTL", Duration::from_secs(120))?;
        if lease_ttl < Duration::from_secs(3) || lease_ttl > MAX_LEASE_TTL {
            return Err(ConfigError::new(
                "LEASE_TTL",
                "must be from 3 seconds to 24 hours",
            ));
        }
        let max_leases_per_viewer: u32 = number(env, "MAX_LEASES_PER_VIEWER", 3)?;
        if max_leases_per_viewer == 0 {
            return Err(ConfigError::new(
                "MAX_LEASES_PER_VIEWER",
                "must be at least 1",
            ));
        }
        let key_max_age = match text(env, "KEY_CACHE_MAX_AGE") {
            None => None,
            Some(_) => match number::<u32>(env, "KEY_CACHE_MAX_AGE", 0)? {
                0 => None,
                n => Some(n),
            },
        };
        let request_timeout = duration(env, "REQUEST_TIMEOUT", Duration::from_secs(10))?;
        if request_timeout.is_zero() {
            return Err(ConfigError::new("REQUEST_TIMEOUT", "must be more than 0"));
        }
        let router = KeyRouterConfig {
            key_max_age,
            entitlement_claim: text(env, "ENTITLEMENT_CLAIM"),
            lease_ttl,
            max_leases_per_viewer,
            body_limit: number(env, "MAX_BODY_BYTES", 4096)?,
            request_timeout: Some(request_timeout),
            metrics: flag(env, "METRICS")?,
        };
        let log_format = match text(env, "LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("LOG_FORMAT", "expected json or text")),
        };
        #[cfg(feature = "presign")]
        let presign = crate::presign::PresignConfig::from_env(env)?;
        #[cfg(not(feature = "presign"))]
        if text(env, "S3_BUCKET").is_some() {
            return Err(ConfigError::new(
                "S3_BUCKET",
                "this build has no presign support (cargo feature `presign`)",
            ));
        }
        let max_connections: usize = number(env, "MAX_CONNECTIONS", 4096)?;
        if max_connections == 0 {
            return Err(ConfigError::new("MAX_CONNECTIONS", "must be at least 1"));
        }
        Ok(Self {
            bind,
            deriver,
            authenticator,
            jwt,
            cors,
            router,
            lease_store: LeaseStoreSetting::parse(&env.var("LEASE_STORE").unwrap_or_default())?,
            log_format,
            log_level: text(env, "LOG_LEVEL").unwrap_or_else(|| "info".into()),
            header_read_timeout: duration(env, "HEADER_READ_TIMEOUT", Duration::from_secs(5))?,
            shutdown_timeout: duration(env, "SHUTDOWN_TIMEOUT", Duration::from_secs(10))?,
            max_connections,
            purge_interval: duration(env, "PURGE_INTERVAL", Duration::from_secs(60))?
                .max(Duration::from_secs(1)),
            #[cfg(feature = "presign")]
            presign,
        })
    }

    /// The key server of these settings, with `store` as its lease store.
    pub fn key_server(&self, store: Option<Arc<dyn LeaseStore>>) -> KeyServer {
        let mut server =
            KeyServer::with_authenticator(self.deriver.clone(), Arc::clone(&self.authenticator))
                .config(self.router.clone());
        if let Some(store) = store {
            server = server.lease_store(store);
        }
        if let Some(cors) = &self.cors {
            server = server.cors(cors.clone());
        }
        #[cfg(feature = "presign")]
        if let Some(presign) = &self.presign {
            server = server.presign(presign.clone());
        }
        server
    }
}

type Auth = (Arc<dyn Authenticator>, Option<Arc<JwtAuthenticator>>);

fn authenticator(env: &dyn Env) -> Result<Auth, ConfigError> {
    let sources: Vec<&str> = [
        "JWT_SECRET",
        "JWT_SECRET_FILE",
        "JWT_JWKS_URL",
        "JWT_JWKS_FILE",
        "JWT_PUBLIC_KEY_FILE",
    ]
    .into_iter()
    .filter(|name| text(env, name).is_some())
    .collect();
    let anonymous = flag(env, "ALLOW_ANONYMOUS")?;
    if anonymous {
        if let Some(first) = sources.first() {
            return Err(ConfigError::new(
                "ALLOW_ANONYMOUS",
                format!("cannot be combined with {first}"),
            ));
        }
        let viewer = ViewerId::new("anonymous")
            .map_err(|_| ConfigError::new("ALLOW_ANONYMOUS", "invalid viewer id"))?;
        return Ok((Arc::new(AnonymousAuthenticator::new(viewer)), None));
    }
    let mut builder = JwtAuthenticator::builder();
    let setting = match sources.as_slice() {
        [] => {
            return Err(ConfigError::new(
                "JWT_SECRET",
                "no way to authenticate viewers: set JWT_SECRET (or JWT_SECRET_FILE), JWT_JWKS_URL, JWT_JWKS_FILE or JWT_PUBLIC_KEY_FILE (or ALLOW_ANONYMOUS=true for public keys)",
            ));
        }
        [one] => *one,
        [first, second, ..] => {
            return Err(ConfigError::new(
                *second,
                format!("set only one of the JWT key settings ({first} is set too)"),
            ));
        }
    };
    builder = match setting {
        "JWT_SECRET" | "JWT_SECRET_FILE" => {
            let (secret, _) = read_secret(env, "JWT_SECRET", "JWT_SECRET_FILE", None)?;
            let secret = secret.trim_end_matches(['\r', '\n']);
            builder.hs256_secret(secret.as_bytes())
        }
        "JWT_JWKS_URL" => builder.jwks_url(text(env, setting).unwrap_or_default()),
        _ => {
            let path = text(env, setting).unwrap_or_default();
            let bytes = std::fs::read(&path)
                .map_err(|e| ConfigError::new(setting, format!("cannot read {path}: {e}")))?;
            if setting == "JWT_JWKS_FILE" {
                builder.jwks_json(&bytes)
            } else {
                builder.public_key_pem(&bytes)
            }
        }
    };
    for issuer in list(env, "JWT_ISSUER") {
        builder = builder.issuer(issuer);
    }
    for audience in list(env, "JWT_AUDIENCE") {
        builder = builder.audience(audience);
    }
    let leeway = duration(env, "JWT_LEEWAY", Duration::from_secs(30))?;
    if leeway > Duration::from_secs(300) {
        return Err(ConfigError::new("JWT_LEEWAY", "at most 300 seconds"));
    }
    builder = builder.leeway(leeway);
    if let Some(cookie) = text(env, "JWT_COOKIE") {
        if !cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(ConfigError::new(
                "JWT_COOKIE",
                "expected a cookie name (A-Z a-z 0-9 _ - .)",
            ));
        }
        builder = builder.cookie(cookie);
    }
    let cache_size: usize = number(env, "JWT_CACHE_SIZE", 10_000)?;
    builder = builder.token_cache(
        cache_size,
        duration(env, "JWT_CACHE_TTL", Duration::from_secs(300))?,
    );
    builder = builder
        .jwks_refetch_cooldown(duration(
            env,
            "JWKS_REFETCH_COOLDOWN",
            Duration::from_secs(1),
        )?)
        .jwks_max_age(duration(env, "JWKS_MAX_AGE", Duration::from_secs(600))?)
        .jwks_refresh_in_request(flag(env, "JWKS_REFRESH_IN_REQUEST")?);
    let jwt = Arc::new(
        builder
            .build()
            .map_err(|e| ConfigError::new(setting, e.to_string()))?,
    );
    Ok((Arc::clone(&jwt) as Arc<dyn Authenticator>, Some(jwt)))
}

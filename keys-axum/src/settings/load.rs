//! [`Settings`]: every setting of the key server, read through one [`EnvReader`] and
//! checked before anything binds, each error naming its setting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::{Keyring, LeaseStore};

use super::auth::{self, Authentication};
use super::env::{Env, EnvReader, Platform};
use super::error::ConfigError;
use super::keyring::load_keyring;
use super::lease_store::{LeaseCacheSettings, LeaseStoreSetting};
use super::list::for_option;
use super::log::LogSettings;
use crate::auth::Authenticator;
use crate::cors::CorsConfig;
use crate::router::KeyServer;
use crate::router_config::RouterConfig;

/// Everything the server or Lambda needs, validated.
#[derive(Debug)]
#[non_exhaustive]
pub struct Settings {
    /// From `MASTER_KEY`/`SALT` (version 1), `MASTER_KEY_V<N>`/`SALT_V<N>`, their
    /// `*_FILE` forms, `KEY_VERSION_PRIMARY` and `KEY_VERSIONS_RETIRED`.
    pub keyring: Keyring,
    /// From the `JWT_*` settings, `ALLOW_ANONYMOUS` or `TRUST_GATEWAY_AUTHORIZER`.
    pub authentication: Authentication,
    /// `CORS_ORIGINS`, `CORS_ALLOW_CREDENTIALS`.
    pub cors: Option<CorsConfig>,
    /// `LEASE_TTL`, `MAX_LEASES_PER_VIEWER`, `KEY_CACHE_MAX_AGE`, `MAX_BODY_BYTES`, ...
    pub router: RouterConfig,
    /// `LEASE_STORE`.
    pub lease_store: LeaseStoreSetting,
    /// `LOG_FORMAT`, `LOG_LEVEL`.
    pub log: LogSettings,
    /// The TCP server's settings: `Some` on [`Platform::Server`] only.
    pub server: Option<ServerSettings>,
    /// `BASE_PATH` (Lambda only; empty otherwise).
    pub base_path: String,
    /// `S3_BUCKET` and the other presign settings: `POST /presign` is on when set.
    #[cfg(feature = "presign")]
    pub presign: Option<crate::presign::PresignConfig>,
    /// `SPEKE_KEY_URL_BASE` and `SPEKE_TOKEN`: `POST /speke/v1` and `/speke/v2` are on
    /// when set. On Lambda it has no packager authenticator: the adapter adds one.
    #[cfg(feature = "speke")]
    pub speke: Option<crate::speke::SpekeConfig>,
}

/// Settings of `blindcast-keys serve`'s TCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerSettings {
    /// `BIND` (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// `HEADER_READ_TIMEOUT` (default 5 s).
    pub header_read_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT` (default 10 s): how long in-flight requests may finish.
    pub shutdown_timeout: Duration,
    /// `MAX_CONNECTIONS` (default 4096).
    pub max_connections: usize,
    /// `PURGE_INTERVAL` (default 60 s): how often expired leases are deleted.
    pub purge_interval: Duration,
    /// The lease-check cache: `Some` with a PostgreSQL `LEASE_STORE` only.
    pub lease_cache: Option<LeaseCacheSettings>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            header_read_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(10),
            max_connections: 4096,
            purge_interval: Duration::from_secs(60),
            lease_cache: None,
        }
    }
}

impl Settings {
    /// Reads and checks every setting of `platform` from `env`.
    ///
    /// # Errors
    /// The first bad setting, by name.
    pub fn from_env(env: &dyn Env, platform: Platform) -> Result<Self, ConfigError> {
        Self::read(&EnvReader::new(env, platform))
    }

    /// Reads and checks every setting through `r`, then refuses every setting that is
    /// set but was not read ([`EnvReader::finish`]). Files named by settings are read
    /// here, so every mistake surfaces before the server binds.
    ///
    /// # Errors
    /// The first bad setting, by name.
    pub fn read(r: &EnvReader<'_>) -> Result<Self, ConfigError> {
        let log = LogSettings::read(r)?;
        let keyring = load_keyring(r, None, None)?;
        let authentication = auth::read(r)?;
        let cors = cors(r)?;
        let lease_store = LeaseStoreSetting::parse(&r.var("LEASE_STORE").unwrap_or_default())?;
        let router = router(r, &lease_store)?;
        #[cfg(feature = "presign")]
        let presign = super::presign::read(r)?;
        #[cfg(not(feature = "presign"))]
        if r.text("S3_BUCKET").is_some() {
            return Err(ConfigError::new(
                "S3_BUCKET",
                "this build has no presign support (cargo feature `presign`)",
            ));
        }
        #[cfg(feature = "speke")]
        let speke = super::speke::read(r)?;
        #[cfg(not(feature = "speke"))]
        if r.text("SPEKE_KEY_URL_BASE").is_some() {
            return Err(ConfigError::new(
                "SPEKE_KEY_URL_BASE",
                "this build has no SPEKE support (cargo feature `speke`)",
            ));
        }
        let server = match r.platform() {
            Platform::Server => Some(server(r, &lease_store)?),
            Platform::Lambda => None,
        };
        let base_path = match r.platform() {
            Platform::Lambda => base_path(r)?,
            Platform::Server => String::new(),
        };
        r.finish()?;
        Ok(Self {
            keyring,
            authentication,
            cors,
            router,
            lease_store,
            log,
            server,
            base_path,
            #[cfg(feature = "presign")]
            presign,
            #[cfg(feature = "speke")]
            speke,
        })
    }

    /// The key server of these settings, authenticating with `authenticator` (from
    /// [`Authentication::authenticator`], or the Lambda adapter's), with `store` as its
    /// lease store.
    pub fn key_server(
        &self,
        authenticator: Arc<dyn Authenticator>,
        store: Option<Arc<dyn LeaseStore>>,
    ) -> KeyServer {
        let mut server = KeyServer::with_authenticator(self.keyring.clone(), authenticator)
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
        #[cfg(feature = "speke")]
        if let Some(speke) = &self.speke {
            server = server.speke(speke.clone());
        }
        server
    }
}

fn cors(r: &EnvReader<'_>) -> Result<Option<CorsConfig>, ConfigError> {
    let credentials = r.flag("CORS_ALLOW_CREDENTIALS")?;
    let Some(origins) = r.var("CORS_ORIGINS").filter(|v| !v.is_empty()) else {
        if credentials {
            return Err(ConfigError::new(
                "CORS_ALLOW_CREDENTIALS",
                "needs CORS_ORIGINS with an explicit list of origins",
            ));
        }
        return Ok(None);
    };
    let cors =
        CorsConfig::parse(&origins).map_err(|e| ConfigError::new("CORS_ORIGINS", e.to_string()))?;
    cors.allow_credentials(credentials)
        .map(Some)
        .map_err(|e| ConfigError::new("CORS_ALLOW_CREDENTIALS", e.to_string()))
}

/// The router's options: strings to values here, checks in [`RouterConfig`]'s builder,
/// whose errors are renamed to the settings.
fn router(r: &EnvReader<'_>, store: &LeaseStoreSetting) -> Result<RouterConfig, ConfigError> {
    let mut b = RouterConfig::builder();
    // Lease options mean nothing without leases: left unread, they are refused.
    if *store != LeaseStoreSetting::None {
        if let Some(ttl) = r.duration("LEASE_TTL")? {
            b = b.lease_ttl(ttl);
        }
        if let Some(max) = r.number("MAX_LEASES_PER_VIEWER")? {
            b = b.max_leases_per_viewer(max);
        }
    }
    if let Some(seconds) = r.number("KEY_CACHE_MAX_AGE")? {
        b = b.key_cache_max_age(seconds);
    }
    if let Some(claim) = r.var("ENTITLEMENT_CLAIM").filter(|v| !v.is_empty()) {
        b = b.entitlement_claim(claim);
    }
    if let Some(bytes) = r.number("MAX_BODY_BYTES")? {
        b = b.max_body_bytes(bytes);
    }
    if let Some(limit) = r.duration("REQUEST_TIMEOUT")? {
        b = b.request_timeout(Some(limit));
    }
    b = b.metrics(r.flag("METRICS")?);
    b.build().map_err(|e| {
        let name = for_option(&e.setting).map(|s| s.name);
        match name {
            Some(name) => e.named(name),
            None => e,
        }
    })
}

fn server(r: &EnvReader<'_>, store: &LeaseStoreSetting) -> Result<ServerSettings, ConfigError> {
    let mut s = ServerSettings::default();
    if let Some(bind) = r.text("BIND") {
        s.bind = bind
            .parse()
            .map_err(|_| ConfigError::new("BIND", "expected IP:PORT, e.g. 0.0.0.0:8080"))?;
    }
    let positive = |name: &str, d: Duration| {
        if d.is_zero() {
            Err(ConfigError::new(name, "must be more than 0"))
        } else {
            Ok(d)
        }
    };
    if let Some(d) = r.duration("HEADER_READ_TIMEOUT")? {
        s.header_read_timeout = positive("HEADER_READ_TIMEOUT", d)?;
    }
    if let Some(d) = r.duration("SHUTDOWN_TIMEOUT")? {
        s.shutdown_timeout = d;
    }
    if let Some(n) = r.number("MAX_CONNECTIONS")? {
        if n == 0 {
            return Err(ConfigError::new("MAX_CONNECTIONS", "must be at least 1"));
        }
        s.max_connections = n;
    }
    if *store != LeaseStoreSetting::None
        && let Some(d) = r.duration("PURGE_INTERVAL")?
    {
        s.purge_interval = positive("PURGE_INTERVAL", d)?;
    }
    if let LeaseStoreSetting::Postgres(_) = store {
        s.lease_cache = Some(lease_cache(r)?);
    }
    Ok(s)
}

/// On unless `LEASE_CACHE` says otherwise; its options are read (so refused when unused)
/// only while it is on.
fn lease_cache(r: &EnvReader<'_>) -> Result<LeaseCacheSettings, ConfigError> {
    let mut s = LeaseCacheSettings::default();
    if r.is_set("LEASE_CACHE") {
        s.enabled = r.flag("LEASE_CACHE")?;
    }
    if s.enabled {
        s.max_entries = r.number("LEASE_CACHE_MAX_ENTRIES")?;
        s.listener_url = r.text("LEASE_CACHE_LISTENER_URL");
    }
    Ok(s)
}

/// `BASE_PATH`: a path prefix such as `/v1` (any number of segments).
fn base_path(r: &EnvReader<'_>) -> Result<String, ConfigError> {
    let Some(path) = r.text("BASE_PATH") else {
        return Ok(String::new());
    };
    let ok = path.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~' | b'%' | b'@' | b':')
    });
    if !ok {
        return Err(ConfigError::new(
            "BASE_PATH",
            "expected a path prefix such as /v1 (letters, digits, / - . _ ~ % @ :)",
        ));
    }
    Ok(path)
}

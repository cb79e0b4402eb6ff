//! `blindcast-keys serve`: the settings from flags and the environment, then the TCP
//! server.

use std::path::PathBuf;

use blindcast_keys_axum::settings::{EnvReader, Platform, ProcessEnv, Settings};

use crate::dev::{prepare_dev, print_dev_banner};
use crate::{Failure, logging, tcp};

/// Serve keys over HTTP.
///
/// Every flag falls back to the environment variable named in its help; secrets
/// (MASTER_KEY, SALT, JWT_SECRET) come only from the environment or files.
#[derive(Debug, clap::Args)]
pub(crate) struct Serve {
    /// Development mode: generate (once) and reuse secrets and a SQLite lease store in
    /// ./.blindcast-dev/, bind 127.0.0.1, and print ready-to-paste curl commands.
    #[arg(long)]
    dev: bool,
    /// Where --dev keeps its files.
    #[arg(long, value_name = "DIR", default_value = ".blindcast-dev")]
    dev_dir: PathBuf,
    /// Address to listen on [env: BIND] [default: 127.0.0.1:8080].
    #[arg(long, value_name = "IP:PORT")]
    bind: Option<String>,
    /// none, memory, sqlite:PATH or postgres://... [env: LEASE_STORE].
    #[arg(long, value_name = "STORE")]
    lease_store: Option<String>,
    /// Lease lifetime, e.g. 120 or 2m [env: LEASE_TTL] [default: 120s].
    #[arg(long, value_name = "DURATION")]
    lease_ttl: Option<String>,
    /// Concurrent leases per viewer [env: MAX_LEASES_PER_VIEWER] [default: 3].
    #[arg(long, value_name = "N")]
    max_leases_per_viewer: Option<String>,
    /// Comma-separated allowed origins, or * [env: CORS_ORIGINS].
    #[arg(long, value_name = "ORIGINS")]
    cors_origins: Option<String>,
    /// JWKS URL of the identity provider [env: JWT_JWKS_URL].
    #[arg(long, value_name = "URL")]
    jwt_jwks_url: Option<String>,
    /// JWKS file [env: JWT_JWKS_FILE].
    #[arg(long, value_name = "PATH")]
    jwt_jwks_file: Option<String>,
    /// PEM public key file [env: JWT_PUBLIC_KEY_FILE].
    #[arg(long, value_name = "PATH")]
    jwt_public_key_file: Option<String>,
    /// Required token issuer(s), comma-separated [env: JWT_ISSUER].
    #[arg(long, value_name = "ISS")]
    jwt_issuer: Option<String>,
    /// Required token audience(s), comma-separated [env: JWT_AUDIENCE].
    #[arg(long, value_name = "AUD")]
    jwt_audience: Option<String>,
    /// json or text [env: LOG_FORMAT] [default: text].
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Read the master key (hex) from this file [env: MASTER_KEY_FILE].
    #[arg(long, value_name = "PATH")]
    master_key_file: Option<String>,
    /// Read the salt (hex) from this file [env: SALT_FILE].
    #[arg(long, value_name = "PATH")]
    salt_file: Option<String>,
}

impl Serve {
    pub(crate) fn run(self) -> Result<(), Failure> {
        // Flags replace their variables; `--dev` replaces and hides more.
        let mut env = EnvReader::new(&ProcessEnv, Platform::Server);
        for (name, value) in [
            ("BIND", &self.bind),
            ("LEASE_STORE", &self.lease_store),
            ("LEASE_TTL", &self.lease_ttl),
            ("MAX_LEASES_PER_VIEWER", &self.max_leases_per_viewer),
            ("CORS_ORIGINS", &self.cors_origins),
            ("JWT_JWKS_URL", &self.jwt_jwks_url),
            ("JWT_JWKS_FILE", &self.jwt_jwks_file),
            ("JWT_PUBLIC_KEY_FILE", &self.jwt_public_key_file),
            ("JWT_ISSUER", &self.jwt_issuer),
            ("JWT_AUDIENCE", &self.jwt_audience),
            ("LOG_FORMAT", &self.log_format),
            ("MASTER_KEY_FILE", &self.master_key_file),
            ("SALT_FILE", &self.salt_file),
        ] {
            if let Some(value) = value {
                env.set(name, Some(value.clone()));
                // A flag naming a file wins over the inline variable.
                if let Some(inline) = name.strip_suffix("_FILE") {
                    env.set(inline, None);
                }
            }
        }
        let dev = if self.dev {
            Some(prepare_dev(
                &self.dev_dir,
                &mut env,
                self.lease_store.is_some(),
            )?)
        } else {
            None
        };
        let settings = Settings::read(&env).map_err(Failure::usage)?;
        let server = settings.server.clone().unwrap_or_default();
        if dev.is_some() && !server.bind.ip().is_loopback() {
            return Err(Failure::usage("BIND: --dev only binds a loopback address"));
        }
        logging::init_logging(&settings.log);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Failure::runtime)?;
        let result = runtime.block_on(tcp::run(settings, server, |addr| {
            if let Some(dev) = &dev {
                // The banner goes straight to stderr: after the log lines before it.
                logging::flush_logs();
                print_dev_banner(dev, addr);
            }
        }));
        // Logs are written by a background thread: let it finish before the exit.
        logging::flush_logs();
        result.map_err(Failure::usage)
    }
}

//! `blindcast-keys serve` and `blindcast-keys token`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use blindcast_keys_axum::auth::mint_hs256;
use blindcast_keys_axum::config::{Env, ProcessEnv, read_secret};
use blindcast_keys_axum::server;
use blindcast_keys_axum::settings::{Settings, parse_duration};
use blindcast_keys_core::random_bytes;
use serde_json::Value;

use crate::Failure;

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

/// The process environment with some variables replaced (flags) or hidden (`--dev`).
struct Overlay(HashMap<&'static str, Option<String>>);

impl Env for Overlay {
    fn var(&self, name: &str) -> Option<String> {
        match self.0.get(name) {
            Some(value) => value.clone(),
            None => ProcessEnv.var(name),
        }
    }
}

impl Serve {
    pub(crate) fn run(self) -> Result<(), Failure> {
        let mut overlay = HashMap::new();
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
                overlay.insert(name, Some(value.clone()));
                // A flag naming a file wins over the inline variable.
                if let Some(inline) = name.strip_suffix("_FILE") {
                    overlay.insert(static_name(inline), None);
                }
            }
        }
        let dev = if self.dev {
            Some(prepare_dev(
                &self.dev_dir,
                &mut overlay,
                self.lease_store.is_some(),
            )?)
        } else {
            None
        };
        let env = Overlay(overlay);
        let settings = Settings::from_env(&env).map_err(Failure::usage)?;
        if dev.is_some() && !settings.bind.ip().is_loopback() {
            return Err(Failure::usage("BIND: --dev only binds a loopback address"));
        }
        server::init_logging(settings.log_format, &settings.log_level);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Failure::runtime)?;
        let result = runtime.block_on(server::run(settings, |addr| {
            if let Some(dev) = &dev {
                // The banner goes straight to stderr: after the log lines before it.
                server::flush_logs();
                print_dev_banner(dev, addr);
            }
        }));
        // Logs are written by a background thread: let it finish before the exit.
        server::flush_logs();
        result.map_err(Failure::usage)
    }
}

fn static_name(inline: &str) -> &'static str {
    match inline {
        "MASTER_KEY" => "MASTER_KEY",
        "SALT" => "SALT",
        _ => "JWT_SECRET",
    }
}

/// What `--dev` made.
struct Dev {
    dir: PathBuf,
    secret: zeroize::Zeroizing<String>,
}

/// Creates (mode 0700) or reuses the dev directory and its secrets (mode 0600), and points
/// the settings at them.
fn prepare_dev(
    dir: &Path,
    overlay: &mut HashMap<&'static str, Option<String>>,
    explicit_store: bool,
) -> Result<Dev, Failure> {
    create_private_dir(dir).map_err(|e| Failure::runtime(format!("{}: {e}", dir.display())))?;
    let master = ensure_secret(&dir.join("master-key.hex"), 32)?;
    let salt = ensure_secret(&dir.join("salt.hex"), 16)?;
    let jwt = ensure_secret(&dir.join("jwt-secret"), 32)?;
    let secret = std::fs::read_to_string(&jwt)
        .map(|s| zeroize::Zeroizing::new(s.trim().to_owned()))
        .map_err(|e| Failure::runtime(format!("{}: {e}", jwt.display())))?;
    let path = |p: &Path| Some(p.display().to_string());
    overlay.insert("MASTER_KEY_FILE", path(&master));
    overlay.insert("SALT_FILE", path(&salt));
    overlay.insert("JWT_SECRET_FILE", path(&jwt));
    // Dev secrets replace whatever the environment says about keys and tokens.
    for hidden in [
        "MASTER_KEY",
        "SALT",
        "JWT_SECRET",
        "JWT_JWKS_URL",
        "JWT_JWKS_FILE",
        "JWT_PUBLIC_KEY_FILE",
        "ALLOW_ANONYMOUS",
    ] {
        overlay.insert(hidden, None);
    }
    if !explicit_store {
        overlay.insert(
            "LEASE_STORE",
            Some(format!("sqlite:{}", dir.join("leases.db").display())),
        );
    }
    if !overlay.contains_key("BIND") && ProcessEnv.var("BIND").is_none() {
        overlay.insert("BIND", Some("127.0.0.1:8080".into()));
    }
    Ok(Dev {
        dir: dir.to_owned(),
        secret,
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            }
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Writes `bytes` random bytes as hex to `path` unless it exists (mode 0600).
fn ensure_secret(path: &Path, bytes: usize) -> Result<PathBuf, Failure> {
    if path.exists() {
        return Ok(path.to_owned());
    }
    let hex = match bytes {
        16 => hex::encode(random_bytes::<16>().map_err(Failure::runtime)?.as_slice()),
        _ => hex::encode(random_bytes::<32>().map_err(Failure::runtime)?.as_slice()),
    };
    let hex = zeroize::Zeroizing::new(hex);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| Failure::runtime(format!("{}: {e}", path.display())))?;
    writeln!(file, "{}", hex.as_str())
        .map_err(|e| Failure::runtime(format!("{}: {e}", path.display())))?;
    Ok(path.to_owned())
}

fn print_dev_banner(dev: &Dev, addr: std::net::SocketAddr) {
    eprintln!(
        "blindcast-keys: WARNING: development mode. Secrets live in {} and the server \
         listens on {addr} only. Do not use --dev in production.",
        dev.dir.display()
    );
    let token = mint_hs256(
        dev.secret.as_bytes(),
        "dev-viewer",
        Duration::from_secs(12 * 3600),
        BTreeMap::new(),
    )
    .unwrap_or_default();
    let base = format!("http://{addr}");
    let dir = dev.dir.display();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\n# A token for viewer dev-viewer, valid 12 hours:\n\
         export TOKEN={token}\n\n\
         # Create a lease for content movie-1:\n\
         curl -s -X POST {base}/keys/leases -H \"Authorization: Bearer $TOKEN\" \
         -H 'Content-Type: application/json' -d '{{\"contentId\":\"movie-1\"}}'\n\n\
         # Fetch the key with the leaseId printed above:\n\
         curl -s {base}/keys/movie-1 -H \"Authorization: Bearer $TOKEN\" \
         -H \"X-Blindcast-Lease: LEASE_ID\" | od -An -tx1\n\n\
         # The same key, derived offline:\n\
         MASTER_KEY_FILE={dir}/master-key.hex SALT_FILE={dir}/salt.hex blindcast-keys derive movie-1\n"
    );
    let _ = out.flush();
}

/// Mint an HS256 token signed with JWT_SECRET (or JWT_SECRET_FILE), for tests and
/// pipelines. Prints the token.
#[derive(Debug, clap::Args)]
pub(crate) struct Token {
    /// The viewer id (`sub`).
    #[arg(long, value_name = "VIEWER")]
    sub: String,
    /// Lifetime, e.g. 3600, 90m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    ttl: String,
    /// An extra claim; VALUE is parsed as JSON when it is JSON (`--claim 'content=["movie-*"]'`),
    /// else taken as a string. Repeatable.
    #[arg(long = "claim", value_name = "KEY=VALUE")]
    claims: Vec<String>,
}

impl Token {
    pub(crate) fn run(self) -> Result<(), Failure> {
        let ttl = parse_duration(&self.ttl)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| Failure::usage("--ttl: expected a duration such as 3600, 90m or 1h"))?;
        let mut claims = BTreeMap::new();
        if let Some(iss) = ProcessEnv.var("JWT_ISSUER").filter(|v| !v.is_empty()) {
            claims.insert(
                "iss".to_owned(),
                Value::from(iss.split(',').next().unwrap_or_default().trim()),
            );
        }
        if let Some(aud) = ProcessEnv.var("JWT_AUDIENCE").filter(|v| !v.is_empty()) {
            claims.insert(
                "aud".to_owned(),
                Value::from(aud.split(',').next().unwrap_or_default().trim()),
            );
        }
        for claim in &self.claims {
            let (key, value) = claim
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    Failure::usage(format!("--claim: expected KEY=VALUE, got {claim:?}"))
                })?;
            if matches!(key, "sub" | "exp" | "iat") {
                return Err(Failure::usage(format!(
                    "--claim: {key} is set by the command"
                )));
            }
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
            claims.insert(key.to_owned(), value);
        }
        let (secret, setting) = read_secret(&ProcessEnv, "JWT_SECRET", "JWT_SECRET_FILE", None)
            .map_err(Failure::usage)?;
        let secret = secret.trim_end_matches(['\r', '\n']);
        let token = mint_hs256(secret.as_bytes(), &self.sub, ttl, claims).map_err(|e| match e {
            blindcast_keys_axum::auth::MintError::InvalidSubject => {
                Failure::usage(format!("--sub: {e}"))
            }
            _ => Failure::usage(format!("{setting}: {e}")),
        })?;
        println!("{token}");
        Ok(())
    }
}

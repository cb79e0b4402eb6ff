//! `serve --dev`: secrets and a SQLite lease store generated once in a private directory,
//! and a banner with ready-to-paste commands.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use blindcast_keys_axum::auth::mint_hs256;
use blindcast_keys_axum::settings::{EnvReader, JWT_KEY_SOURCES};
use blindcast_keys_core::random_bytes;

use crate::Failure;

/// What `--dev` made.
pub(crate) struct Dev {
    dir: PathBuf,
    secret: zeroize::Zeroizing<String>,
}

/// Creates (mode 0700) or reuses the dev directory and its secrets (mode 0600), and points
/// the settings at them.
pub(crate) fn prepare_dev(
    dir: &Path,
    env: &mut EnvReader<'_>,
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
    env.set("MASTER_KEY_FILE", path(&master));
    env.set("SALT_FILE", path(&salt));
    env.set("JWT_SECRET_FILE", path(&jwt));
    // Dev secrets replace whatever the environment says about keys and tokens.
    let others = JWT_KEY_SOURCES
        .into_iter()
        .filter(|s| *s != "JWT_SECRET_FILE");
    for hidden in ["MASTER_KEY", "SALT", "ALLOW_ANONYMOUS"]
        .into_iter()
        .chain(others)
    {
        env.set(hidden, None);
    }
    if !explicit_store {
        env.set(
            "LEASE_STORE",
            Some(format!("sqlite:{}", dir.join("leases.db").display())),
        );
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

pub(crate) fn print_dev_banner(dev: &Dev, addr: std::net::SocketAddr) {
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

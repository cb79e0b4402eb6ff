//! `blindcast-keys derive` and `blindcast-keys keyinfo`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use blindcast_keys_axum::settings::{ProcessEnv, load_deriver};
use blindcast_keys_core::{ContentId, DerivedKey, parse_epoch, random_bytes};

use crate::Failure;

/// Where the secrets come from, shared by the commands that derive keys.
#[derive(Debug, clap::Args)]
pub(crate) struct SecretArgs {
    /// Read the master key (hex) from this file instead of MASTER_KEY / MASTER_KEY_FILE.
    #[arg(long, value_name = "PATH")]
    master_key_file: Option<PathBuf>,
    /// Read the salt (hex) from this file instead of SALT / SALT_FILE.
    #[arg(long, value_name = "PATH")]
    salt_file: Option<PathBuf>,
}

/// Which key: a content id and, for rotating keys, an epoch.
#[derive(Debug, clap::Args)]
pub(crate) struct KeyArgs {
    /// The content id: 1-128 characters of A-Z a-z 0-9 . _ - (not starting with '.').
    #[arg(value_name = "CONTENT_ID")]
    content_id: String,
    /// Derive the rotating key of this epoch (canonical decimal, 0 to 2^64-1) instead of
    /// the content key.
    // Hyphen values reach our own parser, so `--epoch -1` gets the one-line epoch error.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    epoch: Option<String>,
}

impl KeyArgs {
    /// Validates the id and epoch, then derives the key.
    fn derive(&self, secrets: &SecretArgs) -> Result<DerivedKey, Failure> {
        let id = ContentId::new(self.content_id.as_str()).map_err(Failure::usage)?;
        let epoch = match &self.epoch {
            Some(text) => {
                Some(parse_epoch(text).map_err(|e| Failure::usage(format!("--epoch: {e}")))?)
            }
            None => None,
        };
        let deriver = load_deriver(
            &ProcessEnv,
            secrets.master_key_file.as_deref(),
            secrets.salt_file.as_deref(),
        )
        .map_err(Failure::usage)?;
        Ok(deriver.key(&id, epoch))
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// 32 lowercase hex digits and a newline.
    Hex,
    /// Standard padded base64 and a newline.
    Base64,
    /// The 16 raw bytes, nothing else.
    Raw,
}

/// Print the key of a content id (or of one epoch of it), as the key server would serve
/// it.
#[derive(Debug, clap::Args)]
pub(crate) struct Derive {
    #[command(flatten)]
    key: KeyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "hex")]
    format: Format,
    #[command(flatten)]
    secrets: SecretArgs,
}

impl Derive {
    pub(crate) fn run(self) -> Result<(), Failure> {
        let key = self.key.derive(&self.secrets)?;
        let mut out = std::io::stdout().lock();
        let written = match self.format {
            Format::Hex => writeln!(out, "{}", key.to_hex().as_str()),
            Format::Base64 => writeln!(out, "{}", key.to_base64().as_str()),
            Format::Raw => out.write_all(key.as_bytes()),
        };
        written
            .and_then(|()| out.flush())
            .map_err(|e| Failure::runtime(format!("stdout: {e}")))
    }
}

/// Write the key to a file (mode 0600) and print an ffmpeg `-hls_key_info_file` document:
/// the key URI players will fetch, the key file path, and the IV.
///
/// Example: blindcast-keys keyinfo movie-1 --key-uri https://keys.example.com/keys/movie-1
/// --key-file movie-1.key > movie-1.keyinfo, then ffmpeg ... -hls_key_info_file
/// movie-1.keyinfo.
#[derive(Debug, clap::Args)]
pub(crate) struct Keyinfo {
    #[command(flatten)]
    key: KeyArgs,
    /// The URI players fetch the key from (the playlist's EXT-X-KEY URI), e.g.
    /// https://keys.example.com/keys/movie-1.
    #[arg(long, value_name = "URL")]
    key_uri: String,
    /// Where to write the 16 raw key bytes for ffmpeg (created or truncated, mode 0600).
    #[arg(long, value_name = "PATH")]
    key_file: PathBuf,
    /// The IV: "random" (16 bytes from the OS RNG, the default), "none" (players use the
    /// segment sequence number), or 32 hex digits.
    #[arg(long, value_name = "random|none|HEX", default_value = "random")]
    iv: String,
    #[command(flatten)]
    secrets: SecretArgs,
}

impl Keyinfo {
    pub(crate) fn run(self) -> Result<(), Failure> {
        check_uri(&self.key_uri)?;
        let iv = parse_iv(&self.iv)?;
        let key = self.key.derive(&self.secrets)?;
        let key_path = self.key_file.to_str().filter(|p| !p.contains(['\n', '\r'])).ok_or_else(|| {
            Failure::usage("--key-file: the path must be UTF-8 without line breaks (it becomes a line of the key info)")
        })?;
        write_private(&self.key_file, key.as_bytes())
            .map_err(|e| Failure::runtime(format!("--key-file: cannot write {key_path}: {e}")))?;
        let mut doc = format!("{}\n{key_path}\n", self.key_uri);
        if let Some(iv) = iv {
            doc.push_str(&iv);
            doc.push('\n');
        }
        std::io::stdout()
            .write_all(doc.as_bytes())
            .map_err(|e| Failure::runtime(format!("stdout: {e}")))
    }
}

fn check_uri(uri: &str) -> Result<(), Failure> {
    if uri.is_empty() || uri.chars().any(|c| c.is_control() || c == '"') {
        return Err(Failure::usage(
            "--key-uri: must be non-empty, without control characters or '\"' (it is written into the playlist)",
        ));
    }
    Ok(())
}

fn parse_iv(text: &str) -> Result<Option<String>, Failure> {
    match text {
        "none" => Ok(None),
        "random" => {
            let iv = random_bytes::<16>().map_err(|e| Failure::runtime(format!("OS RNG: {e}")))?;
            Ok(Some(hex::encode(&iv[..])))
        }
        hex_iv => {
            let iv = hex_iv.trim_start_matches("0x");
            if iv.len() != 32 || !iv.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Failure::usage(
                    "--iv: expected random, none, or 32 hex digits (16 bytes)",
                ));
            }
            Ok(Some(iv.to_ascii_lowercase()))
        }
    }
}

/// Writes `bytes` to `path` readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // An existing file keeps its old mode through open(): tighten it explicitly.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

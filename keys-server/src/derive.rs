//! `blindcast-keys derive` and `blindcast-keys keyinfo`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use blindcast_keys_axum::settings::{ProcessEnv, load_keyring};
use blindcast_keys_core::{
    ContentId, DerivedKey, KeyLookupError, KeyVersion, parse_epoch, random_bytes,
};

use crate::Failure;

/// Where the secrets come from, shared by the commands that derive keys: the server's
/// own settings (MASTER_KEY, SALT, MASTER_KEY_V<N>, SALT_V<N>, their _FILE forms,
/// KEY_VERSION_PRIMARY, KEY_VERSIONS_RETIRED).
#[derive(Debug, clap::Args)]
pub(crate) struct SecretArgs {
    /// Read key version 1's master key (hex) from this file instead of MASTER_KEY /
    /// MASTER_KEY_FILE.
    #[arg(long, value_name = "PATH")]
    master_key_file: Option<PathBuf>,
    /// Read key version 1's salt (hex) from this file instead of SALT / SALT_FILE.
    #[arg(long, value_name = "PATH")]
    salt_file: Option<PathBuf>,
    /// The key version (1 to 65535) to derive under; default: the primary version of the
    /// settings (KEY_VERSION_PRIMARY, or the only version configured).
    #[arg(long = "version", value_name = "N", allow_hyphen_values = true)]
    key_version: Option<String>,
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
    /// Validates the id, epoch and version, then derives the key; returns the version too.
    fn derive(&self, secrets: &SecretArgs) -> Result<(DerivedKey, KeyVersion), Failure> {
        let id = ContentId::new(self.content_id.as_str()).map_err(Failure::usage)?;
        let epoch = match &self.epoch {
            Some(text) => {
                Some(parse_epoch(text).map_err(|e| Failure::usage(format!("--epoch: {e}")))?)
            }
            None => None,
        };
        let version = match &secrets.key_version {
            Some(text) => Some(
                text.parse::<KeyVersion>()
                    .map_err(|e| Failure::usage(format!("--version: {e}")))?,
            ),
            None => None,
        };
        let keyring = load_keyring(
            &ProcessEnv,
            secrets.master_key_file.as_deref(),
            secrets.salt_file.as_deref(),
        )
        .map_err(Failure::usage)?;
        let deriver = match version {
            None => keyring.primary(),
            Some(v) => keyring.deriver(v).map_err(|e| {
                Failure::usage(match e {
                    KeyLookupError::Unknown(_) => format!(
                        "--version: {e} (set MASTER_KEY_V{v} and SALT_V{v}, or MASTER_KEY and SALT for 1)"
                    ),
                    KeyLookupError::Retired(_) => {
                        format!("--version: {e}: its keys are no longer served")
                    }
                })
            })?,
        };
        Ok((deriver.key(&id, epoch), deriver.version()))
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
        let (key, _) = self.key.derive(&self.secrets)?;
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
/// the key URI players will fetch, the key file path, and the IV. Under a key version
/// other than 1 the URI gets `kv=N` added to its query, so players ask for that version.
///
/// Example: blindcast-keys keyinfo movie-1 --key-uri https://keys.example.com/keys/movie-1
/// --key-file movie-1.key > movie-1.keyinfo, then ffmpeg ... -hls_key_info_file
/// movie-1.keyinfo.
#[derive(Debug, clap::Args)]
pub(crate) struct Keyinfo {
    #[command(flatten)]
    key: KeyArgs,
    /// The URI players fetch the key from (the playlist's EXT-X-KEY URI), e.g.
    /// https://keys.example.com/keys/movie-1; `kv=N` is added for key versions other than
    /// 1.
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
        let (key, version) = self.key.derive(&self.secrets)?;
        let key_uri = versioned_uri(&self.key_uri, version)?;
        let key_path = self.key_file.to_str().filter(|p| !p.contains(['\n', '\r'])).ok_or_else(|| {
            Failure::usage("--key-file: the path must be UTF-8 without line breaks (it becomes a line of the key info)")
        })?;
        write_private(&self.key_file, key.as_bytes())
            .map_err(|e| Failure::runtime(format!("--key-file: cannot write {key_path}: {e}")))?;
        let mut doc = format!("{key_uri}\n{key_path}\n");
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

/// `uri` with `kv=N` added to its query (before any fragment) for a version other than 1;
/// version 1's URIs are unchanged, as they were before versions existed. A URI that
/// already names a version is refused rather than given two.
fn versioned_uri(uri: &str, version: KeyVersion) -> Result<String, Failure> {
    let (before_fragment, fragment) = match uri.split_once('#') {
        Some((head, fragment)) => (head, Some(fragment)),
        None => (uri, None),
    };
    let query = before_fragment.split_once('?').map(|(_, q)| q);
    if query.is_some_and(|q| q.split('&').any(|p| p == "kv" || p.starts_with("kv="))) {
        return Err(Failure::usage(
            "--key-uri: already has a kv parameter; give the URI without it (keyinfo adds the version)",
        ));
    }
    if version == KeyVersion::V1 {
        return Ok(uri.to_owned());
    }
    let separator = match query {
        None => "?",
        Some("") => "",
        Some(q) if q.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{before_fragment}{separator}kv={version}");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_uris_carry_the_version_except_version_1() {
        let v = |n| KeyVersion::new(n).unwrap_or(KeyVersion::V1);
        let uri = |u: &str, n| versioned_uri(u, v(n)).map_err(|f| format!("{f:?}"));
        let k = "https://k.example/keys/movie-1";
        assert_eq!(uri(k, 1).as_deref(), Ok(k));
        assert_eq!(uri(k, 2), Ok(format!("{k}?kv=2")));
        assert_eq!(
            uri(&format!("{k}/17?token=a"), 12),
            Ok(format!("{k}/17?token=a&kv=12"))
        );
        assert_eq!(uri(&format!("{k}?"), 3), Ok(format!("{k}?kv=3")));
        assert_eq!(uri(&format!("{k}?a=1&"), 3), Ok(format!("{k}?a=1&kv=3")));
        assert_eq!(uri(&format!("{k}#frag"), 3), Ok(format!("{k}?kv=3#frag")));
        assert!(uri(&format!("{k}?kv=2"), 2).is_err());
        assert!(uri(&format!("{k}?a=1&kv=1"), 1).is_err());
        assert_eq!(uri(&format!("{k}?akv=1"), 2), Ok(format!("{k}?akv=1&kv=2")));
    }
}

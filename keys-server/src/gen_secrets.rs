//! `blindcast-keys gen-secrets`.

use std::io::Write as _;

use blindcast_keys_core::{KeyVersion, random_bytes};

use crate::Failure;

/// Print a fresh MASTER_KEY (32 bytes) and SALT (16 bytes) from the OS RNG, as NAME=hex
/// lines ready for an env file. With --version N (2 or more), print MASTER_KEY_VN and
/// SALT_VN instead: a new key version to add next to the existing ones.
#[derive(Debug, clap::Args)]
pub(crate) struct GenSecrets {
    /// The key version the secrets are for (1 to 99): 1 prints MASTER_KEY and SALT, N
    /// prints MASTER_KEY_VN and SALT_VN.
    #[arg(long = "version", value_name = "N", allow_hyphen_values = true)]
    key_version: Option<String>,
}

impl GenSecrets {
    pub(crate) fn run(self) -> Result<(), Failure> {
        let suffix = match self.key_version.as_deref() {
            None => String::new(),
            Some(text) => {
                let version: KeyVersion = text
                    .parse()
                    .map_err(|e| Failure::usage(format!("--version: {e}")))?;
                let max = blindcast_keys_axum::settings::MAX_CONFIGURED_KEY_VERSION;
                if version.get() > max {
                    return Err(Failure::usage(format!(
                        "--version: the settings hold master keys of versions 1 to {max}"
                    )));
                }
                if version == KeyVersion::V1 {
                    String::new()
                } else {
                    format!("_V{version}")
                }
            }
        };
        let master = random_bytes::<32>().map_err(|e| Failure::runtime(format!("OS RNG: {e}")))?;
        let salt = random_bytes::<16>().map_err(|e| Failure::runtime(format!("OS RNG: {e}")))?;
        let text = zeroize::Zeroizing::new(format!(
            "MASTER_KEY{suffix}={}\nSALT{suffix}={}\n",
            hex::encode(&master[..]),
            hex::encode(&salt[..])
        ));
        std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| Failure::runtime(format!("stdout: {e}")))
    }
}

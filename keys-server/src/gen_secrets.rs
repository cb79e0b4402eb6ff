//! `blindcast-keys gen-secrets`.

use std::io::Write as _;

use blindcast_keys_core::random_bytes;

use crate::Failure;

/// Print a fresh MASTER_KEY (32 bytes) and SALT (16 bytes) from the OS RNG, as NAME=hex
/// lines ready for an env file.
#[derive(Debug, clap::Args)]
pub(crate) struct GenSecrets {}

impl GenSecrets {
    pub(crate) fn run(self) -> Result<(), Failure> {
        let master = random_bytes::<32>().map_err(|e| Failure::runtime(format!("OS RNG: {e}")))?;
        let salt = random_bytes::<16>().map_err(|e| Failure::runtime(format!("OS RNG: {e}")))?;
        let text = zeroize::Zeroizing::new(format!(
            "MASTER_KEY={}\nSALT={}\n",
            hex::encode(&master[..]),
            hex::encode(&salt[..])
        ));
        std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| Failure::runtime(format!("stdout: {e}")))
    }
}

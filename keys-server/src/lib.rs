#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod derive;
mod dev;
mod gen_secrets;
mod logging;
mod serve;
mod stores;
mod tcp;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Blindcast Keys: the AES-128 keys of encrypted HLS video, derived with HKDF-SHA-256 from
/// one master key and salt.
///
/// Secrets are read from the environment (MASTER_KEY and SALT as hex, or MASTER_KEY_FILE
/// and SALT_FILE naming files that hold them; MASTER_KEY_V<N> and SALT_V<N> for more key
/// versions), never from command-line arguments, which other users of the machine can
/// see.
#[derive(Debug, Parser)]
#[command(name = "blindcast-keys", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    // `--version N` is the key version on these three (`blindcast-keys --version` still
    // prints the program's).
    #[command(disable_version_flag = true)]
    GenSecrets(gen_secrets::GenSecrets),
    #[command(disable_version_flag = true)]
    Derive(derive::Derive),
    #[command(disable_version_flag = true)]
    Keyinfo(derive::Keyinfo),
    Serve(Box<serve::Serve>),
    Token(token::Token),
}

/// A failure the user can act on: one line on stderr, and an exit code.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Bad input (an argument or a setting): exit code 2.
    fn usage(message: impl std::fmt::Display) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }

    /// The environment failed us (I/O, RNG): exit code 1.
    fn runtime(message: impl std::fmt::Display) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }
}

/// The whole `blindcast-keys` command: parses the arguments, runs the command, and
/// returns its exit code (0, 1 for a failure of the machine, 2 for a bad argument or
/// setting). The binary is this function; the system tests build it under test.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::GenSecrets(cmd) => cmd.run(),
        Command::Derive(cmd) => cmd.run(),
        Command::Keyinfo(cmd) => cmd.run(),
        Command::Serve(cmd) => cmd.run(),
        Command::Token(cmd) => cmd.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("blindcast-keys: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

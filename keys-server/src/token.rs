//! `blindcast-keys token`: mint an HS256 test token.

use std::collections::BTreeMap;

use blindcast_keys_axum::auth::mint_hs256;
use blindcast_keys_axum::settings::{Env, ProcessEnv, parse_duration, read_secret};
use serde_json::Value;

use crate::Failure;

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

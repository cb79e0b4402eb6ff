//! Settings: every option of the key server read from the environment (or any [`Env`]),
//! by one reader shared by `blindcast-keys serve` and AWS Lambda.
//!
//! - [`SETTINGS`] lists every setting: where it applies, its default, its meaning.
//! - [`EnvReader`] turns strings into values and records what it read; a setting that is
//!   set but means nothing with the others (or on this platform) is refused by name.
//! - Each option is checked once, by its library type ([`RouterConfig`](crate::RouterConfig),
//!   [`JwtBuilder`](crate::auth::JwtBuilder), [`CorsConfig`](crate::CorsConfig),
//!   `PresignConfig`); the reader reports its errors under the setting's name.
//! - Defaults live in the library types' `Default`; the list only shows them.

mod auth;
mod env;
mod error;
mod keyring;
mod lease_store;
mod list;
mod load;
mod log;
#[cfg(feature = "presign")]
mod presign;
mod secrets;
#[cfg(feature = "speke")]
mod speke;
#[cfg(test)]
mod tests;

pub use auth::Authentication;
pub use env::{Env, EnvReader, Platform, ProcessEnv, parse_duration};
pub use error::ConfigError;
pub use keyring::{MAX_CONFIGURED_KEY_VERSION, VersionNames, load_keyring};
pub use lease_store::{LeaseCacheSettings, LeaseStoreSetting};
pub use list::{
    JWT_KEY_SOURCES, SECRET_SETTINGS, SETTINGS, Scope, Setting, VERSIONED_SECRET_SETTINGS, find,
    for_option, markdown_table,
};
pub use load::{ServerSettings, Settings};
pub use log::{LogFormat, LogSettings};
pub use secrets::{load_deriver, read_secret};

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod error;
mod queries;
mod schema;
mod store;
mod tls;
mod url;

#[doc(hidden)]
pub use config::DbClockOffset;
pub use config::{MAX_TABLE_PREFIX_LEN, MAX_TIMEOUT, PostgresConfig, RetryPolicy};
#[allow(deprecated)]
pub use error::ConfigError;
pub use error::PostgresConfigError;
pub use store::PostgresLeaseStore;

/// The old name of [`PostgresConfig`].
#[deprecated(note = "renamed to PostgresConfig")]
pub type PostgresOptions = PostgresConfig;

/// The pool type [`PostgresLeaseStore::from_pool`] takes, re-exported with its crate.
pub use deadpool_postgres;

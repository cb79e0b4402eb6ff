#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod config;
mod error;
mod listener;
mod queries;
mod schema;
mod store;
mod store_cache;
mod tls;
mod url;

pub use cache::CacheStats;
#[doc(hidden)]
pub use config::DbClockOffset;
pub use config::{CacheConfig, MAX_TABLE_PREFIX_LEN, MAX_TIMEOUT, PostgresConfig, RetryPolicy};
#[allow(deprecated)]
pub use error::ConfigError;
pub use error::PostgresConfigError;
pub use listener::LISTENER_APPLICATION_NAME;
pub use store::PostgresLeaseStore;

/// The old name of [`PostgresConfig`].
#[deprecated(note = "renamed to PostgresConfig")]
pub type PostgresOptions = PostgresConfig;

/// The pool type [`PostgresLeaseStore::from_pool`] takes, re-exported with its crate.
pub use deadpool_postgres;

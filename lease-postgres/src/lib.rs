#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod error;
mod migrations;
mod options;
mod store;
mod tls;

pub use error::ConfigError;
#[doc(hidden)]
pub use options::DbClockOffset;
pub use options::{MAX_TABLE_PREFIX_LEN, PostgresOptions, RetryPolicy};
pub use store::PostgresLeaseStore;

/// The pool type [`PostgresLeaseStore::from_pool`] takes, re-exported with its crate.
pub use deadpool_postgres;

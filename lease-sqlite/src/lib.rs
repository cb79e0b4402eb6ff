#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod batch;
mod config;
mod error;
mod pool;
mod queries;
mod schema;
mod store;
mod time;

#[allow(deprecated)]
pub use config::SqliteOptions;
pub use config::{DEFAULT_POOL_SIZE, DEFAULT_TIMEOUT, MAX_TIMEOUT, SqliteConfig, Synchronous};
pub use error::{SqliteConfigError, SqliteStoreError};
pub use schema::SCHEMA_VERSION;
pub use store::SqliteLeaseStore;

/// The rusqlite this crate is built on: `LeaseError` sources downcast to
/// [`rusqlite::Error`] of this version.
pub use rusqlite;

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod batch;
mod error;
mod options;
mod pool;
mod queries;
mod schema;
mod store;
mod time;

pub use error::SqliteStoreError;
pub use options::{DEFAULT_POOL_SIZE, DEFAULT_TIMEOUT, SqliteOptions, Synchronous};
pub use schema::SCHEMA_VERSION;
pub use store::SqliteLeaseStore;

/// The rusqlite this crate is built on: `LeaseError` sources downcast to
/// [`rusqlite::Error`] of this version.
pub use rusqlite;

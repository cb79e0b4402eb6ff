//! Opening the lease store that `LEASE_STORE` names.

use std::sync::Arc;

use blindcast_keys_axum::settings::{ConfigError, LeaseStoreSetting};
use blindcast_keys_core::lease::MemoryLeaseStore;
use blindcast_keys_core::{ErrorChain, LeaseError, LeaseStore};
use blindcast_lease_postgres::PostgresLeaseStore;
use blindcast_lease_sqlite::SqliteLeaseStore;

/// Opens the store, or `None` for `LEASE_STORE=none`.
///
/// # Errors
/// A [`ConfigError`] naming `LEASE_STORE`, with the cause (file permissions, a refused
/// connection); the backends keep URLs and passwords out of their errors.
pub(crate) async fn open(
    setting: &LeaseStoreSetting,
) -> Result<Option<Arc<dyn LeaseStore>>, ConfigError> {
    let store: Arc<dyn LeaseStore> = match setting {
        LeaseStoreSetting::None => return Ok(None),
        LeaseStoreSetting::Memory => Arc::new(MemoryLeaseStore::new()),
        LeaseStoreSetting::Sqlite(path) => {
            Arc::new(SqliteLeaseStore::open(path).await.map_err(open_error)?)
        }
        LeaseStoreSetting::Postgres(url) => {
            Arc::new(PostgresLeaseStore::connect(url).await.map_err(open_error)?)
        }
    };
    Ok(Some(store))
}

fn open_error(e: LeaseError) -> ConfigError {
    ConfigError::new(
        "LEASE_STORE",
        format!("cannot open the lease store: {}", ErrorChain(&e)),
    )
}

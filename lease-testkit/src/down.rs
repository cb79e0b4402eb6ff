//! A lease store that is always down, for fail-closed tests.

use std::time::Duration;

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{CreateLease, Lease, LeaseError, LeaseId, LeaseStore, ViewerId};

/// Every operation fails with [`LeaseError::Unavailable`] whose source carries `detail`, so
/// tests can check that callers fail closed and never leak the detail.
#[derive(Debug, Clone, Copy)]
pub struct DownLeaseStore {
    /// The text of the source error.
    pub detail: &'static str,
}

impl DownLeaseStore {
    fn down(&self) -> LeaseError {
        LeaseError::unavailable(std::io::Error::other(self.detail))
    }
}

#[async_trait::async_trait]
impl LeaseStore for DownLeaseStore {
    async fn create(&self, _: CreateLease) -> Result<Lease, LeaseError> {
        Err(self.down())
    }
    async fn renew(&self, _: &LeaseId, _: &ViewerId, _: Duration) -> Result<Lease, LeaseError> {
        Err(self.down())
    }
    async fn check(&self, _: &LeaseId, _: &ViewerId, _: &ContentId) -> Result<Lease, LeaseError> {
        Err(self.down())
    }
    async fn release(&self, _: &LeaseId, _: &ViewerId) -> Result<(), LeaseError> {
        Err(self.down())
    }
    async fn purge_expired(&self) -> Result<u64, LeaseError> {
        Err(self.down())
    }
    async fn ping(&self) -> Result<(), LeaseError> {
        Err(self.down())
    }
}

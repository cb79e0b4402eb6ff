//! Leases: time-limited slots that cap how many streams a viewer plays at once.
//!
//! A viewer [creates](LeaseStore::create) a lease for a content item, [renews](LeaseStore::renew)
//! it like a heartbeat while playing, and the slot frees itself when renewals stop. The
//! key server hands out keys only under a lease that [checks](LeaseStore::check) out.
//!
//! This module holds the [`LeaseStore`] trait, its types, and [`MemoryLeaseStore`].
//! Durable backends live in their own crates (`blindcast-lease-sqlite`,
//! `blindcast-lease-postgres`), and all of them pass one conformance suite.

mod clock;
mod error;
mod memory;
mod store;
mod store_metrics;
mod types;

pub use clock::{Clock, ManualClock, MonotonicClock, SystemClock};
pub use error::{BoxError, LeaseError};
pub use memory::MemoryLeaseStore;
pub use store::LeaseStore;
pub use store_metrics::{MetricKind, StoreMetric};
pub use types::{
    CreateLease, IdempotencyKey, InvalidLeaseId, Lease, LeaseId, MAX_IDEMPOTENCY_KEY_LEN,
    MAX_LEASE_TTL, MAX_VIEWER_ID_LEN, ViewerId, validate_ttl,
};

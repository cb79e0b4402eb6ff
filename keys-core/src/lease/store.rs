//! The [`LeaseStore`] trait every backend implements.

use std::time::Duration;

use super::error::LeaseError;
use super::store_metrics::StoreMetric;
use super::types::{CreateLease, Lease, LeaseId, ViewerId};
use crate::ContentId;

/// Storage for leases, shared by every instance of the key server that must agree on
/// them.
///
/// All methods take `&self` and the trait is object safe, so stores are used as
/// `Arc<dyn LeaseStore>`.
///
/// # Semantics (every implementation)
/// - [`create`](Self::create) succeeds only while the viewer holds fewer than
///   [`max_leases_per_viewer`](CreateLease::max_leases_per_viewer) unexpired leases,
///   under any concurrency (tasks, processes, servers sharing one database); otherwise
///   [`LeaseError::LimitReached`]. With an idempotency key, a replay for the same viewer
///   returns the same unexpired lease instead of taking a second slot.
/// - [`renew`](Self::renew) sets `expires_at = max(expires_at, now + ttl)`. An expired
///   lease is never brought back ([`LeaseError::Expired`]); an unknown id or another
///   viewer's lease is [`LeaseError::NotFound`], so ids of other viewers cannot be probed.
/// - [`check`](Self::check) succeeds for an unexpired lease of that viewer covering that
///   content: otherwise `NotFound`, `Expired` or [`LeaseError::WrongContent`].
/// - [`release`](Self::release) frees the slot at once and is idempotent.
/// - [`purge_expired`](Self::purge_expired) deletes expired leases in bounded batches.
///   Correctness never depends on it: every operation compares with the clock itself.
///
/// - The limit holds at every instant, not only at each create: a renew that takes
///   effect must not make a lease usable again after a create has counted it as expired.
///   Read the clock only once the operation holds whatever orders it against the
///   viewer's other operations (the store's lock, the write lock, the viewer's advisory
///   lock), so the order of the times operations see is the order they take effect in.
///
/// `blindcast-lease-testkit` checks all of this on random concurrent histories
/// (`history` module), for every store in this workspace and for yours.
///
/// # Which clock decides expiry
/// Expiry is decided by the store's clock, never the caller's. [`MemoryLeaseStore`] and
/// the SQLite store read a [`Clock`] given at construction ([`SystemClock`] unless a test
/// supplies a [`ManualClock`]), i.e. the clock of the process that owns the store,
/// through a [`MonotonicClock`]: a backwards step of the system clock makes their time
/// stand still rather than revive expired leases. The PostgreSQL store uses the database
/// server's clock (`clock_timestamp()`), so server instances with skewed clocks still
/// agree.
///
/// [`MemoryLeaseStore`]: super::MemoryLeaseStore
/// [`Clock`]: super::Clock
/// [`SystemClock`]: super::SystemClock
/// [`ManualClock`]: super::ManualClock
/// [`MonotonicClock`]: super::MonotonicClock
#[async_trait::async_trait]
pub trait LeaseStore: Send + Sync + std::fmt::Debug + 'static {
    /// Creates a lease if the viewer is under its limit.
    async fn create(&self, request: CreateLease) -> Result<Lease, LeaseError>;

    /// Extends an unexpired lease of `viewer` to at least `now + ttl`.
    async fn renew(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        ttl: Duration,
    ) -> Result<Lease, LeaseError>;

    /// Checks that the lease is unexpired, belongs to `viewer` and covers `content`.
    async fn check(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        content: &ContentId,
    ) -> Result<Lease, LeaseError>;

    /// Releases the lease if it belongs to `viewer`. Releasing an unknown, expired or
    /// already released lease succeeds and changes nothing.
    async fn release(&self, lease_id: &LeaseId, viewer: &ViewerId) -> Result<(), LeaseError>;

    /// Deletes expired leases in bounded batches; returns how many were deleted.
    async fn purge_expired(&self) -> Result<u64, LeaseError>;

    /// Checks that the store can serve requests (for readiness probes).
    async fn ping(&self) -> Result<(), LeaseError>;

    /// Figures the store keeps about itself, shown by the router's `/metrics` (the
    /// PostgreSQL store's lease-check cache reports its hits, misses, ...). Cheap: read
    /// at each scrape. Default: none.
    fn metrics(&self) -> Vec<StoreMetric> {
        Vec::new()
    }
}

//! An in-process lease store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::clock::{Clock, MonotonicClock, SystemClock};
use super::error::LeaseError;
use super::store::LeaseStore;
use super::types::{CreateLease, Lease, LeaseId, ViewerId, validate_ttl};
use crate::ContentId;

/// Leases held in this process's memory, behind one mutex.
///
/// For tests and single-process servers: leases vanish with the process and are not
/// shared between instances. Expiry follows the [`Clock`] given at construction, read
/// through a [`MonotonicClock`] (a backwards step of the clock stops time instead of
/// reviving expired leases) and only while the store's lock is held, so the order of
/// the times operations see is the order in which they take effect.
#[derive(Debug, Clone)]
pub struct MemoryLeaseStore {
    inner: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    leases: HashMap<LeaseId, Lease>,
    by_viewer: HashMap<ViewerId, HashSet<LeaseId>>,
    idempotency: HashMap<(ViewerId, String), LeaseId>,
}

/// How many expired leases one purge pass removes before letting other callers in.
const PURGE_BATCH: usize = 1000;

impl MemoryLeaseStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::default(),
            clock: Arc::new(MonotonicClock::new(clock)),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No invariant spans a panic point inside the lock, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryLeaseStore {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    fn active_count(&self, viewer: &ViewerId, now: SystemTime) -> usize {
        self.by_viewer.get(viewer).map_or(0, |ids| {
            ids.iter()
                .filter(|id| self.leases.get(*id).is_some_and(|l| !l.is_expired_at(now)))
                .count()
        })
    }

    fn remove(&mut self, id: &LeaseId) {
        if let Some(lease) = self.leases.remove(id) {
            if let Some(ids) = self.by_viewer.get_mut(&lease.viewer) {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_viewer.remove(&lease.viewer);
                }
            }
            self.idempotency.retain(|_, v| v != id);
        }
    }

    /// The viewer's lease with this id, whether expired or not.
    fn owned_mut(&mut self, id: &LeaseId, viewer: &ViewerId) -> Result<&mut Lease, LeaseError> {
        match self.leases.get_mut(id) {
            Some(lease) if &lease.viewer == viewer => Ok(lease),
            _ => Err(LeaseError::NotFound),
        }
    }
}

#[async_trait::async_trait]
impl LeaseStore for MemoryLeaseStore {
    async fn create(&self, request: CreateLease) -> Result<Lease, LeaseError> {
        request.validate()?;
        let mut state = self.state();
        // Read under the lock: a time read before it could be older than the time of an
        // operation that takes effect first (a renew deciding "unexpired" after a create
        // counted the same lease as expired).
        let now = self.clock.now();
        let idem = request
            .idempotency_key
            .as_ref()
            .map(|k| (request.viewer.clone(), k.as_str().to_owned()));
        let replay = idem
            .as_ref()
            .and_then(|key| state.idempotency.get(key))
            .and_then(|id| state.leases.get(id))
            .filter(|lease| !lease.is_expired_at(now));
        if let Some(lease) = replay {
            if lease.content != request.content {
                return Err(LeaseError::IdempotencyConflict);
            }
            return Ok(lease.clone());
        }
        let active = state.active_count(&request.viewer, now);
        if active >= request.max_leases_per_viewer as usize {
            return Err(LeaseError::LimitReached {
                active: u32::try_from(active).unwrap_or(u32::MAX),
                max: request.max_leases_per_viewer,
            });
        }
        let lease = Lease {
            id: LeaseId::generate()?,
            viewer: request.viewer,
            content: request.content,
            created_at: now,
            expires_at: now + request.ttl,
            renewals: 0,
        };
        state
            .by_viewer
            .entry(lease.viewer.clone())
            .or_default()
            .insert(lease.id.clone());
        if let Some(key) = idem {
            state.idempotency.insert(key, lease.id.clone());
        }
        state.leases.insert(lease.id.clone(), lease.clone());
        Ok(lease)
    }

    async fn renew(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        validate_ttl(ttl)?;
        let mut state = self.state();
        let now = self.clock.now();
        let lease = state.owned_mut(lease_id, viewer)?;
        if lease.is_expired_at(now) {
            return Err(LeaseError::Expired);
        }
        lease.expires_at = lease.expires_at.max(now + ttl);
        lease.renewals += 1;
        Ok(lease.clone())
    }

    async fn check(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        content: &ContentId,
    ) -> Result<Lease, LeaseError> {
        let mut state = self.state();
        let now = self.clock.now();
        let lease = state.owned_mut(lease_id, viewer)?;
        if lease.is_expired_at(now) {
            return Err(LeaseError::Expired);
        }
        if &lease.content != content {
            return Err(LeaseError::WrongContent);
        }
        Ok(lease.clone())
    }

    async fn release(&self, lease_id: &LeaseId, viewer: &ViewerId) -> Result<(), LeaseError> {
        let mut state = self.state();
        if state.owned_mut(lease_id, viewer).is_ok() {
            state.remove(lease_id);
        }
        Ok(())
    }

    async fn purge_expired(&self) -> Result<u64, LeaseError> {
        let mut purged = 0u64;
        loop {
            let mut state = self.state();
            let now = self.clock.now();
            let expired: Vec<LeaseId> = state
                .leases
                .values()
                .filter(|l| l.is_expired_at(now))
                .take(PURGE_BATCH)
                .map(|l| l.id.clone())
                .collect();
            for id in &expired {
                state.remove(id);
            }
            purged += expired.len() as u64;
            if expired.len() < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    async fn ping(&self) -> Result<(), LeaseError> {
        Ok(())
    }
}

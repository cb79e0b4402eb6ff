//! The renew/create race found by review, replayed deterministically: a renew sent just
//! before a lease expires is held up (a row lock, the write lock, a descheduled thread)
//! until after a create of the same viewer was sent past the expiry.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use blindcast_keys_core::lease::{Lease, LeaseError, LeaseId, LeaseStore};

use crate::{request, viewer};

/// What the replay observed.
#[derive(Debug)]
pub struct RaceOutcome {
    /// The delayed renew's answer.
    pub renew: Result<Lease, LeaseError>,
    /// The create's answer.
    pub create: Result<Lease, LeaseError>,
    /// How many of the two leases checked out afterwards.
    pub usable_after: usize,
}

/// Replays the race with a limit of 1 and a lease of `ttl`, where `hold(lease)` delays
/// the store's next operation on the lease until `release(guard)` runs:
/// create L1; hold; renew(L1) at `expiry - ttl/3`; create (other content) at
/// `expiry + ttl/10`; release the hold at `expiry + ttl*2/5`. Panics if both the renew
/// and the create succeeded or if more than one lease is usable afterwards.
pub async fn renew_delayed_past_expiry_keeps_the_limit<G>(
    store: Arc<dyn LeaseStore>,
    ttl: Duration,
    hold: impl AsyncFnOnce(&LeaseId) -> G,
    release: impl AsyncFnOnce(G),
) -> RaceOutcome {
    let first = store
        .create(request("racer", "movie-1", ttl, 1))
        .await
        .expect("first lease");
    let expiry = first.expires_at;
    let guard = hold(&first.id).await;
    sleep_until(expiry - ttl / 3).await;
    let renew = {
        let (store, id) = (store.clone(), first.id.clone());
        tokio::spawn(async move { store.renew(&id, &viewer("racer"), ttl).await })
    };
    sleep_until(expiry + ttl / 10).await;
    let create = {
        let store = store.clone();
        tokio::spawn(async move { store.create(request("racer", "movie-2", ttl, 1)).await })
    };
    sleep_until(expiry + ttl * 2 / 5).await;
    release(guard).await;
    let renew = renew.await.expect("renew task");
    let create = create.await.expect("create task");
    let mut usable_after = 0;
    for lease in [Some(&first), create.as_ref().ok()].into_iter().flatten() {
        if store
            .check(&lease.id, &viewer("racer"), &lease.content)
            .await
            .is_ok()
        {
            usable_after += 1;
        }
    }
    let outcome = RaceOutcome {
        renew,
        create,
        usable_after,
    };
    assert!(
        !(outcome.renew.is_ok() && outcome.create.is_ok()),
        "both the delayed renew and the create succeeded with a limit of 1: {outcome:?}"
    );
    assert!(
        outcome.usable_after <= 1,
        "{} usable leases with a limit of 1: {outcome:?}",
        outcome.usable_after
    );
    // Something must have succeeded, or the replay tested nothing.
    assert!(
        outcome.renew.is_ok() || outcome.create.is_ok(),
        "neither the renew nor the create succeeded: {outcome:?}"
    );
    outcome
}

impl RaceOutcome {
    /// Asserts that the renew won: it read a time before expiry, and the create, ordered
    /// after it, found the renewed lease holding the only slot.
    pub fn assert_renew_won(&self) {
        assert!(self.renew.is_ok(), "{self:?}");
        assert!(
            matches!(
                self.create,
                Err(LeaseError::LimitReached { active: 1, max: 1 })
            ),
            "{self:?}"
        );
        assert_eq!(self.usable_after, 1, "{self:?}");
    }

    /// Asserts that the create won: the renew, ordered after it, found the lease expired.
    pub fn assert_create_won(&self) {
        assert!(matches!(self.renew, Err(LeaseError::Expired)), "{self:?}");
        assert!(self.create.is_ok(), "{self:?}");
        assert_eq!(self.usable_after, 1, "{self:?}");
    }
}

async fn sleep_until(t: SystemTime) {
    if let Ok(d) = t.duration_since(SystemTime::now()) {
        tokio::time::sleep(d).await;
    }
}

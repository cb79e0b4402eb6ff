//! The lease-store conformance suite: one set of checks that every [`LeaseStore`] runs
//! unchanged, so the memory, SQLite and PostgreSQL stores cannot drift apart.
//!
//! A backend implements [`Harness`] and invokes [`lease_store_conformance!`] in one of its
//! integration tests; the macro expands to one `#[tokio::test]` per check. One of them,
//! `random_histories_keep_the_contract`, runs randomized concurrent histories against
//! several clients of the store (with the faults the harness injects) and checks them
//! against the trait's contract: see [`history`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! # use blindcast_keys_core::lease::{LeaseStore, ManualClock, MemoryLeaseStore};
//! # use blindcast_lease_testkit::{Harness, lease_store_conformance};
//! #[derive(Debug)]
//! struct Memory(Arc<MemoryLeaseStore>, ManualClock);
//!
//! #[async_trait::async_trait]
//! impl Harness for Memory {
//!     fn store(&self) -> Arc<dyn LeaseStore> { self.0.clone() }
//!     async fn sibling(&self) -> Arc<dyn LeaseStore> { self.0.clone() }
//!     async fn advance(&self, by: Duration) { self.1.advance(by) }
//!     async fn history_stores(&self, _clients: usize) -> Vec<Arc<dyn LeaseStore>> {
//!         // One fresh store on the real clock; its clones share its state.
//!         vec![Arc::new(MemoryLeaseStore::new())]
//!     }
//! }
//!
//! async fn harness() -> Memory {
//!     let clock = ManualClock::default();
//!     Memory(Arc::new(MemoryLeaseStore::with_clock(Arc::new(clock.clone()))), clock)
//! }
//! lease_store_conformance!(harness());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(clippy::unwrap_used, clippy::panic)] // a test kit reports failures by panicking

mod checks;
mod down;
mod env;
pub mod history;
mod race;

pub use checks::*;
pub use down::DownLeaseStore;
pub use env::{DATABASE_URL_VARS, postgres_url, unique_name};
pub use race::{RaceOutcome, renew_delayed_past_expiry_keeps_the_limit};

use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::lease::LeaseStore;

/// What a backend gives the suite: a fresh, empty store per check, and a way to move time.
#[async_trait::async_trait]
pub trait Harness: Send + Sync + std::fmt::Debug + 'static {
    /// The store under test. Every harness starts empty.
    fn store(&self) -> Arc<dyn LeaseStore>;

    /// Another store over the same state, built independently (its own connection or
    /// pool), so races between separate clients are exercised. Stores that cannot be
    /// opened twice return the same store.
    async fn sibling(&self) -> Arc<dyn LeaseStore>;

    /// Moves the store's clock forward by at least `by`: a manual clock where the backend
    /// allows it, otherwise a sleep.
    async fn advance(&self, by: Duration);

    /// `clients` independently built clients (own connections or pools where the backend
    /// has them) of one fresh, empty state whose leases expire on this machine's real
    /// clock, for the randomized history check ([`history`]). Called once per history.
    async fn history_stores(&self, clients: usize) -> Vec<Arc<dyn LeaseStore>>;

    /// Faults to inject while a history runs on the stores last returned by
    /// [`history_stores`](Self::history_stores), until `stop` fires: held locks, killed
    /// connections, whatever the backend can suffer. The default injects none.
    async fn inject_faults(&self, stop: history::Stop) -> history::Faults {
        drop(stop);
        history::Faults::default()
    }

    /// How long after a release completed on one client of
    /// [`history_stores`](Self::history_stores) another client may still answer a check
    /// with the lease: the propagation delay of a per-instance cache. Default zero.
    fn release_window(&self) -> Duration {
        Duration::ZERO
    }

    /// The least the injected faults must add up to over `histories` histories, so a
    /// fault injector that silently stopped working fails the check. Default: nothing.
    fn min_faults(&self, histories: usize) -> history::Faults {
        let _ = histories;
        history::Faults::default()
    }
}

/// Expands to one `#[tokio::test]` per conformance check. `$make` is an expression of
/// type `impl Future<Output = impl Harness>`, evaluated once per test.
#[macro_export]
macro_rules! lease_store_conformance {
    ($make:expr) => {
        $crate::lease_store_conformance!(@tests $make;
            create_and_check,
            limit_is_enforced_and_expiry_frees_slots,
            limits_are_per_viewer,
            renew_extends_and_never_shortens,
            renew_never_revives_expired,
            other_viewers_cannot_see_or_touch_leases,
            check_rejects_wrong_content,
            release_frees_slot_and_is_idempotent,
            unknown_ids_are_not_found,
            purge_removes_only_expired,
            idempotent_create_replays_same_lease,
            invalid_requests_change_nothing,
            race_holds_limit_exactly,
            race_across_sibling_stores_holds_limit,
            random_histories_keep_the_contract,
        );
    };
    (@tests $make:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let harness = $make.await;
                $crate::$check(&harness).await;
            }
        )+
    };
}

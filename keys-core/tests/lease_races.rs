//! The review's renew/create race on the memory store, and a backwards clock step.
//!
//! The memory store cannot be locked from outside; what delayed a renew there was the
//! thread being descheduled between reading the clock and taking the store's lock. A
//! clock that stalls on the renew's read stands in for that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use blindcast_keys_core::lease::{Clock, ManualClock, MemoryLeaseStore};
use blindcast_lease_testkit::renew_delayed_past_expiry_keeps_the_limit;

/// The system clock, except that one read, once armed, returns the time at its start
/// only after `released` fires: a thread descheduled right after reading the clock.
#[derive(Debug, Default)]
struct StallingClock {
    armed: AtomicBool,
    release: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl Clock for StallingClock {
    fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        if self.armed.swap(false, Ordering::SeqCst) {
            let gate = self.release.lock().expect("gate").take();
            if let Some(gate) = gate {
                let _ = gate.recv();
            }
        }
        now
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renew_descheduled_after_reading_the_clock_cannot_outrun_a_create() {
    let clock = Arc::new(StallingClock::default());
    let store = Arc::new(MemoryLeaseStore::with_clock(clock.clone()));
    let outcome = renew_delayed_past_expiry_keeps_the_limit(
        store,
        Duration::from_secs(3),
        async |_| {
            let (tx, rx) = std::sync::mpsc::channel();
            *clock.release.lock().expect("gate") = Some(rx);
            clock.armed.store(true, Ordering::SeqCst);
            tx
        },
        async |tx: std::sync::mpsc::Sender<()>| {
            let _ = tx.send(());
        },
    )
    .await;
    eprintln!("stalled-clock race: {outcome:?}");
    // The clock is read under the store's lock, so the create waits for the renew, which
    // read a time before expiry.
    outcome.assert_renew_won();
}

#[tokio::test]
async fn backwards_clock_step_never_revives() {
    let clock = ManualClock::default();
    let store = MemoryLeaseStore::with_clock(Arc::new(clock.clone()));
    blindcast_lease_testkit::backwards_clock_step_never_revives(&store, &clock).await;
}

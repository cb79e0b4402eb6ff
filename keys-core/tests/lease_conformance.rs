//! The shared lease-store conformance suite, run against [`MemoryLeaseStore`].

use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::lease::{LeaseStore, ManualClock, MemoryLeaseStore};
use blindcast_lease_testkit::{Harness, lease_store_conformance};

#[derive(Debug)]
struct Memory {
    store: Arc<MemoryLeaseStore>,
    clock: ManualClock,
}

#[async_trait::async_trait]
impl Harness for Memory {
    fn store(&self) -> Arc<dyn LeaseStore> {
        self.store.clone()
    }

    async fn sibling(&self) -> Arc<dyn LeaseStore> {
        // Clones share state: the closest a process-local store has to a second client.
        Arc::new((*self.store).clone())
    }

    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    async fn history_stores(&self, clients: usize) -> Vec<Arc<dyn LeaseStore>> {
        // A fresh store on the system clock; clones share its state.
        let store = MemoryLeaseStore::new();
        (0..clients)
            .map(|_| Arc::new(store.clone()) as Arc<dyn LeaseStore>)
            .collect()
    }
}

async fn memory() -> Memory {
    let clock = ManualClock::default();
    let store = Arc::new(MemoryLeaseStore::with_clock(Arc::new(clock.clone())));
    Memory { store, clock }
}

lease_store_conformance!(memory());

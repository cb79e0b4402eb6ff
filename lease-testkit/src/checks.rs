//! The conformance checks. Each takes a fresh [`Harness`] and panics on a violation.

use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{
    CreateLease, IdempotencyKey, Lease, LeaseError, LeaseId, LeaseStore, ManualClock, ViewerId,
};

use crate::Harness;

/// A TTL the checks let run out.
pub const SHORT_TTL: Duration = Duration::from_secs(2);
/// A TTL no check outlives.
pub const LONG_TTL: Duration = Duration::from_secs(600);
/// Concurrent creates per race round.
pub const RACE_CLIENTS: usize = 100;
/// Rounds per race check.
pub const RACE_ROUNDS: usize = 20;

/// A viewer id for tests.
pub fn viewer(name: &str) -> ViewerId {
    ViewerId::new(name).unwrap()
}

/// A content id for tests.
pub fn content(name: &str) -> ContentId {
    ContentId::new(name).unwrap()
}

/// A create request for tests.
pub fn request(v: &str, c: &str, ttl: Duration, max_leases_per_viewer: u32) -> CreateLease {
    CreateLease::new(viewer(v), content(c), ttl, max_leases_per_viewer)
}

async fn create(
    store: &dyn LeaseStore,
    v: &str,
    c: &str,
    ttl: Duration,
    max_leases_per_viewer: u32,
) -> Lease {
    store
        .create(request(v, c, ttl, max_leases_per_viewer))
        .await
        .unwrap_or_else(|e| panic!("create({v}, {c}) failed: {e:?}"))
}

/// Time for a short lease to run out, with room for coarse clocks.
fn past_short() -> Duration {
    SHORT_TTL + Duration::from_millis(200)
}

/// A created lease carries what was asked, a well-formed id, and checks out.
pub async fn create_and_check(h: &impl Harness) {
    let store = h.store();
    let lease = create(&*store, "alice", "movie-1", LONG_TTL, 3).await;
    assert_eq!(lease.viewer, viewer("alice"));
    assert_eq!(lease.content, content("movie-1"));
    assert_eq!(lease.renewals, 0);
    assert_eq!(lease.id.as_str().parse::<LeaseId>().unwrap(), lease.id);
    // Against the wall clock, not the store's own created_at: a fresh harness's clock
    // starts at the real time (manual clocks start at now, PostgreSQL's is the server's),
    // so the lease ends LONG_TTL from now, less what setting up took (under a minute).
    let ttl = (lease
        .expires_at
        .duration_since(std::time::SystemTime::now()))
    .unwrap();
    assert!(
        ttl <= LONG_TTL + Duration::from_secs(5) && ttl + Duration::from_secs(60) >= LONG_TTL,
        "the lease ends {ttl:?} from now; created with a TTL of {LONG_TTL:?}"
    );
    let checked = store
        .check(&lease.id, &viewer("alice"), &content("movie-1"))
        .await
        .unwrap();
    assert_eq!(checked.id, lease.id);
    assert_eq!(checked.expires_at, lease.expires_at);
    let other = create(&*store, "alice", "movie-1", LONG_TTL, 3).await;
    assert_ne!(other.id, lease.id, "lease ids must be unique");
}

/// `max_leases_per_viewer` is enforced with the exact counts, and expiry frees slots.
pub async fn limit_is_enforced_and_expiry_frees_slots(h: &impl Harness) {
    let store = h.store();
    create(&*store, "bob", "a", SHORT_TTL, 2).await;
    create(&*store, "bob", "b", SHORT_TTL, 2).await;
    match store.create(request("bob", "c", SHORT_TTL, 2)).await {
        Err(LeaseError::LimitReached { active: 2, max: 2 }) => {}
        other => panic!("third lease over a limit of 2: {other:?}"),
    }
    // A smaller limit applies at once to what is already held.
    match store.create(request("bob", "c", SHORT_TTL, 1)).await {
        Err(LeaseError::LimitReached { active: 2, max: 1 }) => {}
        other => panic!("lease over a limit of 1: {other:?}"),
    }
    h.advance(past_short()).await;
    create(&*store, "bob", "c", LONG_TTL, 2).await;
    create(&*store, "bob", "d", LONG_TTL, 2).await;
}

/// One viewer's leases never count against another's limit.
pub async fn limits_are_per_viewer(h: &impl Harness) {
    let store = h.store();
    create(&*store, "carol", "a", LONG_TTL, 1).await;
    create(&*store, "dave", "a", LONG_TTL, 1).await;
    assert!(matches!(
        store.create(request("carol", "b", LONG_TTL, 1)).await,
        Err(LeaseError::LimitReached { active: 1, max: 1 })
    ));
}

/// Renewal extends to `now + ttl`, counts renewals, and never shortens a lease.
pub async fn renew_extends_and_never_shortens(h: &impl Harness) {
    let store = h.store();
    let v = viewer("erin");
    let lease = create(&*store, "erin", "m", SHORT_TTL, 3).await;
    h.advance(Duration::from_secs(1)).await;
    let renewed = store.renew(&lease.id, &v, LONG_TTL).await.unwrap();
    assert!(renewed.expires_at > lease.expires_at, "renew must extend");
    assert_eq!(renewed.renewals, 1);
    let shorter = store.renew(&lease.id, &v, SHORT_TTL).await.unwrap();
    assert_eq!(
        shorter.expires_at, renewed.expires_at,
        "renew must never shorten"
    );
    assert_eq!(shorter.renewals, 2);
    // The renewed lease outlives its original TTL.
    h.advance(past_short()).await;
    store.check(&lease.id, &v, &content("m")).await.unwrap();
}

/// An expired lease is never brought back, and cannot be used.
pub async fn renew_never_revives_expired(h: &impl Harness) {
    let store = h.store();
    let v = viewer("frank");
    let lease = create(&*store, "frank", "m", SHORT_TTL, 1).await;
    h.advance(past_short()).await;
    assert!(matches!(
        store.renew(&lease.id, &v, LONG_TTL).await,
        Err(LeaseError::Expired)
    ));
    assert!(matches!(
        store.check(&lease.id, &v, &content("m")).await,
        Err(LeaseError::Expired)
    ));
    // The failed renewal did not take the slot back either.
    create(&*store, "frank", "m", LONG_TTL, 1).await;
}

/// Another viewer's lease is `NotFound` for renew and check, and release leaves it alone.
pub async fn other_viewers_cannot_see_or_touch_leases(h: &impl Harness) {
    let store = h.store();
    let lease = create(&*store, "grace", "m", LONG_TTL, 1).await;
    let mallory = viewer("mallory");
    assert!(matches!(
        store.renew(&lease.id, &mallory, LONG_TTL).await,
        Err(LeaseError::NotFound)
    ));
    assert!(matches!(
        store.check(&lease.id, &mallory, &content("m")).await,
        Err(LeaseError::NotFound)
    ));
    store.release(&lease.id, &mallory).await.unwrap();
    let still = store
        .check(&lease.id, &viewer("grace"), &content("m"))
        .await
        .unwrap();
    assert_eq!(still.renewals, 0, "a foreign renew must not have counted");
}

/// A lease covers only its own content.
pub async fn check_rejects_wrong_content(h: &impl Harness) {
    let store = h.store();
    let lease = create(&*store, "heidi", "m1", LONG_TTL, 1).await;
    assert!(matches!(
        store
            .check(&lease.id, &viewer("heidi"), &content("m2"))
            .await,
        Err(LeaseError::WrongContent)
    ));
}

/// Release frees the slot at once; releasing again (or an unknown id) succeeds.
pub async fn release_frees_slot_and_is_idempotent(h: &impl Harness) {
    let store = h.store();
    let v = viewer("ivan");
    let lease = create(&*store, "ivan", "m", LONG_TTL, 1).await;
    store.release(&lease.id, &v).await.unwrap();
    store.release(&lease.id, &v).await.unwrap();
    store
        .release(&LeaseId::generate().unwrap(), &v)
        .await
        .unwrap();
    assert!(matches!(
        store.check(&lease.id, &v, &content("m")).await,
        Err(LeaseError::NotFound)
    ));
    assert!(matches!(
        store.renew(&lease.id, &v, LONG_TTL).await,
        Err(LeaseError::NotFound)
    ));
    create(&*store, "ivan", "m", LONG_TTL, 1).await;
}

/// Ids that were never issued are `NotFound`.
pub async fn unknown_ids_are_not_found(h: &impl Harness) {
    let store = h.store();
    let id = LeaseId::generate().unwrap();
    let v = viewer("judy");
    assert!(matches!(
        store.check(&id, &v, &content("m")).await,
        Err(LeaseError::NotFound)
    ));
    assert!(matches!(
        store.renew(&id, &v, LONG_TTL).await,
        Err(LeaseError::NotFound)
    ));
}

/// Purging deletes expired leases only, and answers stay the same before and after.
pub async fn purge_removes_only_expired(h: &impl Harness) {
    let store = h.store();
    let v = viewer("ken");
    let mut short = Vec::new();
    for i in 0..5 {
        short.push(create(&*store, "ken", &format!("s{i}"), SHORT_TTL, 100).await);
    }
    let long = create(&*store, "ken", "l", LONG_TTL, 100).await;
    h.advance(past_short()).await;
    // Before any purge, expiry is already in force.
    assert!(matches!(
        store.check(&short[0].id, &v, &content("s0")).await,
        Err(LeaseError::Expired)
    ));
    store.ping().await.unwrap();
    let purged = store.purge_expired().await.unwrap();
    assert_eq!(purged, 5, "exactly the five expired leases are purged");
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    store.check(&long.id, &v, &content("l")).await.unwrap();
    assert!(matches!(
        store.check(&short[0].id, &v, &content("s0")).await,
        Err(LeaseError::NotFound)
    ));
}

/// A replayed create with the same idempotency key returns the same lease without taking
/// another slot; the key is scoped to the viewer; reusing it for other content conflicts.
pub async fn idempotent_create_replays_same_lease(h: &impl Harness) {
    let store = h.store();
    let key = IdempotencyKey::new("play-42").unwrap();
    let req = || request("leo", "m", SHORT_TTL, 1).with_idempotency_key(key.clone());
    let first = store.create(req()).await.unwrap();
    let replay = store.create(req()).await.unwrap();
    assert_eq!(first, replay, "a replay returns the same lease");
    // Same key, other viewer: an independent lease.
    let other = store
        .create(request("mia", "m", SHORT_TTL, 1).with_idempotency_key(key.clone()))
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert!(matches!(
        store
            .create(request("leo", "other", SHORT_TTL, 5).with_idempotency_key(key.clone()))
            .await,
        Err(LeaseError::IdempotencyConflict)
    ));
    // Once the lease expired, the key starts a new lease.
    h.advance(past_short()).await;
    let fresh = store.create(req()).await.unwrap();
    assert_ne!(fresh.id, first.id);
}

/// Invalid TTLs and limits are typed errors that change nothing.
pub async fn invalid_requests_change_nothing(h: &impl Harness) {
    let store = h.store();
    for bad in [
        request("nina", "m", Duration::ZERO, 1),
        request("nina", "m", Duration::from_secs(2 * 24 * 3600), 1),
        request("nina", "m", LONG_TTL, 0),
    ] {
        assert!(matches!(
            store.create(bad).await,
            Err(LeaseError::InvalidRequest(_))
        ));
    }
    let lease = create(&*store, "nina", "m", LONG_TTL, 1).await;
    assert!(matches!(
        store
            .renew(&lease.id, &viewer("nina"), Duration::ZERO)
            .await,
        Err(LeaseError::InvalidRequest(_))
    ));
    let same = store
        .check(&lease.id, &viewer("nina"), &content("m"))
        .await
        .unwrap();
    assert_eq!(same.expires_at, lease.expires_at);
    assert_eq!(same.renewals, 0);
}

/// Runs `clients` simultaneous creates for one viewer with `max_leases_per_viewer = 2`
/// over the given stores (round-robin) and returns how many succeeded. Any error other
/// than `LimitReached` fails the check.
pub async fn race_round(
    stores: &[Arc<dyn LeaseStore>],
    viewer_name: &str,
    clients: usize,
) -> usize {
    let barrier = Arc::new(tokio::sync::Barrier::new(clients));
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let barrier = barrier.clone();
            let req = request(viewer_name, "race", LONG_TTL, 2);
            tokio::spawn(async move {
                barrier.wait().await;
                store.create(req).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(LeaseError::LimitReached { max: 2, .. }) => {}
            Err(e) => {
                panic!("a racing create failed with something other than LimitReached: {e:?}")
            }
        }
    }
    created
}

/// 100 simultaneous creates with a limit of 2 leave exactly 2 leases, round after round.
pub async fn race_holds_limit_exactly(h: &impl Harness) {
    let stores = [h.store()];
    for round in 0..RACE_ROUNDS {
        let created = race_round(&stores, &format!("racer-{round}"), RACE_CLIENTS).await;
        assert_eq!(
            created, 2,
            "round {round}: {created} leases created with a limit of 2"
        );
    }
}

/// The same race, split across independently built stores over the same state.
pub async fn race_across_sibling_stores_holds_limit(h: &impl Harness) {
    let stores = [h.store(), h.sibling().await, h.sibling().await];
    for round in 0..RACE_ROUNDS {
        let created = race_round(&stores, &format!("sibling-racer-{round}"), RACE_CLIENTS).await;
        assert_eq!(
            created, 2,
            "round {round}: {created} leases created with a limit of 2"
        );
    }
}

/// Histories per store in [`random_histories_keep_the_contract`].
pub const HISTORIES: usize = 8;

/// Random concurrent histories over [`Harness::history_stores`], with the harness's
/// faults, hold the whole contract ([`crate::history`]); prints what they exercised.
pub async fn random_histories_keep_the_contract(h: &impl Harness) {
    let config = crate::history::HistoryConfig::default();
    let seed = config.seed;
    let totals = crate::history::run_and_check_histories(h, HISTORIES, config).await;
    eprintln!(
        "history check (seed {seed}): 0 violations in {} histories x {} operations \
         ({} leases, at the limit {} times, {} indeterminate), {} injected lock holds, \
         {} killed connections",
        totals.histories,
        totals.operations / totals.histories.max(1),
        totals.leases,
        totals.at_limit,
        totals.indeterminate,
        totals.lock_holds,
        totals.killed_connections,
    );
    assert_eq!(totals.histories, HISTORIES);
    // A history that never pressed on the limit proves nothing about it.
    assert!(
        totals.at_limit >= HISTORIES,
        "the histories reached the limit only {} times",
        totals.at_limit
    );
    assert!(
        totals.leases >= 10 * HISTORIES,
        "only {} leases",
        totals.leases
    );
    let min = h.min_faults(HISTORIES);
    assert!(
        totals.lock_holds >= min.lock_holds && totals.killed_connections >= min.killed_connections,
        "the fault injector did less than it must: {totals:?}, at least {min:?}"
    );
}

/// After the store's clock steps back past a lease's expiry, that lease (whose slot
/// another lease took) stays expired, the other lease keeps its expiry, and new leases
/// are stamped no earlier than before the step. For stores on a [`ManualClock`] that they
/// read through [`blindcast_keys_core::lease::MonotonicClock`].
pub async fn backwards_clock_step_never_revives(store: &dyn LeaseStore, clock: &ManualClock) {
    let ttl = Duration::from_secs(10);
    let old = create(store, "stepper", "a", ttl, 1).await;
    clock.advance(ttl + Duration::from_secs(1));
    let new = create(store, "stepper", "b", ttl, 1).await;
    // Back to 4 s before the old lease's expiry: without a monotonic store clock it would
    // be usable again beside the new one.
    clock.step_back(Duration::from_secs(5));
    assert!(
        matches!(
            store
                .check(&old.id, &viewer("stepper"), &content("a"))
                .await,
            Err(LeaseError::Expired)
        ),
        "a backwards clock step revived an expired lease"
    );
    assert!(matches!(
        store.renew(&old.id, &viewer("stepper"), ttl).await,
        Err(LeaseError::Expired)
    ));
    store
        .check(&new.id, &viewer("stepper"), &content("b"))
        .await
        .expect("the new lease is still usable");
    match store.create(request("stepper", "c", ttl, 1)).await {
        Err(LeaseError::LimitReached { active: 1, max: 1 }) => {}
        other => panic!("the limit after a clock step: {other:?}"),
    }
    let other = create(store, "stepper-2", "c", ttl, 1).await;
    assert!(
        other.created_at >= new.created_at,
        "a lease created after the step is stamped before one created before it"
    );
}

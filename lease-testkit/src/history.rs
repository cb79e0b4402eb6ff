//! The randomized history check: many tasks run random `create` / `renew` / `check` /
//! `release` operations against several clients of one store, with tiny TTLs and small
//! limits, while the backend may inject faults; every operation is recorded with the
//! wall-clock times of its invocation and completion and its result, and
//! [`check_history`] verifies the record against the [`LeaseStore`] contract.
//!
//! What is checked (a violation names the rule, the instant and the operations):
//! - **limit**: at no instant were more than `max_leases_per_viewer` leases of one
//!   viewer certainly usable. A lease is certainly usable from the completion of the
//!   create (or renew) that acknowledged it until the expiry that operation returned, cut
//!   at the first invocation of a release.
//! - **vanished**: a check or renew of a lease that was certainly usable for the whole
//!   operation (invoked after an acknowledgement, completed before the expiry already
//!   acknowledged, before any release was invoked) did not answer `NotFound`/`Expired`.
//! - **revived**: no check or renew succeeded that was invoked after the lease had
//!   certainly ended: after the latest expiry any create or renew invoked before could
//!   have given it (an indeterminate renew counts with its completion time plus its
//!   TTL), or after a release of it had completed: on the client that released it at
//!   once, on any other client once the store's release window
//!   ([`HistoryConfig::release_window`], the propagation delay of a per-instance cache)
//!   has also passed.
//! - **idempotency**: a create with an idempotency key returned the viewer's lease with
//!   that key whenever that lease was certainly usable throughout the create, and every
//!   lease returned covers the requested content.
//!
//! Times: the checker compares the test's wall clock with the expiry times the store
//! returns, so the store's clock must be this machine's clock (memory and SQLite on
//! `SystemClock`, a PostgreSQL server on this host) without a test offset. `tolerance`
//! absorbs the stores' timestamp rounding (milliseconds in SQLite).
//!
//! Third-party stores get this check through [`lease_store_conformance!`](crate::lease_store_conformance)
//! by implementing [`Harness::history_stores`](crate::Harness::history_stores) (and
//! optionally [`Harness::inject_faults`](crate::Harness::inject_faults)); or call
//! [`run_history`] and [`check_history`] directly.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{
    CreateLease, IdempotencyKey, Lease, LeaseError, LeaseId, LeaseStore, ViewerId,
};
use tokio::sync::watch;

/// The viewers a history uses (fault injectors may lock their rows or advisory locks).
pub const VIEWERS: [&str; 3] = ["hv-0", "hv-1", "hv-2"];
/// The content ids a history uses.
pub const CONTENTS: [&str; 2] = ["hc-0", "hc-1"];
/// The idempotency keys a history uses.
pub const IDEMPOTENCY_KEYS: [&str; 2] = ["hk-0", "hk-1"];

/// How a history is generated.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// Concurrent tasks issuing operations.
    pub tasks: usize,
    /// Operations per task.
    pub ops_per_task: usize,
    /// How many unexpired leases a viewer may hold (the `max_leases_per_viewer` of every
    /// create).
    pub max_leases_per_viewer: u32,
    /// Shortest TTL of a create or renew.
    pub min_ttl: Duration,
    /// Longest TTL of a create or renew.
    pub max_ttl: Duration,
    /// Longest pause between two operations of a task (uniform from zero).
    pub max_pause: Duration,
    /// Allowed disagreement between the test's clock and the store's timestamps.
    pub tolerance: Duration,
    /// How long after a release completed on one client another client may still use the
    /// lease (a per-instance cache's notification delay); zero for stores without one.
    /// [`run_and_check_histories`] raises it to the harness's
    /// [`Harness::release_window`](crate::Harness::release_window).
    pub release_window: Duration,
    /// Seed of the operation mix; `BLINDCAST_HISTORY_SEED` overrides it.
    pub seed: u64,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            tasks: 12,
            ops_per_task: 150,
            max_leases_per_viewer: 1,
            min_ttl: Duration::from_millis(20),
            max_ttl: Duration::from_millis(200),
            max_pause: Duration::from_millis(15),
            tolerance: Duration::from_millis(2),
            release_window: Duration::ZERO,
            seed: seed_from_env().unwrap_or_else(clock_seed),
        }
    }
}

fn seed_from_env() -> Option<u64> {
    std::env::var("BLINDCAST_HISTORY_SEED").ok()?.parse().ok()
}

fn clock_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// xorshift64*: small, seedable, good enough to mix operations.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn duration(&mut self, min: Duration, max: Duration) -> Duration {
        let span = max.saturating_sub(min).as_micros() as u64;
        min + Duration::from_micros(if span == 0 { 0 } else { self.next() % span })
    }
}

/// One operation as invoked.
#[derive(Debug, Clone)]
pub enum Op {
    /// `create(viewer, content, ttl, max_leases_per_viewer, key)`.
    Create {
        /// Viewer.
        viewer: ViewerId,
        /// Content.
        content: ContentId,
        /// TTL.
        ttl: Duration,
        /// Idempotency key.
        key: Option<String>,
    },
    /// `renew(lease, viewer, ttl)`.
    Renew {
        /// Lease.
        lease: LeaseId,
        /// Viewer.
        viewer: ViewerId,
        /// TTL.
        ttl: Duration,
    },
    /// `check(lease, viewer, content)`.
    Check {
        /// Lease.
        lease: LeaseId,
        /// Viewer.
        viewer: ViewerId,
        /// Content.
        content: ContentId,
    },
    /// `release(lease, viewer)`.
    Release {
        /// Lease.
        lease: LeaseId,
        /// Viewer.
        viewer: ViewerId,
    },
}

/// What an operation answered.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A lease (create, renew, check).
    Lease(Lease),
    /// Release succeeded.
    Released,
    /// A definite refusal: the store decided and changed nothing.
    Refused(String),
    /// The store failed (unavailable, backend error): the operation may or may not have
    /// taken effect.
    Indeterminate(String),
}

/// One recorded operation.
#[derive(Debug, Clone)]
pub struct Event {
    /// Index in the history.
    pub index: usize,
    /// Which store client ran it.
    pub client: usize,
    /// What was asked.
    pub op: Op,
    /// Wall clock just before the call.
    pub invoked: SystemTime,
    /// Wall clock just after it returned.
    pub completed: SystemTime,
    /// What it answered.
    pub outcome: Outcome,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} client {} [{} .. {}] {:?} -> {:?}",
            self.index,
            self.client,
            ms(self.invoked),
            ms(self.completed),
            self.op,
            self.outcome
        )
    }
}

/// Milliseconds since the epoch, with microseconds, for reports.
fn ms(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", d.as_millis(), d.subsec_micros() % 1000)
}

/// What a fault injector did while a history ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Row or advisory locks (or a database write lock) held for a while.
    pub lock_holds: u64,
    /// Store connections killed mid-operation.
    pub killed_connections: u64,
}

/// Tells a fault injector when the history is over.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// True once the history is over.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Sleeps for `d` or until the history is over; returns true if it is over.
    pub async fn sleep(&mut self, d: Duration) -> bool {
        if self.is_set() {
            return true;
        }
        let _ = tokio::time::timeout(d, self.0.changed()).await;
        self.is_set()
    }
}

/// A recorded history.
#[derive(Debug, Clone)]
pub struct History {
    /// Every operation, in invocation order.
    pub events: Vec<Event>,
    /// The config it ran with (with the seed used).
    pub config: HistoryConfig,
    /// What the fault injector reported.
    pub faults: Faults,
}

impl History {
    /// How many operations were indeterminate (failed inside the store).
    pub fn indeterminate(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Indeterminate(_)))
            .count()
    }
}

/// Runs one history: `config.tasks` tasks spread over `stores` (clients of one state),
/// while `faults` runs until the [`Stop`] it is given fires.
pub async fn run_history<F, Fut>(
    stores: Vec<Arc<dyn LeaseStore>>,
    config: HistoryConfig,
    faults: F,
) -> History
where
    F: FnOnce(Stop) -> Fut,
    Fut: Future<Output = Faults>,
{
    assert!(!stores.is_empty(), "run_history needs at least one store");
    let (stop_tx, stop_rx) = watch::channel(false);
    let known: Arc<Known> = Arc::default();
    let mut tasks = Vec::new();
    for task in 0..config.tasks {
        let client = task % stores.len();
        let store = stores[client].clone();
        let known = known.clone();
        let config = config.clone();
        let mut rng = Rng::new(config.seed ^ (task as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        tasks.push(tokio::spawn(async move {
            let mut events = Vec::with_capacity(config.ops_per_task);
            for _ in 0..config.ops_per_task {
                let op = next_op(&mut rng, &config, &known);
                let invoked = SystemTime::now();
                let outcome = apply(&*store, &op, config.max_leases_per_viewer).await;
                let completed = SystemTime::now();
                if let (
                    Op::Create {
                        viewer, content, ..
                    },
                    Outcome::Lease(lease),
                ) = (&op, &outcome)
                {
                    let mut known = known.lock().unwrap();
                    let leases = known.entry(viewer.clone()).or_default();
                    if !leases.iter().any(|(id, _)| id == &lease.id) {
                        leases.push((lease.id.clone(), content.clone()));
                    }
                }
                events.push(Event {
                    index: 0,
                    client,
                    op,
                    invoked,
                    completed,
                    outcome,
                });
                let pause = rng.duration(Duration::ZERO, config.max_pause);
                tokio::time::sleep(pause).await;
            }
            events
        }));
    }
    let operations = async {
        let mut events = Vec::new();
        for task in tasks {
            events.extend(task.await.expect("a history task panicked"));
        }
        let _ = stop_tx.send(true);
        events
    };
    let (mut events, faults) = tokio::join!(operations, faults(Stop(stop_rx)));
    events.sort_by_key(|e| e.invoked);
    for (i, e) in events.iter_mut().enumerate() {
        e.index = i;
    }
    History {
        events,
        config,
        faults,
    }
}

/// The leases each viewer has been given so far, oldest first.
type Known = Mutex<HashMap<ViewerId, Vec<(LeaseId, ContentId)>>>;

fn next_op(rng: &mut Rng, config: &HistoryConfig, known: &Known) -> Op {
    let viewer = ViewerId::new(VIEWERS[rng.below(VIEWERS.len())]).unwrap();
    let content = ContentId::new(CONTENTS[rng.below(CONTENTS.len())]).unwrap();
    let ttl = rng.duration(config.min_ttl, config.max_ttl);
    // Mostly the viewer's recent leases; sometimes another viewer's (must be NotFound).
    let pick = {
        let known = known.lock().unwrap();
        let owner = if rng.below(10) == 0 {
            ViewerId::new(VIEWERS[rng.below(VIEWERS.len())]).unwrap()
        } else {
            viewer.clone()
        };
        known.get(&owner).and_then(|leases| {
            let recent = leases.len().min(4);
            (recent > 0).then(|| leases[leases.len() - 1 - rng.below(recent)].clone())
        })
    };
    let roll = rng.below(100);
    match (roll, pick) {
        (0..30, _) | (_, None) => Op::Create {
            viewer,
            content,
            ttl,
            key: (rng.below(3) == 0)
                .then(|| IDEMPOTENCY_KEYS[rng.below(IDEMPOTENCY_KEYS.len())].to_owned()),
        },
        (30..55, Some((lease, _))) => Op::Renew { lease, viewer, ttl },
        (55..90, Some((lease, lease_content))) => Op::Check {
            lease,
            viewer,
            // Mostly the lease's own content, sometimes the other one.
            content: if rng.below(5) == 0 {
                content
            } else {
                lease_content
            },
        },
        (_, Some((lease, _))) => Op::Release { lease, viewer },
    }
}

async fn apply(store: &dyn LeaseStore, op: &Op, max_leases_per_viewer: u32) -> Outcome {
    let result = match op {
        Op::Create {
            viewer,
            content,
            ttl,
            key,
        } => {
            let mut request =
                CreateLease::new(viewer.clone(), content.clone(), *ttl, max_leases_per_viewer);
            if let Some(key) = key {
                request = request.with_idempotency_key(IdempotencyKey::new(key.clone()).unwrap());
            }
            store.create(request).await.map(Outcome::Lease)
        }
        Op::Renew { lease, viewer, ttl } => {
            store.renew(lease, viewer, *ttl).await.map(Outcome::Lease)
        }
        Op::Check {
            lease,
            viewer,
            content,
        } => store
            .check(lease, viewer, content)
            .await
            .map(Outcome::Lease),
        Op::Release { lease, viewer } => store
            .release(lease, viewer)
            .await
            .map(|()| Outcome::Released),
    };
    match result {
        Ok(outcome) => outcome,
        Err(e @ (LeaseError::Unavailable(_) | LeaseError::Backend(_))) => {
            Outcome::Indeterminate(format!("{e}"))
        }
        Err(e) => Outcome::Refused(format!("{e:?}")),
    }
}

/// A broken rule, with the operations that show it.
#[derive(Debug, Clone)]
pub struct Violation {
    /// Which rule.
    pub rule: &'static str,
    /// What happened, with times.
    pub detail: String,
    /// The operations involved.
    pub events: Vec<Event>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.rule, self.detail)?;
        for e in &self.events {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// What is known about one lease from the history.
#[derive(Debug, Default)]
struct LeaseFacts<'a> {
    viewer: Option<ViewerId>,
    content: Option<ContentId>,
    /// Operations that acknowledged the lease with an expiry: creates and renews.
    acks: Vec<&'a Event>,
    /// Renews that failed inside the store: their effect is unknown.
    indeterminate_renews: Vec<&'a Event>,
    /// Releases, whatever they answered.
    releases: Vec<&'a Event>,
    /// Checks and renews, whatever they answered.
    uses: Vec<&'a Event>,
}

impl LeaseFacts<'_> {
    fn first_ack(&self) -> Option<SystemTime> {
        self.acks
            .iter()
            .filter(|e| matches!(e.op, Op::Create { .. }))
            .map(|e| e.completed)
            .min()
    }

    /// Releases by the lease's own viewer (another viewer's release changes nothing).
    fn own_releases(&self) -> impl Iterator<Item = &&Event> {
        self.releases.iter().filter(
            |e| matches!(&e.op, Op::Release { viewer, .. } if Some(viewer) == self.viewer.as_ref()),
        )
    }

    /// The first invocation of a release: certainly usable (release-wise) before it.
    fn release_invoked(&self) -> Option<SystemTime> {
        self.own_releases().map(|e| e.invoked).min()
    }

    /// When the lease is certainly gone for a use on `client`: the first completion of a
    /// successful release, on the releasing client at once, elsewhere `window` later.
    fn release_completed(&self, client: usize, window: Duration) -> Option<SystemTime> {
        self.own_releases()
            .filter(|e| matches!(e.outcome, Outcome::Released))
            .map(|e| {
                if e.client == client {
                    e.completed
                } else {
                    e.completed + window
                }
            })
            .min()
    }

    /// The first completion of a successful release on any client.
    fn first_release_completed(&self) -> Option<SystemTime> {
        self.own_releases()
            .filter(|e| matches!(e.outcome, Outcome::Released))
            .map(|e| e.completed)
            .min()
    }

    /// Latest expiry acknowledged by operations completed by `t`.
    fn expiry_known_by(&self, t: SystemTime) -> Option<SystemTime> {
        self.acks
            .iter()
            .filter(|e| e.completed <= t)
            .filter_map(|e| lease_of(e).map(|l| l.expires_at))
            .max()
    }

    /// Latest expiry any create or renew invoked by the time `used` was invoked could
    /// have given, other than `used` itself: a renew's own new expiry says nothing about
    /// whether the lease was still alive when it arrived.
    fn expiry_possible_before(&self, used: &Event) -> Option<SystemTime> {
        let t = used.invoked;
        let acked = self
            .acks
            .iter()
            .filter(|e| e.invoked <= t && e.index != used.index)
            .filter_map(|e| lease_of(e).map(|l| l.expires_at));
        let unknown = self
            .indeterminate_renews
            .iter()
            .filter(|e| e.invoked <= t)
            .filter_map(|e| match e.op {
                Op::Renew { ttl, .. } => Some(e.completed + ttl),
                _ => None,
            });
        acked.chain(unknown).max()
    }
}

fn lease_of(e: &Event) -> Option<&Lease> {
    match &e.outcome {
        Outcome::Lease(l) => Some(l),
        _ => None,
    }
}

fn lease_id_of(op: &Op) -> Option<&LeaseId> {
    match op {
        Op::Renew { lease, .. } | Op::Check { lease, .. } | Op::Release { lease, .. } => {
            Some(lease)
        }
        Op::Create { .. } => None,
    }
}

/// Counts of what a passing history exercised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Operations recorded.
    pub operations: usize,
    /// Distinct leases acknowledged.
    pub leases: usize,
    /// Instants at which a viewer held exactly `limit` certainly usable leases.
    pub at_limit: usize,
    /// Successful uses invoked after a release of the lease had completed on another
    /// client, inside the release window (a cache answering before its notification).
    pub in_window: usize,
}

/// Verifies a history against the [`LeaseStore`] contract; returns the first violation.
///
/// # Errors
/// The first [`Violation`] found, with the operations involved.
pub fn check_history(history: &History) -> Result<HistoryStats, Box<Violation>> {
    let tol = history.config.tolerance;
    let window = history.config.release_window;
    let limit = history.config.max_leases_per_viewer as usize;
    let mut in_window = 0;
    let mut facts: HashMap<LeaseId, LeaseFacts<'_>> = HashMap::new();
    for e in &history.events {
        match (&e.op, &e.outcome) {
            (
                Op::Create {
                    viewer, content, ..
                },
                Outcome::Lease(lease),
            ) => {
                if &lease.content != content || &lease.viewer != viewer {
                    return Err(violation(
                        "idempotency",
                        "a create returned a lease of other content or another viewer",
                        vec![e],
                    ));
                }
                let f = facts.entry(lease.id.clone()).or_default();
                f.viewer = Some(viewer.clone());
                f.content = Some(content.clone());
                f.acks.push(e);
            }
            (op, outcome) => {
                let Some(id) = lease_id_of(op) else { continue };
                let f = facts.entry(id.clone()).or_default();
                match (op, outcome) {
                    (Op::Release { .. }, _) => f.releases.push(e),
                    (Op::Renew { .. }, Outcome::Lease(_)) => {
                        f.acks.push(e);
                        f.uses.push(e);
                    }
                    (Op::Renew { .. }, Outcome::Indeterminate(_)) => {
                        f.indeterminate_renews.push(e);
                    }
                    _ => f.uses.push(e),
                }
            }
        }
    }
    // Facts about ids never created in this history (other viewers' probes) only matter
    // if something succeeded on them.
    for (id, f) in &facts {
        if f.first_ack().is_none() {
            if let Some(e) = f.uses.iter().find(|e| lease_of(e).is_some()) {
                return Err(violation(
                    "revived",
                    &format!("an operation succeeded on lease {id} that no create acknowledged"),
                    vec![e],
                ));
            }
            continue;
        }
        in_window += check_uses(id, f, tol, window)?;
    }
    check_idempotency(history, &facts, tol)?;
    let at_limit = check_limit(&facts, limit, tol)?;
    Ok(HistoryStats {
        operations: history.events.len(),
        leases: facts.values().filter(|f| f.first_ack().is_some()).count(),
        at_limit,
        in_window,
    })
}

fn violation(rule: &'static str, detail: &str, events: Vec<&Event>) -> Box<Violation> {
    Box::new(Violation {
        rule,
        detail: detail.to_owned(),
        events: events.into_iter().cloned().collect(),
    })
}

/// Checks the uses of one lease; returns how many succeeded inside the release window.
fn check_uses<'a>(
    id: &LeaseId,
    f: &LeaseFacts<'a>,
    tol: Duration,
    window: Duration,
) -> Result<usize, Box<Violation>> {
    let mut in_window = 0;
    let owner = f.viewer.as_ref();
    let first_ack = f.first_ack();
    for e in &f.uses {
        let (viewer, content) = match &e.op {
            Op::Check {
                viewer, content, ..
            } => (viewer, Some(content)),
            Op::Renew { viewer, .. } => (viewer, None),
            _ => continue,
        };
        let own = Some(viewer) == owner;
        let right_content = content.is_none_or(|c| Some(c) == f.content.as_ref());
        let context = |e: &'a Event| -> Vec<&'a Event> {
            let mut events = vec![e];
            events.extend(f.acks.iter().copied().filter(|a| a.index != e.index));
            events.extend(f.releases.iter().copied());
            events
        };
        match &e.outcome {
            Outcome::Lease(lease) => {
                if !own {
                    return Err(violation(
                        "revived",
                        &format!("another viewer used lease {id}"),
                        context(e),
                    ));
                }
                if !right_content || lease.id != *id {
                    return Err(violation(
                        "vanished",
                        &format!("check of lease {id} accepted the wrong content"),
                        context(e),
                    ));
                }
                if let Some(gone) = f.release_completed(e.client, window)
                    && e.invoked > gone
                {
                    return Err(violation(
                        "revived",
                        &format!(
                            "lease {id} was used at {} after its release completed (plus the \
                             release window of {window:?} on other clients) at {}",
                            ms(e.invoked),
                            ms(gone)
                        ),
                        context(e),
                    ));
                }
                if f.first_release_completed().is_some_and(|r| e.invoked > r) {
                    in_window += 1;
                }
                let possible = f.expiry_possible_before(e);
                if let Some(possible) = possible
                    && e.invoked > possible + tol
                {
                    return Err(violation(
                        "revived",
                        &format!(
                            "lease {id} was used at {} after it had certainly expired at {}",
                            ms(e.invoked),
                            ms(possible)
                        ),
                        context(e),
                    ));
                }
            }
            Outcome::Refused(reason)
                if own && (reason.starts_with("NotFound") || reason.starts_with("Expired")) =>
            {
                let certainly_live = first_ack.is_some_and(|a| a <= e.invoked)
                    && f.release_invoked().is_none_or(|r| e.completed < r)
                    && f.expiry_known_by(e.invoked)
                        .is_some_and(|x| e.completed + tol < x);
                if certainly_live {
                    return Err(violation(
                        "vanished",
                        &format!("lease {id} answered {reason} while certainly usable"),
                        context(e),
                    ));
                }
            }
            Outcome::Refused(reason)
                if own && reason.starts_with("WrongContent") && right_content =>
            {
                return Err(violation(
                    "vanished",
                    &format!("check of lease {id} refused its own content"),
                    context(e),
                ));
            }
            Outcome::Refused(reason) if !own && !reason.starts_with("NotFound") => {
                return Err(violation(
                    "revived",
                    &format!("another viewer's use of lease {id} answered {reason}, not NotFound"),
                    context(e),
                ));
            }
            _ => {}
        }
    }
    Ok(in_window)
}

fn check_idempotency(
    history: &History,
    facts: &HashMap<LeaseId, LeaseFacts<'_>>,
    tol: Duration,
) -> Result<(), Box<Violation>> {
    // The keyed creates that acknowledged a lease, per (viewer, key).
    let mut keyed: HashMap<(&ViewerId, &str), Vec<(&Event, &Lease)>> = HashMap::new();
    for e in &history.events {
        if let (
            Op::Create {
                viewer,
                key: Some(key),
                ..
            },
            Outcome::Lease(lease),
        ) = (&e.op, &e.outcome)
        {
            keyed
                .entry((viewer, key.as_str()))
                .or_default()
                .push((e, lease));
        }
    }
    for creates in keyed.values() {
        for (first, a) in creates {
            let f = &facts[&a.id];
            for (later, b) in creates {
                if b.id == a.id || later.invoked < first.completed {
                    continue;
                }
                let certainly_live = f.release_invoked().is_none_or(|r| later.completed < r)
                    && f.expiry_known_by(later.invoked)
                        .is_some_and(|x| later.completed + tol < x);
                if certainly_live {
                    return Err(violation(
                        "idempotency",
                        &format!(
                            "a replay with the same key created lease {} while {} was usable",
                            b.id, a.id
                        ),
                        vec![first, later],
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Sweeps each viewer's certainly-usable intervals; returns how often a viewer was at
/// its limit.
fn check_limit(
    facts: &HashMap<LeaseId, LeaseFacts<'_>>,
    limit: usize,
    tol: Duration,
) -> Result<usize, Box<Violation>> {
    // (time, +1 start / -1 end, lease, the acknowledging event)
    let mut points: HashMap<&ViewerId, Vec<(SystemTime, i32, &LeaseId, &Event)>> = HashMap::new();
    for (id, f) in facts {
        let Some(viewer) = f.viewer.as_ref() else {
            continue;
        };
        let cut = f.release_invoked();
        for ack in &f.acks {
            let Some(lease) = lease_of(ack) else { continue };
            let start = ack.completed;
            let mut end = lease
                .expires_at
                .checked_sub(tol)
                .unwrap_or(lease.expires_at);
            if let Some(cut) = cut {
                end = end.min(cut);
            }
            if start < end {
                let list = points.entry(viewer).or_default();
                list.push((start, 1, id, ack));
                list.push((end, -1, id, ack));
            }
        }
    }
    let mut at_limit = 0;
    for (viewer, mut list) in points {
        // Ends before starts at the same instant: touching intervals do not overlap.
        list.sort_by_key(|(t, delta, _, _)| (*t, *delta));
        let mut live: HashMap<&LeaseId, (usize, &Event)> = HashMap::new();
        for (t, delta, id, ack) in list {
            if delta > 0 {
                let entry = live.entry(id).or_insert((0, ack));
                entry.0 += 1;
                entry.1 = ack;
                if live.len() > limit {
                    let events: Vec<&Event> = live.values().map(|(_, e)| *e).collect();
                    return Err(violation(
                        "limit",
                        &format!(
                            "viewer {viewer} held {} certainly usable leases at {} (limit {limit})",
                            live.len(),
                            ms(t)
                        ),
                        events,
                    ));
                }
                if live.len() == limit {
                    at_limit += 1;
                }
            } else if let Some(entry) = live.get_mut(id) {
                entry.0 -= 1;
                if entry.0 == 0 {
                    live.remove(id);
                }
            }
        }
    }
    Ok(at_limit)
}

/// Runs `histories` histories from the harness's stores and checks each; panics with the
/// first violation and the seed that reproduces it. Returns the totals.
pub async fn run_and_check_histories<H: crate::Harness>(
    h: &H,
    histories: usize,
    config: HistoryConfig,
) -> HistoryTotals {
    let mut totals = HistoryTotals::default();
    for round in 0..histories {
        let mut config = config.clone();
        config.seed = config.seed.wrapping_add(round as u64);
        config.release_window = config.release_window.max(h.release_window());
        let stores = h.history_stores(3).await;
        let seed = config.seed;
        let history = run_history(stores, config, |stop| h.inject_faults(stop)).await;
        match check_history(&history) {
            Ok(stats) => {
                totals.histories += 1;
                totals.operations += stats.operations;
                totals.leases += stats.leases;
                totals.at_limit += stats.at_limit;
                totals.in_window += stats.in_window;
                totals.indeterminate += history.indeterminate();
                totals.lock_holds += history.faults.lock_holds;
                totals.killed_connections += history.faults.killed_connections;
            }
            Err(v) => panic!(
                "history {round} (BLINDCAST_HISTORY_SEED={seed}) broke the LeaseStore contract:\n{v}"
            ),
        }
    }
    totals
}

/// What a series of passing histories exercised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryTotals {
    /// Histories checked.
    pub histories: usize,
    /// Operations in all of them.
    pub operations: usize,
    /// Leases acknowledged.
    pub leases: usize,
    /// Instants a viewer was at its limit (the limit was under pressure).
    pub at_limit: usize,
    /// Operations that failed inside the store (under injected faults).
    pub indeterminate: usize,
    /// Locks held by the fault injector.
    pub lock_holds: u64,
    /// Store connections it killed.
    pub killed_connections: u64,
    /// Uses inside the release window ([`HistoryStats::in_window`]).
    pub in_window: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000) + Duration::from_millis(ms)
    }

    /// A lease created by client 0 at 0-1 ms, released by client 0 at 10-11 ms, then
    /// checked successfully by `client` at `check_ms`.
    fn history(client: usize, check_ms: u64, window: Duration) -> History {
        let id = LeaseId::generate().unwrap();
        let viewer = ViewerId::new("v").unwrap();
        let content = ContentId::new("c").unwrap();
        let lease = Lease {
            id: id.clone(),
            viewer: viewer.clone(),
            content: content.clone(),
            created_at: at(0),
            expires_at: at(60_000),
            renewals: 0,
        };
        let event = |index, client, op, invoked, completed, outcome| Event {
            index,
            client,
            op,
            invoked: at(invoked),
            completed: at(completed),
            outcome,
        };
        let events = vec![
            event(
                0,
                0,
                Op::Create {
                    viewer: viewer.clone(),
                    content: content.clone(),
                    ttl: Duration::from_secs(60),
                    key: None,
                },
                0,
                1,
                Outcome::Lease(lease.clone()),
            ),
            event(
                1,
                0,
                Op::Release {
                    lease: id.clone(),
                    viewer: viewer.clone(),
                },
                10,
                11,
                Outcome::Released,
            ),
            event(
                2,
                client,
                Op::Check {
                    lease: id,
                    viewer,
                    content,
                },
                check_ms,
                check_ms + 1,
                Outcome::Lease(lease),
            ),
        ];
        History {
            events,
            config: HistoryConfig {
                release_window: window,
                ..HistoryConfig::default()
            },
            faults: Faults::default(),
        }
    }

    #[test]
    fn a_use_after_release_is_allowed_only_inside_the_window_and_only_elsewhere() {
        let window = Duration::from_millis(50);
        // Another client inside the window: allowed, and counted.
        let stats = check_history(&history(1, 30, window)).unwrap();
        assert_eq!(stats.in_window, 1);
        // Another client after the window: revived.
        let v = check_history(&history(1, 70, window)).unwrap_err();
        assert_eq!(v.rule, "revived", "{v}");
        // The releasing client: no window at all.
        let v = check_history(&history(0, 30, window)).unwrap_err();
        assert_eq!(v.rule, "revived", "{v}");
        // Without a window, any client after the release: revived.
        let v = check_history(&history(1, 30, Duration::ZERO)).unwrap_err();
        assert_eq!(v.rule, "revived", "{v}");
    }
}

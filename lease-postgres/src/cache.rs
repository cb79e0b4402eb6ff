//! The per-instance lease-check cache, kept exact by `LISTEN`/`NOTIFY`.
//!
//! A successful `check` (or `renew`) is remembered until the lease's expiry, counted down
//! on this instance's monotonic clock from the remaining lifetime the *database* reported
//! (`expires_at - now()` computed in SQL), starting from an instant taken before the query
//! was sent: so the entry never outlives the lease, whatever this machine's wall clock
//! says. Negative answers are never cached.
//!
//! What can end a lease early, and how each reaches the cache:
//! - `release` (any instance): deletes the row and, in the same statement (so the same
//!   transaction), `pg_notify`s the SHA-256 of the lease id on the prefix's channel; every
//!   instance's listener drops the entry. The releasing instance also drops it itself
//!   before `release` returns.
//! - purge: deletes only leases already expired by the database clock, and a cached entry
//!   never outlives the expiry the database reported, so purges need no notification.
//! - renew: only ever moves `expires_at` later (`greatest(...)`), so a cached entry stays
//!   valid; the renewing instance replaces its entry with the longer one. Other instances
//!   keep the earlier expiry (conservative) and ask the database again after it.
//! - create: inserts a new row and changes no other lease.
//!
//! A check that reads the database before a release commits and stores its answer after
//! the notification arrived would cache a released lease: each check takes a [`Ticket`]
//! before its query, and its answer is stored only if no invalidation of that lease (and
//! no listener loss) happened since.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{Lease, LeaseId, StoreMetric, ViewerId};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::config::CacheConfig;

/// Invalidations remembered for in-flight checks; a check that saw more than this many
/// since it started stores nothing.
const RECENT_INVALIDATIONS: usize = 1024;

/// Counters of the lease-check cache, since the store was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Checks answered from the cache.
    pub hits: u64,
    /// Checks answered by the database (not cached, expired, or the cache bypassed).
    pub misses: u64,
    /// Checks that bypassed the cache because the listener was not listening (also
    /// counted in `misses`).
    pub bypasses: u64,
    /// Cached entries dropped because their lease was released (here or elsewhere).
    pub invalidations: u64,
    /// Release notifications received.
    pub notifications: u64,
    /// Times the whole cache was dropped because the listener connection was lost.
    pub resyncs: u64,
    /// Entries evicted to stay within `max_entries`.
    pub evictions: u64,
    /// Entries now cached.
    pub entries: u64,
    /// Whether the listener is listening now (the cache answers only then).
    pub listening: bool,
}

impl CacheStats {
    /// These counters as the store's `/metrics` figures (`blindcast_lease_cache_*`).
    pub fn metrics(&self) -> [StoreMetric; 9] {
        use StoreMetric as M;
        [
            M::counter(
                "blindcast_lease_cache_hits_total",
                "Lease checks answered from this instance's cache.",
                self.hits,
            ),
            M::counter(
                "blindcast_lease_cache_misses_total",
                "Lease checks answered by PostgreSQL (not cached, expired, or the cache bypassed).",
                self.misses,
            ),
            M::counter(
                "blindcast_lease_cache_bypasses_total",
                "Lease checks sent to PostgreSQL because the listener was not listening (also counted as misses).",
                self.bypasses,
            ),
            M::counter(
                "blindcast_lease_cache_invalidations_total",
                "Cached leases dropped because they were released (here or on another instance).",
                self.invalidations,
            ),
            M::counter(
                "blindcast_lease_cache_notifications_total",
                "Release notifications received.",
                self.notifications,
            ),
            M::counter(
                "blindcast_lease_cache_resyncs_total",
                "Times the whole cache was dropped because the listener connection was lost.",
                self.resyncs,
            ),
            M::counter(
                "blindcast_lease_cache_evictions_total",
                "Cached leases evicted to stay within the size bound.",
                self.evictions,
            ),
            M::gauge(
                "blindcast_lease_cache_entries",
                "Leases cached now.",
                self.entries,
            ),
            M::gauge(
                "blindcast_lease_cache_listening",
                "1 while the release listener listens (the cache answers only then).",
                u64::from(self.listening),
            ),
        ]
    }
}

/// The cache key of a lease: SHA-256 of its id, which is also the notification payload,
/// so the id (a bearer credential) never travels in a notification.
pub(crate) type Key = [u8; 32];

pub(crate) fn key(id: &LeaseId) -> Key {
    Sha256::digest(id.as_str().as_bytes()).into()
}

/// Parses a notification payload (64 hex digits).
pub(crate) fn parse_key(payload: &str) -> Option<Key> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(payload, &mut out).ok()?;
    Some(out)
}

/// Taken before a database check; its answer may be stored only if nothing that could
/// have made it stale happened since.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
    seq: u64,
    /// Before the query was sent: the countdown starts here.
    sent: Instant,
    /// The test clock offset then (0 outside tests).
    offset: i64,
}

struct Entry {
    lease: Lease,
    /// Microseconds after `Cache::base` (plus the test clock offset at insertion) at
    /// which the entry ends.
    ends: i128,
}

#[derive(Default)]
struct State {
    map: HashMap<Key, Entry>,
    /// The entries by end, soonest first: expired ones go first, then eviction order.
    by_end: BTreeSet<(i128, Key)>,
    /// Bumped whenever the whole cache becomes untrustworthy (listener lost or back).
    epoch: u64,
    /// Count of single-lease invalidations.
    seq: u64,
    recent: VecDeque<(u64, Key)>,
    listening: bool,
}

impl State {
    fn remove(&mut self, key: &Key) -> bool {
        match self.map.remove(key) {
            Some(e) => {
                self.by_end.remove(&(e.ends, *key));
                true
            }
            None => false,
        }
    }

    fn clear(&mut self) {
        self.map.clear();
        self.by_end.clear();
        self.epoch += 1;
    }
}

/// One instance's cache. Shared by the store and its listener task.
pub(crate) struct Cache {
    state: Mutex<State>,
    max_entries: usize,
    heartbeat: Duration,
    base: Instant,
    /// Microseconds after `base` until which the listener is known alive.
    alive_until: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    bypasses: AtomicU64,
    invalidations: AtomicU64,
    notifications: AtomicU64,
    resyncs: AtomicU64,
    evictions: AtomicU64,
    /// The listener's backend pid (0 when not connected), for tests and diagnostics.
    listener_pid: AtomicI32,
    /// Bumped after every notification is applied (tests wait on it).
    changes: watch::Sender<u64>,
    /// The latest probe payloads received (start-up proves delivery with one; other
    /// instances starting on the prefix send theirs too).
    probes: watch::Sender<VecDeque<String>>,
}

impl Cache {
    pub(crate) fn new(config: &CacheConfig) -> Self {
        Self {
            state: Mutex::default(),
            max_entries: config.max_entries,
            heartbeat: config.heartbeat,
            base: Instant::now(),
            alive_until: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypasses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            listener_pid: AtomicI32::new(0),
            changes: watch::Sender::new(0),
            probes: watch::Sender::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps (no partial updates that
        // matter for safety: the worst is a missing entry), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn micros_since_base(&self, t: Instant) -> i128 {
        i128::try_from(t.saturating_duration_since(self.base).as_micros()).unwrap_or(i128::MAX)
    }

    fn listener_alive(&self, now: Instant) -> bool {
        let now =
            u64::try_from(now.saturating_duration_since(self.base).as_micros()).unwrap_or(u64::MAX);
        now < self.alive_until.load(Ordering::Acquire)
    }

    /// The listener proved its connection alive with a round trip sent at `sent`.
    pub(crate) fn alive_since(&self, sent: Instant) {
        let until = (sent + self.heartbeat * 3).saturating_duration_since(self.base);
        self.alive_until.store(
            u64::try_from(until.as_micros()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
    }

    /// The cached lease if it answers this check exactly as the database would.
    pub(crate) fn lookup(
        &self,
        key: &Key,
        id: &LeaseId,
        viewer: &ViewerId,
        content: &ContentId,
        offset: i64,
    ) -> Option<Lease> {
        let now = Instant::now();
        let found = {
            let mut state = self.lock();
            if !state.listening || !self.listener_alive(now) {
                drop(state);
                self.bypasses.fetch_add(1, Ordering::Relaxed);
                self.misses.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            let at = self.micros_since_base(now) + i128::from(offset);
            match state.map.get(key) {
                Some(e) if at >= e.ends => {
                    state.remove(key);
                    None
                }
                // The same rules as the database's check: this id, this viewer, this
                // content. Anything else is the database's to answer.
                Some(e)
                    if e.lease.id == *id
                        && e.lease.viewer == *viewer
                        && e.lease.content == *content =>
                {
                    Some(e.lease.clone())
                }
                _ => None,
            }
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// A ticket for a database check about to be sent; `None` while not listening.
    pub(crate) fn ticket(&self, offset: i64) -> Option<Ticket> {
        let state = self.lock();
        state.listening.then(|| Ticket {
            epoch: state.epoch,
            seq: state.seq,
            sent: Instant::now(),
            offset,
        })
    }

    /// Remembers `lease`, which the database called usable for `remaining` more when
    /// asked after `ticket` was taken, unless something may have ended it since.
    pub(crate) fn insert(&self, ticket: Ticket, lease: &Lease, remaining: Duration) {
        if remaining.is_zero() {
            return;
        }
        let key = key(&lease.id);
        let ends = self.micros_since_base(ticket.sent)
            + i128::try_from(remaining.as_micros()).unwrap_or(i128::MAX / 2)
            + i128::from(ticket.offset);
        let mut state = self.lock();
        if !state.listening || state.epoch != ticket.epoch {
            return;
        }
        if state.seq != ticket.seq {
            // Every invalidation since the ticket must still be in `recent`, and none of
            // them may be this lease's.
            let complete = state
                .recent
                .front()
                .is_some_and(|(seq, _)| *seq <= ticket.seq + 1);
            let hit = state
                .recent
                .iter()
                .any(|(seq, k)| *seq > ticket.seq && *k == key);
            if !complete || hit {
                return;
            }
        }
        if let Some(old) = state.map.get(&key) {
            if old.ends >= ends && old.lease.expires_at >= lease.expires_at {
                return;
            }
            state.remove(&key);
        }
        while state.map.len() >= self.max_entries {
            let Some(&(end, victim)) = state.by_end.iter().next() else {
                break;
            };
            state.by_end.remove(&(end, victim));
            state.map.remove(&victim);
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
        state.by_end.insert((ends, key));
        state.map.insert(
            key,
            Entry {
                lease: lease.clone(),
                ends,
            },
        );
    }

    /// The lease with this key was released: forget it, and keep in-flight checks from
    /// storing it.
    pub(crate) fn invalidate(&self, key: &Key) {
        let removed = {
            let mut state = self.lock();
            state.seq += 1;
            let seq = state.seq;
            state.recent.push_back((seq, *key));
            if state.recent.len() > RECENT_INVALIDATIONS {
                state.recent.pop_front();
            }
            state.remove(key)
        };
        if removed {
            self.invalidations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A notification arrived on the channel.
    pub(crate) fn notified(&self, payload: &str) {
        if let Some(probe) = payload.strip_prefix("probe:") {
            self.probes.send_modify(|recent| {
                if recent.len() >= 64 {
                    recent.pop_front();
                }
                recent.push_back(probe.to_owned());
            });
            return;
        }
        self.notifications.fetch_add(1, Ordering::Relaxed);
        match parse_key(payload) {
            Some(key) => self.invalidate(&key),
            // Not ours: someone else notifies on the channel. Trust nothing cached.
            None => self.lock().clear(),
        }
        self.changes.send_modify(|n| *n += 1);
    }

    /// The listener is confirmed listening (`LISTEN` answered) on backend `pid`: anything
    /// cached before may have missed a notification, so start empty.
    pub(crate) fn listening(&self, pid: i32) {
        self.alive_since(Instant::now());
        self.listener_pid.store(pid, Ordering::Relaxed);
        let mut state = self.lock();
        state.clear();
        state.listening = true;
    }

    /// The listener connection is gone: forget everything and bypass the cache until
    /// [`listening`](Self::listening).
    pub(crate) fn lost(&self) {
        self.listener_pid.store(0, Ordering::Relaxed);
        let mut state = self.lock();
        let was = state.listening;
        state.listening = false;
        state.clear();
        drop(state);
        if was {
            self.resyncs.fetch_add(1, Ordering::Relaxed);
        }
        self.changes.send_modify(|n| *n += 1);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let (entries, listening) = {
            let state = self.lock();
            (state.map.len() as u64, state.listening)
        };
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bypasses: self.bypasses.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            notifications: self.notifications.load(Ordering::Relaxed),
            resyncs: self.resyncs.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries,
            listening: listening && self.listener_alive(Instant::now()),
        }
    }

    pub(crate) fn contains(&self, id: &LeaseId) -> bool {
        self.lock().map.contains_key(&key(id))
    }

    pub(crate) fn listener_pid(&self) -> Option<i32> {
        Some(self.listener_pid.load(Ordering::Relaxed)).filter(|p| *p != 0)
    }

    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(crate) fn probes(&self) -> watch::Receiver<VecDeque<String>> {
        self.probes.subscribe()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn lease(id: &LeaseId) -> Lease {
        Lease {
            id: id.clone(),
            viewer: ViewerId::new("v").unwrap(),
            content: ContentId::new("c").unwrap(),
            created_at: SystemTime::now(),
            expires_at: SystemTime::now() + Duration::from_secs(60),
            renewals: 0,
        }
    }

    fn live(max: usize) -> Cache {
        let cache = Cache::new(&CacheConfig::on().with_max_entries(max));
        cache.listening(1);
        cache
    }

    fn hit(cache: &Cache, l: &Lease) -> bool {
        cache
            .lookup(&key(&l.id), &l.id, &l.viewer, &l.content, 0)
            .is_some()
    }

    #[test]
    fn hits_only_the_same_id_viewer_and_content() {
        let cache = live(10);
        let l = lease(&LeaseId::generate().unwrap());
        let t = cache.ticket(0).unwrap();
        cache.insert(t, &l, Duration::from_secs(60));
        assert!(hit(&cache, &l));
        let other = ViewerId::new("w").unwrap();
        assert!(
            cache
                .lookup(&key(&l.id), &l.id, &other, &l.content, 0)
                .is_none()
        );
        let c = ContentId::new("d").unwrap();
        assert!(cache.lookup(&key(&l.id), &l.id, &l.viewer, &c, 0).is_none());
        assert_eq!(cache.stats().hits, 1);
        assert_eq!(cache.stats().misses, 2);
    }

    #[test]
    fn entries_end_at_the_reported_lifetime_and_the_offset_counts() {
        let cache = live(10);
        let l = lease(&LeaseId::generate().unwrap());
        cache.insert(cache.ticket(0).unwrap(), &l, Duration::from_millis(30));
        assert!(hit(&cache, &l));
        // The test clock moving forward ends the entry as time would.
        assert!(
            cache
                .lookup(&key(&l.id), &l.id, &l.viewer, &l.content, 40_000)
                .is_none()
        );
        let l2 = lease(&LeaseId::generate().unwrap());
        cache.insert(cache.ticket(0).unwrap(), &l2, Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!hit(&cache, &l2));
    }

    #[test]
    fn an_invalidation_during_the_check_keeps_its_answer_out() {
        let cache = live(10);
        let l = lease(&LeaseId::generate().unwrap());
        let t = cache.ticket(0).unwrap();
        cache.invalidate(&key(&l.id));
        cache.insert(t, &l, Duration::from_secs(60));
        assert!(!hit(&cache, &l));
        // Another lease's invalidation does not matter.
        let t = cache.ticket(0).unwrap();
        cache.invalidate(&key(&LeaseId::generate().unwrap()));
        cache.insert(t, &l, Duration::from_secs(60));
        assert!(hit(&cache, &l));
        // Nor does a listener loss and return in between.
        let l3 = lease(&LeaseId::generate().unwrap());
        let t = cache.ticket(0).unwrap();
        cache.lost();
        cache.listening(2);
        cache.insert(t, &l3, Duration::from_secs(60));
        assert!(!hit(&cache, &l3));
    }

    #[test]
    fn losing_the_listener_clears_and_bypasses() {
        let cache = live(10);
        let l = lease(&LeaseId::generate().unwrap());
        cache.insert(cache.ticket(0).unwrap(), &l, Duration::from_secs(60));
        cache.lost();
        assert!(cache.ticket(0).is_none());
        assert!(!hit(&cache, &l));
        cache.listening(3);
        assert!(!hit(&cache, &l), "nothing survives a resync");
        let s = cache.stats();
        assert_eq!((s.resyncs, s.entries, s.bypasses), (1, 0, 1));
    }

    #[test]
    fn the_bound_evicts_the_soonest_ending() {
        let cache = live(2);
        let ls: Vec<Lease> = (0..3)
            .map(|_| lease(&LeaseId::generate().unwrap()))
            .collect();
        cache.insert(cache.ticket(0).unwrap(), &ls[0], Duration::from_secs(10));
        cache.insert(cache.ticket(0).unwrap(), &ls[1], Duration::from_secs(5));
        cache.insert(cache.ticket(0).unwrap(), &ls[2], Duration::from_secs(20));
        assert!(hit(&cache, &ls[0]) && !hit(&cache, &ls[1]) && hit(&cache, &ls[2]));
        assert_eq!(cache.stats().evictions, 1);
        assert_eq!(cache.stats().entries, 2);
    }

    #[test]
    fn foreign_payloads_clear_everything() {
        let cache = live(10);
        let l = lease(&LeaseId::generate().unwrap());
        cache.insert(cache.ticket(0).unwrap(), &l, Duration::from_secs(60));
        cache.notified("not a hash");
        assert!(!hit(&cache, &l));
        let l = lease(&LeaseId::generate().unwrap());
        cache.insert(cache.ticket(0).unwrap(), &l, Duration::from_secs(60));
        cache.notified(&hex::encode(key(&l.id)));
        assert!(!hit(&cache, &l));
        assert_eq!(cache.stats().invalidations, 1);
    }
}

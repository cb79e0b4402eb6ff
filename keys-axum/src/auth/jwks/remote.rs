//! A JWKS behind a URL, served from memory and refreshed in the background.
//!
//! The rules (the keys-axum README, "JWKS refresh", tells operators the same):
//! - A token whose key is in the set in memory never waits on the network. A stale set
//!   stays in use while one background task refreshes it.
//! - A failed fetch keeps the last good set, for as long as the identity provider stays
//!   down; fetches are then retried with a backoff (1 s doubling up to 30 s).
//! - A token whose key is missing waits, at most [`UNKNOWN_KEY_WAIT`], for a fetch that
//!   started after it arrived: the one in flight, or the next one, which starts as soon
//!   as the cooldown since the last fetch start has passed. Concurrent lookups share that
//!   fetch. The token is refused at once when that fetch could not start before the wait
//!   is over, or when the last fetch was itself one that a lookup of an unknown `kid`
//!   waited for in vain (as under a flood of random `kid`s).
//! - Fetches start at least a cooldown apart, whatever asks for them, and one at a time:
//!   a flood of random `kid`s costs at most one fetch per cooldown.
//! - `Cache-Control: max-age` (less `Age`) sets how long a fetched set stays fresh,
//!   within `[min_age, max_age]`; without it, `max_age`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use http::HeaderMap;
use tokio::sync::watch;

use super::{JwksError, KeySet, ValidationTemplate};
use crate::metrics::JWKS;

/// Largest JWKS document accepted, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole fetch, body included. Nobody with a known key waits for it.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait of a token whose key is not in memory (well under `REQUEST_TIMEOUT`).
pub(crate) const UNKNOWN_KEY_WAIT: Duration = Duration::from_secs(3);
/// Wait before the first retry of a failed fetch; doubles per failure up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest wait of a request for the refresh it started (`refresh_in_request`), and the
/// slack added to twice the last good fetch's duration.
const MAX_IN_REQUEST_WAIT: Duration = Duration::from_secs(1);
const IN_REQUEST_SLACK: Duration = Duration::from_millis(50);

/// When a JWKS URL is fetched again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshRules {
    /// Least time between two fetch starts.
    pub(crate) cooldown: Duration,
    /// Freshness of a set whose response has no `max-age`, and the longest honoured.
    pub(crate) max_age: Duration,
    /// The shortest freshness honoured from `max-age` (`no-cache` counts as 0).
    pub(crate) min_age: Duration,
    /// The request that starts a refresh of a stale set waits for it, at most about as
    /// long as the last good fetch took (for platforms that freeze the process between
    /// requests, such as AWS Lambda).
    pub(crate) refresh_in_request: bool,
}

impl Default for RefreshRules {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(1),
            max_age: Duration::from_secs(600),
            min_age: Duration::from_secs(60),
            refresh_in_request: false,
        }
    }
}

/// A JWKS behind a URL.
#[derive(Debug)]
pub(crate) struct RemoteJwks {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    url: reqwest::Url,
    client: reqwest::Client,
    template: ValidationTemplate,
    rules: RefreshRules,
    current: RwLock<Arc<KeySet>>,
    /// Milliseconds after `born` until which the set is fresh (0: never fetched). An
    /// atomic, so a request with a known key takes no lock to learn the age.
    fresh_until_ms: AtomicU64,
    born: Instant,
    gate: Mutex<Gate>,
    /// Bumped whenever a fetch ends, either way: waiters watch it.
    ended: watch::Sender<u64>,
    fetches: AtomicU64,
    failures: AtomicU64,
}

/// Who may fetch, and when.
#[derive(Debug, Default)]
struct Gate {
    /// Start of the fetch in flight.
    running: Option<Instant>,
    last_start: Option<Instant>,
    /// Start of the last fetch that ended.
    last_ended_start: Option<Instant>,
    /// Start of the last fetch that a lookup of an unknown `kid` waited for in vain.
    missed: Option<Instant>,
    failures_in_row: u32,
    last_ok_took: Option<Duration>,
    last_ok_at: Option<Instant>,
}

impl Gate {
    /// When the next fetch may start: the cooldown (or, after failures, the backoff)
    /// after the last start. `None`: at once.
    fn opens_at(&self, cooldown: Duration) -> Option<Instant> {
        let last = self.last_start?;
        let gap = if self.failures_in_row == 0 {
            cooldown
        } else {
            let doublings = self.failures_in_row.saturating_sub(1).min(16);
            FIRST_BACKOFF
                .max(cooldown)
                .saturating_mul(1 << doublings)
                .min(MAX_BACKOFF.max(cooldown))
        };
        // Past any deadline when out of range.
        Some(
            last.checked_add(gap)
                .unwrap_or(last + Duration::from_secs(86_400 * 365)),
        )
    }

    /// Whether a fetch may start now: none in flight, and the gate open.
    fn is_open(&self, cooldown: Duration, now: Instant) -> bool {
        self.running.is_none() && self.opens_at(cooldown).is_none_or(|at| now >= at)
    }
}

impl RemoteJwks {
    pub(crate) fn new(
        url: &str,
        template: ValidationTemplate,
        rules: RefreshRules,
    ) -> Result<Self, JwksError> {
        let url = reqwest::Url::parse(url).map_err(|_| JwksError::InvalidUrl)?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(JwksError::InvalidUrl);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            // A JWKS endpoint that redirects elsewhere is not followed: the configured
            // URL is the trust anchor.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| JwksError::Client(e.to_string()))?;
        JWKS.in_use();
        Ok(Self {
            inner: Arc::new(Inner {
                url,
                client,
                template,
                rules,
                current: RwLock::new(Arc::new(KeySet::default())),
                fresh_until_ms: AtomicU64::new(0),
                born: Instant::now(),
                gate: Mutex::new(Gate::default()),
                ended: watch::channel(0).0,
                fetches: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        })
    }

    pub(crate) fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    pub(crate) fn failure_count(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Fetches now (unless a fetch is in flight, which is awaited instead) and waits for
    /// the outcome. Returns whether keys are available.
    pub(crate) async fn prefetch(&self) -> bool {
        let arrived = Instant::now();
        let deadline = arrived + CONNECT_TIMEOUT + FETCH_TIMEOUT;
        let set = self
            .inner
            .await_fetch(arrived, deadline, |_| false, false)
            .await;
        set.len() > 0
    }

    /// The keys for a token with this `kid`, for a request that `arrived` then. Never
    /// touches the network when the set in memory covers the `kid` (a stale set only
    /// starts a background refresh); otherwise see [`Inner::await_fetch`].
    pub(crate) async fn keys_for(&self, kid: Option<&str>, arrived: Instant) -> Arc<KeySet> {
        let set = self.inner.snapshot();
        if set.covers(kid) {
            if self.inner.is_stale() {
                self.inner.refresh_stale().await;
                if self.inner.rules.refresh_in_request {
                    return self.inner.snapshot();
                }
            }
            return set;
        }
        self.inner
            .await_fetch(arrived, arrived + UNKNOWN_KEY_WAIT, |s| s.covers(kid), true)
            .await
    }

    /// No key of `seen` verified a token whose key may be new (no `kid`, or a `kid`
    /// covered only by keys without one): the keys of a fetch that started after the
    /// request arrived, if there are newer ones than `seen`.
    pub(crate) async fn after_key_miss(
        &self,
        seen: &Arc<KeySet>,
        arrived: Instant,
    ) -> Option<Arc<KeySet>> {
        let set = self
            .inner
            .await_fetch(arrived, arrived + UNKNOWN_KEY_WAIT, |_| false, false)
            .await;
        (!Arc::ptr_eq(&set, seen)).then_some(set)
    }
}

/// Marks the fetch started at `started` as ended when dropped, also if its task is
/// cancelled (runtime shutdown), so the gate never stays shut.
struct Running<'a> {
    inner: &'a Inner,
    started: Instant,
    outcome: Option<Result<(KeySet, Duration), JwksError>>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let outcome = self
            .outcome
            .take()
            .unwrap_or_else(|| Err(JwksError::Fetch("cancelled".to_owned())));
        self.inner.finish(self.started, outcome);
    }
}

impl Inner {
    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> Arc<KeySet> {
        let set = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&set)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn is_stale(&self) -> bool {
        self.now_ms() >= self.fresh_until_ms.load(Ordering::Relaxed)
    }

    /// Starts a fetch in the background when the gate is open. Returns whether it did.
    fn try_start(self: &Arc<Self>, gate: &mut Gate) -> bool {
        let now = Instant::now();
        if !gate.is_open(self.rules.cooldown, now) {
            return false;
        }
        // reqwest needs a Tokio runtime anyway; without one there is nothing to run on.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        gate.running = Some(now);
        gate.last_start = Some(now);
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let inner = Arc::clone(self);
        runtime.spawn(async move {
            let mut running = Running {
                inner: &inner,
                started: now,
                outcome: None,
            };
            running.outcome = Some(inner.fetch().await);
        });
        true
    }

    /// The set is stale: start a refresh in the background. With `refresh_in_request`,
    /// the request that started it waits for it, at most twice as long as the last good
    /// fetch took plus 50 ms (for jitter), and never more than a second.
    async fn refresh_stale(self: &Arc<Self>) {
        if !self.rules.refresh_in_request {
            self.try_start(&mut self.gate());
            return;
        }
        let mut ended = self.ended.subscribe();
        let (started, budget) = {
            let mut gate = self.gate();
            let budget = gate.last_ok_took.unwrap_or_default() * 2 + IN_REQUEST_SLACK;
            (self.try_start(&mut gate), budget.min(MAX_IN_REQUEST_WAIT))
        };
        if started {
            let _ = tokio::time::timeout(budget, ended.changed()).await;
        }
    }

    /// Waits, until `deadline` at most, for a fetch that started at or after `arrived`
    /// to end, starting one when the gate opens (waiting for it to open if that is before
    /// the deadline; all waiters then share one fetch). Returns early once `enough` holds
    /// for the set in memory, and at once when no such fetch can start before the
    /// deadline, or when the last fetch was one that a `kid_lookup` waited for in vain
    /// (a flood of random `kid`s then gets its refusals without waiting).
    async fn await_fetch(
        self: &Arc<Self>,
        arrived: Instant,
        deadline: Instant,
        enough: impl Fn(&KeySet) -> bool,
        kid_lookup: bool,
    ) -> Arc<KeySet> {
        // Subscribed before looking, so an end between the look and the wait is seen.
        let mut ended = self.ended.subscribe();
        loop {
            let set = self.snapshot();
            if enough(&set) {
                return set;
            }
            let opens_at = {
                let mut gate = self.gate();
                if gate.last_ended_start.is_some_and(|s| s >= arrived) {
                    if kid_lookup {
                        gate.missed = gate.last_ended_start;
                    }
                    return set;
                }
                if gate.running.is_some() || self.try_start(&mut gate) {
                    None
                } else if gate.missed.is_some() && gate.missed == gate.last_start {
                    return set;
                } else {
                    match gate.opens_at(self.rules.cooldown) {
                        Some(at) if at < deadline => Some(at),
                        _ => return set,
                    }
                }
            };
            if let Some(at) = opens_at {
                // The first waiter to wake starts the fetch; the others then wait for it.
                tokio::time::sleep_until(at.into()).await;
                continue;
            }
            match tokio::time::timeout_at(deadline.into(), ended.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.snapshot(),
            }
        }
    }

    /// Records the end of the fetch started at `started` and wakes the waiters.
    fn finish(&self, started: Instant, outcome: Result<(KeySet, Duration), JwksError>) {
        let took = started.elapsed();
        let error = match outcome {
            Ok((set, fresh_for)) => {
                let fresh = self.born.elapsed().saturating_add(fresh_for);
                let fresh = u64::try_from(fresh.as_millis()).unwrap_or(u64::MAX);
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
                self.fresh_until_ms.store(fresh.max(1), Ordering::Relaxed);
                JWKS.fetch(true);
                None
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                JWKS.fetch(false);
                Some(e)
            }
        };
        let (failures_in_row, last_ok) = {
            let mut gate = self.gate();
            gate.running = None;
            gate.last_ended_start = Some(started);
            if error.is_none() {
                gate.failures_in_row = 0;
                gate.last_ok_took = Some(took);
                gate.last_ok_at = Some(Instant::now());
            } else {
                gate.failures_in_row = gate.failures_in_row.saturating_add(1);
            }
            (gate.failures_in_row, gate.last_ok_at)
        };
        if let Some(e) = error {
            let keys_age_s = last_ok.map(|t| t.elapsed().as_secs());
            tracing::warn!(
                error = %e,
                failures_in_row,
                keys_age_s,
                "JWKS fetch failed; the last good key set stays in use"
            );
        }
        self.ended.send_modify(|n| *n = n.wrapping_add(1));
    }

    async fn fetch(&self) -> Result<(KeySet, Duration), JwksError> {
        let fail = |why: &str| JwksError::Fetch(why.to_owned());
        let mut response = self
            .client
            .get(self.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(&format!("request failed: {}", e.without_url())))?;
        if !response.status().is_success() {
            return Err(fail(&format!("status {}", response.status().as_u16())));
        }
        let fresh_for = freshness(response.headers(), &self.rules);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fail(&format!("reading body: {}", e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(fail("document too large"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((KeySet::from_jwks(&body, &self.template)?, fresh_for))
    }
}

/// How long a response stays fresh: its `Cache-Control: max-age` less its `Age`, within
/// `[min_age, max_age]`; `no-cache` and `no-store` count as 0; without either, `max_age`.
fn freshness(headers: &HeaderMap, rules: &RefreshRules) -> Duration {
    let min = rules.min_age.min(rules.max_age);
    let Some(max_age) = cache_max_age(headers) else {
        return rules.max_age;
    };
    let age = headers
        .get(http::header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age)).clamp(min, rules.max_age)
}

/// The `max-age` of the `Cache-Control` headers, in seconds (the smallest if repeated).
fn cache_max_age(headers: &HeaderMap) -> Option<u64> {
    let mut found: Option<u64> = None;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',') {
            let (name, arg) = match directive.split_once('=') {
                Some((name, arg)) => (name.trim(), Some(arg.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            let secs =
                if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                    Some(0)
                } else if name.eq_ignore_ascii_case("max-age") {
                    arg.and_then(|a| a.parse::<u64>().ok())
                } else {
                    None
                };
            if let Some(secs) = secs {
                found = Some(found.map_or(secs, |f| f.min(secs)));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rules() -> RefreshRules {
        RefreshRules {
            min_age: Duration::from_secs(60),
            max_age: Duration::from_secs(600),
            ..RefreshRules::default()
        }
    }

    fn fresh(pairs: &[(&str, &str)]) -> u64 {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        freshness(&headers, &rules()).as_secs()
    }

    #[test]
    fn cache_control_within_bounds() {
        assert_eq!(fresh(&[]), 600, "no header: max_age");
        assert_eq!(fresh(&[("cache-control", "public, max-age=300")]), 300);
        assert_eq!(fresh(&[("cache-control", "max-age=\"120\"")]), 120);
        assert_eq!(
            fresh(&[("cache-control", "MAX-AGE=90, must-revalidate")]),
            90
        );
        assert_eq!(fresh(&[("cache-control", "max-age=86400")]), 600, "capped");
        assert_eq!(fresh(&[("cache-control", "max-age=5")]), 60, "floored");
        assert_eq!(fresh(&[("cache-control", "no-cache")]), 60);
        assert_eq!(fresh(&[("cache-control", "no-store, max-age=300")]), 60);
        assert_eq!(fresh(&[("cache-control", "max-age=junk")]), 600);
        assert_eq!(
            fresh(&[("cache-control", "max-age=300"), ("age", "100")]),
            200
        );
        assert_eq!(
            fresh(&[
                ("cache-control", "max-age=300"),
                ("cache-control", "max-age=200")
            ]),
            200
        );
    }

    #[test]
    fn backoff_after_failures() {
        let start = Instant::now();
        let cooldown = Duration::from_secs(1);
        let mut gate = Gate {
            last_start: Some(start),
            ..Gate::default()
        };
        let open_after = |gate: &Gate| {
            (0..=60)
                .find(|s| gate.is_open(cooldown, start + Duration::from_secs(*s)))
                .unwrap()
        };
        assert_eq!(open_after(&gate), 1);
        let mut seen = Vec::new();
        for failures in 1..=7 {
            gate.failures_in_row = failures;
            seen.push(open_after(&gate));
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30]);
        gate.running = Some(start);
        assert!(!gate.is_open(cooldown, start + Duration::from_secs(3600)));
    }
}

//! The lease-check cache against a real PostgreSQL: several store instances (each with its
//! own cache and listener) on one database. Randomized histories with releases, renewals,
//! expiries and killed listener connections; the release-propagation delay, measured and
//! bounded; a notification sent at the delete's commit, not before; a lost, refused or
//! silently dead listener connection clearing and bypassing the cache; expiry counted down
//! from the database's figure whatever the instance clock says; start-up failures.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blindcast_keys_core::lease::{LeaseError, LeaseStore};
use blindcast_lease_postgres::{
    CacheConfig, CacheStats, DbClockOffset, LISTENER_APPLICATION_NAME, PostgresConfig,
    PostgresConfigError, PostgresLeaseStore,
};
use blindcast_lease_testkit::history::{Faults, HistoryConfig, Stop, run_and_check_histories};
use blindcast_lease_testkit::{Harness, LONG_TTL, content, postgres_url, request, viewer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Instances the history check runs on.
const INSTANCES: usize = 3;
/// Histories in the cached history check.
const HISTORIES: usize = 4;

/// Several instances with caches on one fresh prefix per history.
#[derive(Debug, Default)]
struct Instances {
    /// The instances of the latest history.
    current: Mutex<Vec<Arc<PostgresLeaseStore>>>,
    /// The proxies their listeners connect through.
    proxies: Mutex<Vec<Arc<Proxy>>>,
    listener_outages: AtomicU64,
    /// Every instance built, for the cache counters.
    all: Mutex<Vec<Arc<PostgresLeaseStore>>>,
    listener_kills: AtomicU64,
}

#[async_trait::async_trait]
impl Harness for Instances {
    fn store(&self) -> Arc<dyn LeaseStore> {
        unreachable!("only the history check runs on this harness")
    }

    async fn sibling(&self) -> Arc<dyn LeaseStore> {
        unreachable!("only the history check runs on this harness")
    }

    async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }

    async fn history_stores(&self, clients: usize) -> Vec<Arc<dyn LeaseStore>> {
        // The real database clock (no offset): the checker compares with its own clock.
        let config = common::config("cachehist").with_clock_offset(DbClockOffset::new());
        let mut stores = Vec::new();
        let mut proxies = Vec::new();
        for _ in 0..clients.max(INSTANCES) {
            // Each listener through its own proxy, so the injector can cut it for a while.
            let proxy = Arc::new(Proxy::start().await);
            let cache = CacheConfig::on()
                .with_listener_url(proxy.url())
                .with_heartbeat(Duration::from_millis(200));
            stores.push(Arc::new(
                common::store(config.clone().with_cache(cache)).await,
            ));
            proxies.push(proxy);
        }
        *self.proxies.lock().unwrap() = proxies;
        self.all.lock().unwrap().extend(stores.iter().cloned());
        *self.current.lock().unwrap() = stores.clone();
        stores
            .into_iter()
            .map(|s| s as Arc<dyn LeaseStore>)
            .collect()
    }

    async fn inject_faults(&self, mut stop: Stop) -> Faults {
        let stores = self.current.lock().unwrap().clone();
        let proxies = self.proxies.lock().unwrap().clone();
        let killer = common::store(common::config("cachekill")).await;
        let client = killer.pool().get().await.unwrap();
        let mut faults = Faults::default();
        let mut round = 0usize;
        while !stop.sleep(Duration::from_millis(120)).await {
            round += 1;
            if round % 3 == 2 {
                // A listener cut off for a while: it cannot reconnect until the end, so
                // releases in between are never heard by that instance.
                let proxy = &proxies[(round / 3) % proxies.len()];
                proxy.set(REFUSE);
                self.listener_outages.fetch_add(1, Ordering::Relaxed);
                stop.sleep(Duration::from_millis(300)).await;
                proxy.set(FORWARD);
                continue;
            }
            if round.is_multiple_of(3) {
                // A store backend mid-operation, as the conformance injector does.
                let prefix = &stores[0].config().table_prefix;
                let killed: i64 = client
                    .query_one(
                        "/* fault-injector */ SELECT count(pg_terminate_backend(pid)) \
                         FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
                         AND state = 'active' AND query LIKE '%' || $1 || 'leases%' \
                         AND query NOT LIKE '%fault-injector%'",
                        &[prefix],
                    )
                    .await
                    .unwrap()
                    .get(0);
                faults.killed_connections += u64::try_from(killed).unwrap();
                continue;
            }
            // An instance's listener connection.
            let Some(pid) = stores[round % stores.len()].listener_pid() else {
                continue;
            };
            let killed: bool = client
                .query_one("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .unwrap()
                .get(0);
            if killed {
                self.listener_kills.fetch_add(1, Ordering::Relaxed);
            }
        }
        faults
    }

    fn release_window(&self) -> Duration {
        common::RELEASE_WINDOW
    }
}

fn sum(stores: &[Arc<PostgresLeaseStore>]) -> CacheStats {
    let mut total = CacheStats::default();
    for s in stores {
        let c = s.cache_stats().unwrap();
        total.hits += c.hits;
        total.misses += c.misses;
        total.bypasses += c.bypasses;
        total.invalidations += c.invalidations;
        total.notifications += c.notifications;
        total.resyncs += c.resyncs;
        total.evictions += c.evictions;
    }
    total
}

/// Randomized histories over three instances with caches on one PostgreSQL, with
/// releases, renewals, expiries, killed store backends and killed listener connections:
/// no check succeeds after the lease's expiry, none after its release completed on the
/// same instance, none after the release completed elsewhere plus the release window,
/// and the rest of the contract holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn histories_over_cached_instances_keep_the_contract() {
    let h = Instances::default();
    let config = HistoryConfig {
        // Leases that outlive the release window, so a stale cache entry would be used
        // after it; and short ones, so expiries happen too.
        min_ttl: Duration::from_millis(30),
        max_ttl: Duration::from_secs(4),
        ..HistoryConfig::default()
    };
    let seed = config.seed;
    let totals = run_and_check_histories(&h, HISTORIES, config).await;
    let stats = sum(&h.all.lock().unwrap());
    let kills = h.listener_kills.load(Ordering::Relaxed);
    let outages = h.listener_outages.load(Ordering::Relaxed);
    eprintln!(
        "cached history check (seed {seed}): 0 violations in {} histories x {} operations over \
         {INSTANCES} instances ({} leases, at the limit {} times, {} indeterminate, {} uses \
         inside the {:?} release window), {} killed store connections, {kills} killed \
         listeners, {outages} listener outages; cache: {stats:?}",
        totals.histories,
        totals.operations / totals.histories.max(1),
        totals.leases,
        totals.at_limit,
        totals.indeterminate,
        totals.in_window,
        common::RELEASE_WINDOW,
        totals.killed_connections,
    );
    assert_eq!(totals.histories, HISTORIES);
    assert!(totals.leases >= 10 * HISTORIES, "{totals:?}");
    // The cache was really used, really invalidated, and really lost its listener.
    assert!(stats.hits >= 100, "too few cache hits: {stats:?}");
    assert!(
        stats.invalidations >= 10,
        "too few invalidations: {stats:?}"
    );
    assert!(
        kills >= HISTORIES as u64,
        "listeners killed only {kills} times"
    );
    assert!(
        outages >= HISTORIES as u64,
        "only {outages} listener outages"
    );
    assert!(
        stats.resyncs >= (kills + outages) / 2,
        "{kills} kills, {stats:?}"
    );
    assert!(stats.bypasses > 0, "no check ran while a listener was down");
}

/// Two instances of one prefix with caches.
async fn pair(stem: &str) -> (PostgresLeaseStore, PostgresLeaseStore) {
    let config = common::config(stem);
    let a = common::store(config.clone()).await;
    let b = common::store(config).await;
    (a, b)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// From the commit of a release on one instance to the other instance dropping its cached
/// entry: measured over 200 releases, printed, and bounded (p99 under the release window
/// the history check allows). Afterwards the other instance answers `NotFound`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn release_reaches_other_instances_within_the_window() {
    const ROUNDS: usize = 200;
    let (a, b) = pair("delay").await;
    let mut from_invoke = Vec::with_capacity(ROUNDS);
    let mut from_ack = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let v = format!("delay-{round}");
        let lease = a.create(request(&v, "m", LONG_TTL, 1)).await.unwrap();
        b.check(&lease.id, &viewer(&v), &content("m"))
            .await
            .unwrap();
        assert!(b.cache_contains(&lease.id), "round {round}: not cached");
        let mut changes = b.cache_changes().unwrap();
        let invoked = Instant::now();
        a.release(&lease.id, &viewer(&v)).await.unwrap();
        let acked = Instant::now();
        tokio::time::timeout(
            Duration::from_secs(10),
            changes.wait_for(|_| !b.cache_contains(&lease.id)),
        )
        .await
        .unwrap_or_else(|_| panic!("round {round}: the release never reached instance b"))
        .unwrap();
        let dropped = Instant::now();
        from_invoke.push(dropped - invoked);
        from_ack.push(dropped.saturating_duration_since(acked));
        assert!(matches!(
            b.check(&lease.id, &viewer(&v), &content("m")).await,
            Err(LeaseError::NotFound)
        ));
    }
    from_invoke.sort();
    from_ack.sort();
    let (p50, p99, max) = (
        percentile(&from_invoke, 0.5),
        percentile(&from_invoke, 0.99),
        from_invoke[ROUNDS - 1],
    );
    eprintln!(
        "release propagation over {ROUNDS} releases: from release call to entry dropped on \
         the other instance p50 {p50:?} p99 {p99:?} max {max:?}; from release acknowledged \
         p50 {:?} p99 {:?} max {:?}",
        percentile(&from_ack, 0.5),
        percentile(&from_ack, 0.99),
        from_ack[ROUNDS - 1],
    );
    assert!(
        p99 < common::RELEASE_WINDOW,
        "p99 release propagation {p99:?} is over the {:?} window",
        common::RELEASE_WINDOW
    );
    let stats = b.cache_stats().unwrap();
    assert!(stats.invalidations >= ROUNDS as u64, "{stats:?}");
}

/// The notification goes out when the delete commits, not before: while a release waits
/// on a row lock, another instance that caches the lease afterwards must still drop it
/// once the release commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn release_notifies_at_commit_not_before() {
    let (a, b) = pair("atcommit").await;
    let prefix = a.config().table_prefix.clone();
    let lease = a.create(request("cora", "m", LONG_TTL, 1)).await.unwrap();
    let holder = common::store(common::config("atc_hold")).await;
    let client = holder.pool().get().await.unwrap();
    client.batch_execute("BEGIN").await.unwrap();
    client
        .execute(
            &format!("SELECT 1 FROM {prefix}leases WHERE id = $1 FOR UPDATE"),
            &[&lease.id.as_str()],
        )
        .await
        .unwrap();
    let a = Arc::new(a);
    let releaser = {
        let (a, id) = (a.clone(), lease.id.clone());
        tokio::spawn(async move { a.release(&id, &viewer("cora")).await })
    };
    // The release is blocked on the row lock; b caches the (still committed) lease.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !releaser.is_finished(),
        "the release did not wait for the lock"
    );
    b.check(&lease.id, &viewer("cora"), &content("m"))
        .await
        .unwrap();
    assert!(b.cache_contains(&lease.id));
    client.batch_execute("COMMIT").await.unwrap();
    releaser.await.unwrap().unwrap();
    tokio::time::sleep(common::RELEASE_WINDOW).await;
    assert!(
        matches!(
            b.check(&lease.id, &viewer("cora"), &content("m")).await,
            Err(LeaseError::NotFound)
        ),
        "instance b still answers from its cache after the release committed"
    );
}

/// What the loopback proxy in front of the listener does.
const FORWARD: u8 = 0;
/// Closes every connection and refuses new ones.
const REFUSE: u8 = 1;
/// Keeps connections open but forwards nothing (a silent network partition).
const BLACKHOLE: u8 = 2;

/// A TCP proxy to the test database whose behaviour the test switches.
#[derive(Debug)]
struct Proxy {
    port: u16,
    task: tokio::task::JoinHandle<()>,
    mode: Arc<AtomicU8>,
    changed: tokio::sync::watch::Sender<u8>,
    /// Holds every chunk from the server this many milliseconds before passing it on.
    delay_ms: Arc<AtomicU64>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.changed.send_replace(REFUSE);
    }
}

impl Proxy {
    async fn start() -> Self {
        let upstream = {
            let url = postgres_url();
            url.split('@')
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap()
                .to_owned()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let (changed, _) = tokio::sync::watch::channel(FORWARD);
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (m, c, delay) = (mode.clone(), changed.clone(), delay_ms.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((down, _)) = listener.accept().await else {
                    return;
                };
                if m.load(Ordering::SeqCst) != FORWARD {
                    continue; // dropped: refused
                }
                let Ok(up) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let delay = delay.clone();
                let mut rx = c.subscribe();
                let mut rx2 = c.subscribe();
                tokio::spawn(async move {
                    let (mut down, mut up) = (down, up);
                    let stop =
                        async move { rx.wait_for(|m| *m != FORWARD).await.map_or(REFUSE, |m| *m) };
                    let (mut down_r, mut down_w) = down.split();
                    let (mut up_r, mut up_w) = up.split();
                    let requests = tokio::io::copy(&mut down_r, &mut up_w);
                    let replies = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = up_r.read(&mut buf).await?;
                            if n == 0 {
                                return Ok::<_, std::io::Error>(());
                            }
                            let ms = delay.load(Ordering::SeqCst);
                            if ms > 0 {
                                tokio::time::sleep(Duration::from_millis(ms)).await;
                            }
                            down_w.write_all(&buf[..n]).await?;
                        }
                    };
                    tokio::select! {
                        _ = requests => {}
                        _ = replies => {}
                        mode = stop => {
                            // Blackhole: hold both ends open until the mode changes again.
                            if mode == BLACKHOLE {
                                let _ = rx2.wait_for(|m| *m != BLACKHOLE).await.map(|_| ());
                            }
                        }
                    }
                });
            }
        });
        Self {
            port,
            task,
            mode,
            changed,
            delay_ms,
        }
    }

    fn set(&self, mode: u8) {
        debug_assert!(!self.task.is_finished());
        self.mode.store(mode, Ordering::SeqCst);
        self.changed.send_replace(mode);
    }

    /// Delays what the server sends by `by` from now on.
    fn delay_replies(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap();
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// The test database's URL through this proxy.
    fn url(&self) -> String {
        let url = postgres_url();
        let (head, rest) = url.split_once('@').unwrap();
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        format!("{head}@127.0.0.1:{}/{path}", self.port)
    }
}

async fn wait_listening(store: &PostgresLeaseStore, resyncs: u64) {
    let started = Instant::now();
    loop {
        let s = store.cache_stats().unwrap();
        if s.listening && s.resyncs >= resyncs {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the listener did not listen again: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A listener connection that is closed (and cannot reconnect for a while) clears the
/// instance's cache, which then asks the database for every check — so a release it never
/// heard of is seen at once — until the listener listens again. The listener is on its own
/// URL (through a proxy here) and is named in `pg_stat_activity`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_listener_clears_and_bypasses_the_cache_until_it_listens_again() {
    let proxy = Proxy::start().await;
    let config = common::config("lost");
    let a = common::store(config.clone()).await;
    let b = common::store(
        config.with_cache(
            CacheConfig::on()
                .with_listener_url(proxy.url())
                .with_heartbeat(Duration::from_millis(100)),
        ),
    )
    .await;
    let pid = b.listener_pid().unwrap();
    let name: String = a
        .pool()
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT application_name FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, LISTENER_APPLICATION_NAME);

    let lease = a.create(request("lou", "m", LONG_TTL, 2)).await.unwrap();
    let check = |store: &PostgresLeaseStore, id: blindcast_keys_core::lease::LeaseId| {
        let store = store.clone();
        async move { store.check(&id, &viewer("lou"), &content("m")).await }
    };
    check(&b, lease.id.clone()).await.unwrap();
    check(&b, lease.id.clone()).await.unwrap();
    assert_eq!(b.cache_stats().unwrap().hits, 1);

    proxy.set(REFUSE);
    wait_until(|| !b.cache_stats().unwrap().listening).await;
    assert!(!b.cache_contains(&lease.id), "the cache survived the loss");
    // Unheard release: b must ask the database.
    a.release(&lease.id, &viewer("lou")).await.unwrap();
    assert!(matches!(
        check(&b, lease.id.clone()).await,
        Err(LeaseError::NotFound)
    ));
    let other = a.create(request("lou", "m", LONG_TTL, 2)).await.unwrap();
    check(&b, other.id.clone()).await.unwrap();
    check(&b, other.id.clone()).await.unwrap();
    let s = b.cache_stats().unwrap();
    assert_eq!(s.hits, 1, "the cache answered while not listening: {s:?}");
    assert!(s.bypasses >= 3, "{s:?}");
    assert_eq!(s.entries, 0);

    proxy.set(FORWARD);
    wait_listening(&b, 1).await;
    check(&b, other.id.clone()).await.unwrap();
    check(&b, other.id.clone()).await.unwrap();
    assert_eq!(
        b.cache_stats().unwrap().hits,
        2,
        "no cache after relistening"
    );
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "condition not reached"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A listener connection that silently stops delivering (a partition: no FIN, no error)
/// stops the cache within three heartbeats, so a release it never hears of is seen by
/// then; once the connection is declared dead the listener reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_listener_stops_the_cache_within_three_heartbeats() {
    let heartbeat = Duration::from_millis(100);
    let proxy = Proxy::start().await;
    let config = common::config("silent");
    let a = common::store(config.clone()).await;
    let b = common::store(
        config.with_cache(
            CacheConfig::on()
                .with_listener_url(proxy.url())
                .with_heartbeat(heartbeat),
        ),
    )
    .await;
    let lease = a.create(request("sid", "m", LONG_TTL, 1)).await.unwrap();
    b.check(&lease.id, &viewer("sid"), &content("m"))
        .await
        .unwrap();
    assert!(b.cache_contains(&lease.id));
    let cut = Instant::now();
    proxy.set(BLACKHOLE);
    a.release(&lease.id, &viewer("sid")).await.unwrap();
    let deadline = cut + heartbeat * 3 + Duration::from_millis(20);
    tokio::time::sleep_until(deadline.into()).await;
    assert!(
        matches!(
            b.check(&lease.id, &viewer("sid"), &content("m")).await,
            Err(LeaseError::NotFound)
        ),
        "a cache whose listener went silent answered {:?} after three heartbeats",
        cut.elapsed()
    );
    proxy.set(FORWARD);
    wait_listening(&b, 1).await;
}

/// A cached lease ends when the database said it would, counted on the instance's
/// monotonic clock: with the database clock an hour ahead of this machine's, a one-second
/// lease cached by another instance is `Expired` after a second, not an hour later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cached_lease_ends_at_the_database_expiry_whatever_the_instance_clock() {
    let clock = DbClockOffset::new();
    clock.advance(Duration::from_secs(3600));
    let config = common::config("skew").with_clock_offset(clock);
    let a = common::store(config.clone()).await;
    let b = common::store(config).await;
    let ttl = Duration::from_secs(1);
    let lease = a.create(request("sky", "m", ttl, 1)).await.unwrap();
    b.check(&lease.id, &viewer("sky"), &content("m"))
        .await
        .unwrap();
    b.check(&lease.id, &viewer("sky"), &content("m"))
        .await
        .unwrap();
    assert_eq!(b.cache_stats().unwrap().hits, 1);
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let after = b.check(&lease.id, &viewer("sky"), &content("m")).await;
    assert!(
        matches!(after, Err(LeaseError::Expired)),
        "a cached lease outlived its database expiry: {after:?}"
    );
}

/// A renewal seen by an instance extends its entry; refusals are never cached; other
/// viewers and other content go to the database and get its answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renewals_extend_and_refusals_are_not_cached() {
    let (a, b) = pair("renew").await;
    let lease = a
        .create(request("ren", "m", Duration::from_secs(1), 1))
        .await
        .unwrap();
    b.renew(&lease.id, &viewer("ren"), LONG_TTL).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let hits = b.cache_stats().unwrap().hits;
    b.check(&lease.id, &viewer("ren"), &content("m"))
        .await
        .unwrap();
    assert_eq!(
        b.cache_stats().unwrap().hits,
        hits + 1,
        "the renewal's entry did not answer"
    );
    for _ in 0..2 {
        assert!(matches!(
            b.check(&lease.id, &viewer("eve"), &content("m")).await,
            Err(LeaseError::NotFound)
        ));
        assert!(matches!(
            b.check(&lease.id, &viewer("ren"), &content("other")).await,
            Err(LeaseError::WrongContent)
        ));
    }
    assert_eq!(b.cache_stats().unwrap().hits, hits + 1);
    // The refusals left nothing behind: the owner's check still succeeds.
    b.check(&lease.id, &viewer("ren"), &content("m"))
        .await
        .unwrap();
    // A refusal of a fresh instance is not remembered either.
    let c = common::store(b.config().clone()).await;
    assert!(matches!(
        c.check(&lease.id, &viewer("eve"), &content("m")).await,
        Err(LeaseError::NotFound)
    ));
    c.check(&lease.id, &viewer("ren"), &content("m"))
        .await
        .unwrap();
}

/// The cache bound holds, evicting and counting.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cache_stays_within_its_bound() {
    let config = common::config("bound").with_cache(CacheConfig::on().with_max_entries(3));
    let store = common::store(config).await;
    for i in 0..10 {
        let v = format!("b{i}");
        let lease = store.create(request(&v, "m", LONG_TTL, 1)).await.unwrap();
        store
            .check(&lease.id, &viewer(&v), &content("m"))
            .await
            .unwrap();
    }
    let s = store.cache_stats().unwrap();
    assert_eq!((s.entries, s.evictions), (3, 7), "{s:?}");
}

/// A cache that cannot listen fails the store at start-up with a message that says what
/// to do; bad cache settings are refused naming the setting.
#[tokio::test]
async fn a_cache_that_cannot_listen_fails_at_start_up() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = common::config("nolisten")
        .with_connect_timeout(Duration::from_secs(2))
        .with_cache(
            CacheConfig::on().with_listener_url(format!("postgres://u:pw@127.0.0.1:{port}/d")),
        );
    let err = PostgresLeaseStore::connect_with(&postgres_url(), config)
        .await
        .unwrap_err();
    let text = format!("{:?} {}", err, std::error::Error::source(&err).unwrap());
    assert!(
        text.contains("cache.listener_url") && text.contains("session connection"),
        "{text}"
    );
    assert!(!text.contains("pw@"), "{text}");
    assert!(
        matches!(
            std::error::Error::source(&err).and_then(|s| s.downcast_ref::<PostgresConfigError>()),
            Some(PostgresConfigError::Listener(_))
        ),
        "{text}"
    );

    let zero = PostgresLeaseStore::connect_with(
        &postgres_url(),
        common::config("zero").with_cache(CacheConfig::on().with_max_entries(0)),
    )
    .await;
    assert!(
        matches!(zero, Err(LeaseError::InvalidRequest(m)) if m.contains("cache.max_entries")),
        "size 0 accepted"
    );
    let store = common::store(common::config("frompool")).await;
    let from_pool = PostgresLeaseStore::from_pool(
        store.pool().clone(),
        PostgresConfig::default().with_cache(CacheConfig::on()),
    )
    .await;
    assert!(
        matches!(from_pool, Err(LeaseError::InvalidRequest(m)) if m.contains("cache.listener_url"))
    );
}

/// The releasing instance forgets the lease before `release` returns: no window there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_releasing_instance_forgets_at_once() {
    let (a, _b) = pair("self").await;
    for round in 0..20 {
        let v = format!("self-{round}");
        let lease = a.create(request(&v, "m", LONG_TTL, 1)).await.unwrap();
        a.check(&lease.id, &viewer(&v), &content("m"))
            .await
            .unwrap();
        assert!(a.cache_contains(&lease.id));
        a.release(&lease.id, &viewer(&v)).await.unwrap();
        assert!(
            matches!(
                a.check(&lease.id, &viewer(&v), &content("m")).await,
                Err(LeaseError::NotFound)
            ),
            "round {round}: the releasing instance still answered from its cache"
        );
    }
}

/// A check that read the lease before its release committed, and whose answer arrives
/// after the release's notification, must not store it: here the checking instance's
/// queries go through a proxy that holds the database's replies for 400 ms while another
/// instance releases the lease and the notification arrives directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_check_answered_before_a_release_is_not_cached_after_its_notification() {
    let proxy = Proxy::start().await;
    let config = common::config("inflight");
    let a = common::store(config.clone()).await;
    // b's pool through the proxy, b's listener directly to the database.
    let b = PostgresLeaseStore::connect_with(
        &proxy.url(),
        // Unnamed statements: one round trip, so the query runs at once and only its
        // reply is held.
        config
            .with_prepared_statements(false)
            .with_cache(CacheConfig::on().with_listener_url(postgres_url())),
    )
    .await
    .unwrap();
    for round in 0..3 {
        let v = format!("fly-{round}");
        let lease = a.create(request(&v, "m", LONG_TTL, 1)).await.unwrap();
        let mut changes = b.cache_changes().unwrap();
        let seen = *changes.borrow_and_update();
        proxy.delay_replies(Duration::from_millis(400));
        let checking = {
            let (b, id, v) = (b.clone(), lease.id.clone(), v.clone());
            tokio::spawn(async move { b.check(&id, &viewer(&v), &content("m")).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        a.release(&lease.id, &viewer(&v)).await.unwrap();
        // The notification reached b while its check's answer was still held.
        tokio::time::timeout(Duration::from_secs(5), changes.wait_for(|n| *n > seen))
            .await
            .unwrap()
            .unwrap();
        assert!(
            !checking.is_finished(),
            "round {round}: the reply was not held"
        );
        checking.await.unwrap().unwrap();
        proxy.delay_replies(Duration::ZERO);
        assert!(
            !b.cache_contains(&lease.id),
            "round {round}: b cached a lease whose release it had already heard of"
        );
        assert!(matches!(
            b.check(&lease.id, &viewer(&v), &content("m")).await,
            Err(LeaseError::NotFound)
        ));
    }
}

/// A lease deleted by anything but `release` (an instance of a version that did not
/// notify, during a rolling upgrade; an operator revoking leases in SQL) still leaves
/// every cache: the table's delete trigger notifies. Deleting an expired lease sends
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_deleted_in_sql_leaves_every_cache() {
    let (a, b) = pair("sqldelete").await;
    let prefix = a.config().table_prefix.clone();
    let sql = a.pool().get().await.unwrap();
    for round in 0..5 {
        let v = format!("sql-{round}");
        let lease = a.create(request(&v, "m", LONG_TTL, 1)).await.unwrap();
        for store in [&a, &b] {
            store
                .check(&lease.id, &viewer(&v), &content("m"))
                .await
                .unwrap();
            assert!(store.cache_contains(&lease.id));
        }
        let deleted = sql
            .execute(
                &format!("DELETE FROM {prefix}leases WHERE id = $1"),
                &[&lease.id.as_str()],
            )
            .await
            .unwrap();
        assert_eq!(deleted, 1);
        let started = Instant::now();
        while a.cache_contains(&lease.id) || b.cache_contains(&lease.id) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "round {round}: a cache kept a lease deleted in SQL"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for store in [&a, &b] {
            assert!(matches!(
                store.check(&lease.id, &viewer(&v), &content("m")).await,
                Err(LeaseError::NotFound)
            ));
        }
    }
    // An expired lease's delete (what purges do) notifies no one.
    let before = b.cache_stats().unwrap().notifications;
    let v = "sql-expired";
    let lease = a.create(request(v, "m", LONG_TTL, 1)).await.unwrap();
    sql.execute(
        &format!("UPDATE {prefix}leases SET expires_at = clock_timestamp() - interval '1 s' WHERE id = $1"),
        &[&lease.id.as_str()],
    )
    .await
    .unwrap();
    sql.execute(
        &format!("DELETE FROM {prefix}leases WHERE id = $1"),
        &[&lease.id.as_str()],
    )
    .await
    .unwrap();
    // A release of a live lease afterwards: its one notification is the only one that
    // arrives (and shows that a release's own and the trigger's are delivered once).
    let live = a.create(request(v, "m", LONG_TTL, 1)).await.unwrap();
    a.release(&live.id, &viewer(v)).await.unwrap();
    let started = Instant::now();
    while b.cache_stats().unwrap().notifications < before + 1 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no notification of the release"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.cache_stats().unwrap().notifications, before + 1);
}

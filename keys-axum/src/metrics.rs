//! Prometheus metrics (opt-in): keys issued, refusals by reason, key requests by key
//! version, lease operations, a key-request latency histogram, and the JWKS refreshes. Plain atomics and the text
//! exposition format; no registry crate needed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blindcast_keys_core::lease::{MetricKind, StoreMetric};
use blindcast_keys_core::{KeyStatus, KeyVersion, Keyring};

/// JWKS fetches of the process, for `/metrics`. Process-wide because the authenticator
/// is handed to the router as an opaque `dyn Authenticator`; a process normally has one
/// JWKS URL (with several, the figures are summed).
#[derive(Debug)]
pub(crate) struct JwksStats {
    in_use: AtomicBool,
    fetched: AtomicU64,
    failed: AtomicU64,
    /// Seconds since the Unix epoch of the last successful fetch; 0 before the first.
    last_ok_unix: AtomicU64,
}

/// The process's JWKS figures.
pub(crate) static JWKS: JwksStats = JwksStats {
    in_use: AtomicBool::new(false),
    fetched: AtomicU64::new(0),
    failed: AtomicU64::new(0),
    last_ok_unix: AtomicU64::new(0),
};

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl JwksStats {
    /// A JWKS URL is configured: its lines appear in `/metrics`.
    pub(crate) fn in_use(&self) {
        self.in_use.store(true, Ordering::Relaxed);
    }

    pub(crate) fn fetch(&self, ok: bool) {
        if ok {
            self.fetched.fetch_add(1, Ordering::Relaxed);
            self.last_ok_unix.store(unix_now(), Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn render(&self, out: &mut String) {
        if !self.in_use.load(Ordering::Relaxed) {
            return;
        }
        let _ = writeln!(
            out,
            "# HELP blindcast_jwks_fetches_total JWKS fetches, by outcome (failed: the last good key set stays in use)."
        );
        let _ = writeln!(out, "# TYPE blindcast_jwks_fetches_total counter");
        for (outcome, n) in [("ok", &self.fetched), ("failed", &self.failed)] {
            let _ = writeln!(
                out,
                "blindcast_jwks_fetches_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP blindcast_jwks_key_set_age_seconds Time since the key set in use was fetched (-1: never fetched)."
        );
        let _ = writeln!(out, "# TYPE blindcast_jwks_key_set_age_seconds gauge");
        let last = self.last_ok_unix.load(Ordering::Relaxed);
        let age = if last == 0 {
            -1
        } else {
            i64::try_from(unix_now().saturating_sub(last)).unwrap_or(i64::MAX)
        };
        let _ = writeln!(out, "blindcast_jwks_key_set_age_seconds {age}");
    }
}

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// Key requests naming one master-key version of the keyring.
#[derive(Debug)]
struct VersionCount {
    version: KeyVersion,
    status: KeyStatus,
    issued: AtomicU64,
    refused: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Metrics {
    keys_issued: AtomicU64,
    /// One entry per version of the keyring, fixed when the router is built: the label
    /// set stays bounded (a request naming an unknown version shows only in the refusals,
    /// as `unknown_key_version`), and counting is a scan of a few entries, no allocation.
    versions: Vec<VersionCount>,
    refusals: Mutex<BTreeMap<String, u64>>,
    lease_ops: Mutex<BTreeMap<(&'static str, u16), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Metrics {
    pub(crate) fn new(keyring: &Keyring) -> Self {
        Self {
            keys_issued: AtomicU64::default(),
            versions: keyring
                .versions()
                .map(|(version, status)| VersionCount {
                    version,
                    status,
                    issued: AtomicU64::default(),
                    refused: AtomicU64::default(),
                })
                .collect(),
            refusals: Mutex::default(),
            lease_ops: Mutex::default(),
            buckets: Default::default(),
            count: AtomicU64::default(),
            sum_us: AtomicU64::default(),
        }
    }

    /// A key request that ended with `refusal` (`None`: issued), naming key version `kv`
    /// (`None`: refused before its `kv` was read).
    pub(crate) fn key_request(
        &self,
        refusal: Option<&str>,
        kv: Option<KeyVersion>,
        latency: Duration,
    ) {
        if let Some(count) = kv.and_then(|kv| self.versions.iter().find(|c| c.version == kv)) {
            let counter = match refusal {
                None => &count.issued,
                Some(_) => &count.refused,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        match refusal {
            None => {
                self.keys_issued.fetch_add(1, Ordering::Relaxed);
            }
            Some(reason) => {
                if let Ok(mut map) = self.refusals.lock() {
                    // A new `String` only for a reason not seen before.
                    match map.get_mut(reason) {
                        Some(n) => *n += 1,
                        None => {
                            map.insert(reason.to_owned(), 1);
                        }
                    }
                }
            }
        }
        let secs = latency.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// A lease operation (`create`, `renew`, `release`, or the `check` of a key request)
    /// that ended with HTTP `status`.
    pub(crate) fn lease_op(&self, op: &'static str, status: u16) {
        if let Ok(mut map) = self.lease_ops.lock() {
            *map.entry((op, status)).or_default() += 1;
        }
    }

    /// The exposition, with the lease store's own figures (`store`) after the router's.
    pub(crate) fn render(&self, store: &[StoreMetric]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP blindcast_keys_issued_total Keys served.");
        let _ = writeln!(out, "# TYPE blindcast_keys_issued_total counter");
        let _ = writeln!(
            out,
            "blindcast_keys_issued_total {}",
            self.keys_issued.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP blindcast_key_refusals_total Key requests refused, by reason."
        );
        let _ = writeln!(out, "# TYPE blindcast_key_refusals_total counter");
        if let Ok(map) = self.refusals.lock() {
            for (reason, n) in map.iter() {
                let _ = writeln!(
                    out,
                    "blindcast_key_refusals_total{{reason=\"{}\"}} {n}",
                    escape(reason)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP blindcast_key_requests_by_version_total Key requests by the master-key version they name (kv; 1 when absent), issued or refused."
        );
        let _ = writeln!(
            out,
            "# TYPE blindcast_key_requests_by_version_total counter"
        );
        for c in &self.versions {
            for (outcome, n) in [("issued", &c.issued), ("refused", &c.refused)] {
                let _ = writeln!(
                    out,
                    "blindcast_key_requests_by_version_total{{kv=\"{}\",outcome=\"{outcome}\"}} {}",
                    c.version,
                    n.load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP blindcast_key_versions The keyring's master-key versions, one series per version with its status (primary, active, retired)."
        );
        let _ = writeln!(out, "# TYPE blindcast_key_versions gauge");
        for c in &self.versions {
            let _ = writeln!(
                out,
                "blindcast_key_versions{{kv=\"{}\",status=\"{}\"}} 1",
                c.version, c.status
            );
        }
        let _ = writeln!(
            out,
            "# HELP blindcast_lease_operations_total Lease operations (create, renew, release, and the check of a key request), by operation and HTTP status."
        );
        let _ = writeln!(out, "# TYPE blindcast_lease_operations_total counter");
        if let Ok(map) = self.lease_ops.lock() {
            for ((op, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "blindcast_lease_operations_total{{operation=\"{op}\",outcome=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP blindcast_key_request_duration_seconds Key request latency."
        );
        let _ = writeln!(
            out,
            "# TYPE blindcast_key_request_duration_seconds histogram"
        );
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "blindcast_key_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "blindcast_key_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "blindcast_key_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "blindcast_key_request_duration_seconds_count {count}");
        JWKS.render(&mut out);
        for m in store {
            let kind = match m.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {} {}", m.name, m.help);
            let _ = writeln!(out, "# TYPE {} {kind}", m.name);
            let _ = writeln!(out, "{} {}", m.name, m.value);
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

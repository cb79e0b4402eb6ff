//! [`StoreMetric`]: a figure a lease store keeps about itself, for the router's
//! `/metrics` (e.g. how often a cache answered).

/// Whether a [`StoreMetric`] only grows or goes up and down (Prometheus' types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only grows while the store lives (a `_total`).
    Counter,
    /// A current value.
    Gauge,
}

/// One figure of [`LeaseStore::metrics`](super::LeaseStore::metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreMetric {
    /// The metric's full name, `[a-z_]+` (e.g. `blindcast_lease_cache_hits_total`).
    pub name: &'static str,
    /// One line saying what it counts.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// The value now.
    pub value: u64,
}

impl StoreMetric {
    /// A counter.
    pub const fn counter(name: &'static str, help: &'static str, value: u64) -> Self {
        Self {
            name,
            help,
            kind: MetricKind::Counter,
            value,
        }
    }

    /// A gauge.
    pub const fn gauge(name: &'static str, help: &'static str, value: u64) -> Self {
        Self {
            name,
            help,
            kind: MetricKind::Gauge,
            value,
        }
    }
}

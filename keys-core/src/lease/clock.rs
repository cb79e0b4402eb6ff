//! Clocks that decide lease expiry in stores that keep time themselves.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to, for tests that control expiry without sleeping.
/// Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Moves the clock back by `by`, as an NTP step or an operator's `date -s` does to the
    /// system clock.
    pub fn step_back(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now -= by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(SystemTime::now())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A clock that never goes back: it returns the latest time its inner clock has shown.
///
/// Stores that keep time themselves read their clock through this, so a backwards step
/// of the system clock (NTP, an operator) cannot make an expired lease usable again
/// while another lease has taken its slot: after a step back by `d`, time stands still
/// for `d` and then moves on. Clones share the high-water mark.
#[derive(Debug, Clone)]
pub struct MonotonicClock {
    inner: Arc<dyn Clock>,
    latest: Arc<Mutex<SystemTime>>,
}

impl MonotonicClock {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            latest: Arc::new(Mutex::new(SystemTime::UNIX_EPOCH)),
        }
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> SystemTime {
        let now = self.inner.now();
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        *latest = (*latest).max(now);
        *latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_stands_still_through_a_backwards_step() {
        let manual = ManualClock::default();
        let clock = MonotonicClock::new(Arc::new(manual.clone()));
        let start = clock.now();
        manual.step_back(Duration::from_secs(10));
        assert_eq!(clock.now(), start, "a step back must not move time back");
        manual.advance(Duration::from_secs(4));
        assert_eq!(clock.now(), start, "still behind the high-water mark");
        manual.advance(Duration::from_secs(7));
        assert_eq!(clock.now(), start + Duration::from_secs(1));
    }
}

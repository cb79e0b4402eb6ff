//! A deadline for a whole test, so a hang fails with a message instead of stalling the
//! suite. Shared with the system tests (included there by path).
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

/// Runs `f` with a deadline; panics with `what` when it is passed.
pub async fn bounded<T>(limit: Duration, what: &str, f: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!(
            "{what}: not done within {limit:?} (started {:?} ago)",
            started.elapsed()
        ),
    }
}

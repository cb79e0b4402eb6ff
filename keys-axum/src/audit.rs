//! The audit trail: one structured event per key issued or refused, on the tracing target
//! `blindcast_keys::audit`. Events carry ids and outcomes, never key bytes or tokens.

use std::time::Instant;

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{LeaseId, ViewerId};

/// The tracing target of audit events.
pub const AUDIT_TARGET: &str = "blindcast_keys::audit";

/// What is known about a key request so far; emitted once when it ends.
#[derive(Debug)]
pub(crate) struct KeyAudit {
    pub(crate) started: Instant,
    pub(crate) viewer: Option<ViewerId>,
    pub(crate) content: Option<ContentId>,
    pub(crate) epoch: Option<u64>,
    pub(crate) lease: Option<LeaseId>,
}

impl KeyAudit {
    pub(crate) fn start() -> Self {
        Self {
            started: Instant::now(),
            viewer: None,
            content: None,
            epoch: None,
            lease: None,
        }
    }

    /// Emits the event. `refusal` is the error code, or `None` when the key was issued.
    pub(crate) fn emit(&self, refusal: Option<&str>, status: u16) {
        let latency_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let viewer = self.viewer.as_ref().map(ViewerId::as_str);
        let content = self.content.as_ref().map(ContentId::as_str);
        let lease = self.lease.as_ref().map(LeaseId::as_str);
        match refusal {
            None => tracing::info!(
                target: AUDIT_TARGET,
                outcome = "issued",
                status,
                viewer,
                content,
                epoch = self.epoch,
                lease,
                latency_us,
                "key issued"
            ),
            Some(reason) => tracing::info!(
                target: AUDIT_TARGET,
                outcome = "refused",
                reason,
                status,
                viewer,
                content,
                epoch = self.epoch,
                lease,
                latency_us,
                "key refused"
            ),
        }
    }
}

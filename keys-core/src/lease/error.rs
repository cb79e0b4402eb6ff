//! The one error type of every lease store.

/// A boxed error from a backend, kept as the source of [`LeaseError::Backend`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a lease operation did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// The viewer already holds `active` unexpired leases, and at most `max` are allowed.
    #[error("lease limit reached: {active} of {max} leases active")]
    LimitReached {
        /// Unexpired leases the viewer holds.
        active: u32,
        /// The limit that applied: the request's
        /// [`max_leases_per_viewer`](super::CreateLease::max_leases_per_viewer).
        max: u32,
    },
    /// No such lease for this viewer (unknown id, another viewer's lease, or purged).
    #[error("lease not found")]
    NotFound,
    /// The lease has expired; it cannot be renewed or used.
    #[error("lease expired")]
    Expired,
    /// The lease exists but covers other content.
    #[error("lease covers other content")]
    WrongContent,
    /// The idempotency key was already used by this viewer for a different content id.
    #[error("idempotency key already used for other content")]
    IdempotencyConflict,
    /// The request itself is invalid (a zero TTL, a zero limit, ...).
    #[error("invalid lease request: {0}")]
    InvalidRequest(&'static str),
    /// The store cannot be reached in time (pool exhausted, database down).
    #[error("lease store unavailable")]
    Unavailable(#[source] BoxError),
    /// Any other failure of the backend.
    #[error("lease store failure")]
    Backend(#[source] BoxError),
}

impl LeaseError {
    /// Wraps a backend error.
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend(source.into())
    }

    /// Wraps an error that means the backend could not be reached.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }

    /// True for errors of the store rather than of the request: the caller should fail
    /// closed (HTTP 503) and may retry later.
    pub fn is_store_failure(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Backend(_))
    }
}

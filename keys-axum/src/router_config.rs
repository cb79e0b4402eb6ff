//! [`RouterConfig`]: the router's options, each checked once, by [`RouterConfigBuilder::build`].

use std::time::Duration;

use blindcast_keys_core::lease::MAX_LEASE_TTL;

use crate::settings::ConfigError;

/// Shortest lease lifetime: a player renews well before expiry, so shorter ones only
/// make viewers lose their lease between two renewals.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(3);
/// Smallest request body limit: a lease-create body with the longest content id, every
/// byte JSON-escaped (`\u00XX`), fits.
pub const MIN_BODY_BYTES: usize = 1024;

/// The router's options. Built by [`RouterConfig::builder`], which refuses values that
/// would disable a protection or break every request; [`Default`] holds the defaults.
///
/// ```
/// use std::time::Duration;
/// use blindcast_keys_axum::RouterConfig;
///
/// let config = RouterConfig::builder()
///     .lease_ttl(Duration::from_secs(60))
///     .max_leases_per_viewer(2)
///     .build()?;
/// assert_eq!(config.max_leases_per_viewer(), 2);
/// let err = RouterConfig::builder().max_leases_per_viewer(0).build().unwrap_err();
/// assert_eq!(err.setting, "max_leases_per_viewer");
/// # Ok::<(), blindcast_keys_axum::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub(crate) key_cache_max_age: Option<u32>,
    pub(crate) entitlement_claim: Option<String>,
    pub(crate) lease_ttl: Duration,
    pub(crate) max_leases_per_viewer: u32,
    pub(crate) max_body_bytes: usize,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) metrics: bool,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            key_cache_max_age: None,
            entitlement_claim: None,
            lease_ttl: Duration::from_secs(120),
            max_leases_per_viewer: 3,
            max_body_bytes: 4 * 1024,
            request_timeout: Some(Duration::from_secs(10)),
            metrics: false,
        }
    }
}

impl RouterConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> RouterConfigBuilder {
        RouterConfigBuilder(Self::default())
    }

    /// A builder starting from these options.
    pub fn to_builder(&self) -> RouterConfigBuilder {
        RouterConfigBuilder(self.clone())
    }

    /// `None`: keys are sent with `Cache-Control: no-store` (the default). `Some(n)`:
    /// `private, max-age=n`.
    pub fn key_cache_max_age(&self) -> Option<u32> {
        self.key_cache_max_age
    }

    /// The claim listing the content a viewer may watch (`None`: every key).
    pub fn entitlement_claim(&self) -> Option<&str> {
        self.entitlement_claim.as_deref()
    }

    /// Lease lifetime.
    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// Unexpired leases one viewer may hold.
    pub fn max_leases_per_viewer(&self) -> u32 {
        self.max_leases_per_viewer
    }

    /// Largest request body, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Time limit for one request (`None`: none).
    pub fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout
    }

    /// Whether `/metrics` is served.
    pub fn metrics(&self) -> bool {
        self.metrics
    }
}

/// Builds a [`RouterConfig`]; [`build`](Self::build) checks every option and names the
/// first bad one.
#[derive(Debug, Clone)]
#[must_use]
pub struct RouterConfigBuilder(RouterConfig);

impl RouterConfigBuilder {
    /// Lets players cache keys for `seconds` (`Cache-Control: private, max-age=N`); 0
    /// (the default) sends `no-store`. Never cacheable by shared caches.
    pub fn key_cache_max_age(mut self, seconds: u32) -> Self {
        self.0.key_cache_max_age = (seconds > 0).then_some(seconds);
        self
    }

    /// The claim that lists the content a viewer may watch (`["movie-1", "series-*"]`).
    /// Without one (the default) every authenticated viewer may fetch every key.
    pub fn entitlement_claim(mut self, claim: impl Into<String>) -> Self {
        self.0.entitlement_claim = Some(claim.into());
        self
    }

    /// Lease lifetime, [`MIN_LEASE_TTL`] to 24 hours (default 120 s).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.0.lease_ttl = ttl;
        self
    }

    /// Unexpired leases one viewer may hold, at least 1 (default 3).
    pub fn max_leases_per_viewer(mut self, max: u32) -> Self {
        self.0.max_leases_per_viewer = max;
        self
    }

    /// Largest request body, at least [`MIN_BODY_BYTES`] (default 4 KiB); larger ones
    /// get 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.0.max_body_bytes = bytes;
        self
    }

    /// Time limit for one request, body included (default 10 s; more than 0), then 408.
    /// `None` sets no limit (for a front that enforces its own).
    pub fn request_timeout(mut self, limit: Option<Duration>) -> Self {
        self.0.request_timeout = limit;
        self
    }

    /// Serve Prometheus metrics at `/metrics` (default off).
    pub fn metrics(mut self, on: bool) -> Self {
        self.0.metrics = on;
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad option (`lease_ttl`,
    /// `max_leases_per_viewer`, `max_body_bytes`, `request_timeout`,
    /// `entitlement_claim`).
    pub fn build(self) -> Result<RouterConfig, ConfigError> {
        let c = self.0;
        if !(MIN_LEASE_TTL..=MAX_LEASE_TTL).contains(&c.lease_ttl) {
            return Err(ConfigError::new(
                "lease_ttl",
                "must be from 3 seconds to 24 hours",
            ));
        }
        if c.max_leases_per_viewer == 0 {
            return Err(ConfigError::new(
                "max_leases_per_viewer",
                "must be at least 1 (0 would refuse every lease)",
            ));
        }
        if c.max_body_bytes < MIN_BODY_BYTES {
            return Err(ConfigError::new(
                "max_body_bytes",
                format!(
                    "must be at least {MIN_BODY_BYTES} (a smaller limit refuses lease requests)"
                ),
            ));
        }
        if c.request_timeout.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::new("request_timeout", "must be more than 0"));
        }
        if let Some(claim) = &c.entitlement_claim
            && (claim.is_empty()
                || claim
                    .chars()
                    .any(|ch| ch.is_whitespace() || ch.is_control()))
        {
            return Err(ConfigError::new(
                "entitlement_claim",
                "must name a claim, without spaces or control characters (leave it unset to \
                 skip entitlement checks)",
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option_of(builder: RouterConfigBuilder) -> String {
        builder.build().unwrap_err().setting
    }

    #[test]
    fn every_bad_option_is_refused_by_name() {
        let b = RouterConfig::builder;
        assert_eq!(
            option_of(b().lease_ttl(Duration::from_secs(2))),
            "lease_ttl"
        );
        assert_eq!(
            option_of(b().lease_ttl(MAX_LEASE_TTL + Duration::from_secs(1))),
            "lease_ttl"
        );
        assert_eq!(
            option_of(b().max_leases_per_viewer(0)),
            "max_leases_per_viewer"
        );
        assert_eq!(option_of(b().max_body_bytes(0)), "max_body_bytes");
        assert_eq!(
            option_of(b().max_body_bytes(MIN_BODY_BYTES - 1)),
            "max_body_bytes"
        );
        assert_eq!(
            option_of(b().request_timeout(Some(Duration::ZERO))),
            "request_timeout"
        );
        for claim in ["", " ", "a b", "\u{7f}"] {
            assert_eq!(option_of(b().entitlement_claim(claim)), "entitlement_claim");
        }
        // The edges are allowed.
        let ok = b()
            .lease_ttl(MIN_LEASE_TTL)
            .max_leases_per_viewer(1)
            .max_body_bytes(MIN_BODY_BYTES)
            .request_timeout(None)
            .build()
            .unwrap();
        assert_eq!(ok.lease_ttl(), MIN_LEASE_TTL);
        assert!(b().lease_ttl(MAX_LEASE_TTL).build().is_ok());
        assert_eq!(b().build().unwrap(), RouterConfig::default());
    }

    #[test]
    fn a_longest_lease_create_body_fits_the_smallest_limit() {
        let id = "\\u0041".repeat(blindcast_keys_core::MAX_CONTENT_ID_LEN);
        let body = format!("{{\"contentId\": \"{id}\"}}");
        assert!(body.len() <= MIN_BODY_BYTES, "{}", body.len());
    }
}

//! [`AppState`]: what every handler shares, built once by the router.

use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_core::{Keyring, LeaseStore};
use http::HeaderValue;

use crate::auth::Authenticator;
use crate::metrics::Metrics;

/// Shared by every handler. Holds the router options the handlers read, not the options
/// type itself, so handlers depend on this module and not on the router that builds it.
#[derive(Debug)]
pub(crate) struct AppState {
    /// Every master-key version the router knows; key requests pick one with `kv`.
    pub(crate) keyring: Keyring,
    pub(crate) auth: Arc<dyn Authenticator>,
    pub(crate) leases: Option<Arc<dyn LeaseStore>>,
    pub(crate) cache_control: HeaderValue,
    /// The claim listing the content a viewer may watch; `None`: every viewer may.
    pub(crate) entitlement_claim: Option<String>,
    pub(crate) lease_ttl: Duration,
    pub(crate) max_leases_per_viewer: u32,
    pub(crate) max_body_bytes: usize,
    pub(crate) metrics: Option<Metrics>,
    #[cfg(feature = "presign")]
    pub(crate) presign: Option<Arc<crate::presign::PresignConfig>>,
    #[cfg(feature = "speke")]
    pub(crate) speke: Option<crate::speke::SpekeConfig>,
}

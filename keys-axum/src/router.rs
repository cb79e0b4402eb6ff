//! [`KeyServer`]: builds the axum [`Router`] of the key server.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use blindcast_keys_core::{Keyring, LeaseStore};
use http::HeaderValue;

use crate::auth::Authenticator;
use crate::cors::CorsConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::outcome::RecordLayer;
use crate::router_config::RouterConfig;
use crate::state::AppState;
use crate::{health, key_routes, lease_routes};

/// Builds the key server's [`Router`]: the key and lease routes, health checks, CORS and
/// error mapping, ready to be served by `axum::serve`, nested in another router, or run on
/// AWS Lambda.
///
/// ```
/// use blindcast_keys_axum::{KeyServer, auth::JwtAuthenticator};
/// use blindcast_keys_core::{KeyDeriver, MasterKey, Salt};
///
/// let deriver = KeyDeriver::new(&MasterKey::from_hex(&"0b".repeat(32))?, &Salt::from_hex(&"00".repeat(16))?);
/// let auth = JwtAuthenticator::builder().hs256_secret(&[7; 32]).build()?;
/// let router: axum::Router = KeyServer::new(deriver, auth).router();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A [`Keyring`] of several master-key versions takes the deriver's place; key requests
/// then pick a version with the query parameter `kv` (absent: version 1):
///
/// ```
/// use blindcast_keys_axum::{KeyServer, auth::JwtAuthenticator};
/// use blindcast_keys_core::{KeyVersion, Keyring, MasterKey, Salt};
///
/// let keyring = Keyring::builder()
///     .version(KeyVersion::V1, &MasterKey::from_hex(&"0b".repeat(32))?, &Salt::from_hex(&"00".repeat(16))?)
///     .version(KeyVersion::new(2)?, &MasterKey::from_hex(&"0c".repeat(32))?, &Salt::from_hex(&"01".repeat(16))?)
///     .primary(KeyVersion::new(2)?)
///     .build()?;
/// let auth = JwtAuthenticator::builder().hs256_secret(&[7; 32]).build()?;
/// let router: axum::Router = KeyServer::new(keyring, auth).router();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct KeyServer {
    keyring: Keyring,
    auth: Arc<dyn Authenticator>,
    leases: Option<Arc<dyn LeaseStore>>,
    cors: Option<CorsConfig>,
    config: RouterConfig,
    #[cfg(feature = "presign")]
    presign: Option<Arc<crate::presign::PresignConfig>>,
    #[cfg(feature = "speke")]
    speke: Option<crate::speke::SpekeConfig>,
}

impl KeyServer {
    /// A key server deriving keys with `keyring` (a [`Keyring`], or one
    /// [`KeyDeriver`](blindcast_keys_core::KeyDeriver): a one-version keyring),
    /// authenticating with `authenticator`, without leases and without CORS.
    pub fn new(keyring: impl Into<Keyring>, authenticator: impl Authenticator) -> Self {
        Self::with_authenticator(keyring, Arc::new(authenticator))
    }

    /// Like [`new`](Self::new), with a shared authenticator.
    pub fn with_authenticator(
        keyring: impl Into<Keyring>,
        authenticator: Arc<dyn Authenticator>,
    ) -> Self {
        Self {
            keyring: keyring.into(),
            auth: authenticator,
            leases: None,
            cors: None,
            config: RouterConfig::default(),
            #[cfg(feature = "presign")]
            presign: None,
            #[cfg(feature = "speke")]
            speke: None,
        }
    }

    /// Turns leases on: the lease routes answer, and keys are served only under a valid
    /// lease of the viewer for that content.
    #[must_use]
    pub fn lease_store(mut self, store: Arc<dyn LeaseStore>) -> Self {
        self.leases = Some(store);
        self
    }

    /// Answers CORS requests from these origins.
    #[must_use]
    pub fn cors(mut self, cors: CorsConfig) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Turns `POST /presign` on: publishers get presigned URLs for this bucket.
    #[cfg(feature = "presign")]
    #[must_use]
    pub fn presign(mut self, config: crate::presign::PresignConfig) -> Self {
        self.presign = Some(Arc::new(config));
        self
    }

    /// Turns `POST /speke/v1` and `POST /speke/v2` on: packagers get keys and key URIs
    /// through SPEKE.
    #[cfg(feature = "speke")]
    #[must_use]
    pub fn speke(mut self, config: crate::speke::SpekeConfig) -> Self {
        self.speke = Some(config);
        self
    }

    /// Replaces the router options (checked when the [`RouterConfig`] was built).
    #[must_use]
    pub fn config(mut self, config: RouterConfig) -> Self {
        self.config = config;
        self
    }

    /// The options in force.
    pub fn router_config(&self) -> &RouterConfig {
        &self.config
    }

    /// Builds the router.
    pub fn router(self) -> Router {
        let cache_control = match self.config.key_cache_max_age {
            Some(n) => HeaderValue::from_str(&format!("private, max-age={n}"))
                .unwrap_or(HeaderValue::from_static("no-store")),
            None => HeaderValue::from_static("no-store"),
        };
        let metrics_on = self.config.metrics;
        let timeout = self.config.request_timeout;
        let metrics = metrics_on.then(|| Metrics::new(&self.keyring));
        let state = Arc::new(AppState {
            keyring: self.keyring,
            auth: self.auth,
            leases: self.leases,
            cache_control,
            entitlement_claim: self.config.entitlement_claim,
            lease_ttl: self.config.lease_ttl,
            max_leases_per_viewer: self.config.max_leases_per_viewer,
            max_body_bytes: self.config.max_body_bytes,
            metrics,
            #[cfg(feature = "presign")]
            presign: self.presign,
            #[cfg(feature = "speke")]
            speke: self.speke,
        });
        // Every key, lease and presign handler is wrapped in the one layer that records
        // its outcome (audit, metrics, error log); health checks and fallbacks carry none.
        // Per handler: `route_layer` would box each route once more (7 more heap
        // allocations per request).
        let record = RecordLayer(Arc::clone(&state));
        // `leases` is also a valid content id: the lease routes' paths answer GET/HEAD
        // with keys, so no content id is unreachable.
        let mut router = Router::new()
            .route(
                "/keys/{content_id}",
                get(key_routes::content_key.layer(record.clone())),
            )
            .route(
                "/keys/{content_id}/{epoch}",
                get(key_routes::epoch_key.layer(record.clone())),
            )
            .route(
                "/keys/leases",
                post(lease_routes::create.layer(record.clone()))
                    .get(key_routes::leases_content_key.layer(record.clone())),
            )
            .route(
                "/keys/leases/renew",
                post(lease_routes::renew.layer(record.clone()))
                    .get(key_routes::leases_renew_epoch_key.layer(record.clone())),
            )
            .route(
                "/keys/leases/{lease_id}",
                delete(lease_routes::release.layer(record.clone()))
                    .get(key_routes::leases_epoch_key.layer(record.clone())),
            )
            .route("/healthz", get(health::healthz))
            .route("/readyz", get(health::readyz));
        if metrics_on {
            router = router.route("/metrics", get(health::metrics));
        }
        // Without a configuration the route does not exist (404 `not_found`).
        #[cfg(feature = "presign")]
        if state.presign.is_some() {
            router = router.route(
                "/presign",
                post(crate::presign::route::presign.layer(record.clone())),
            );
        }
        #[cfg(feature = "speke")]
        if state.speke.is_some() {
            router = router
                .route(
                    "/speke/v1",
                    post(crate::speke::route::v1.layer(record.clone())),
                )
                .route(
                    "/speke/v2",
                    post(crate::speke::route::v2.layer(record.clone())),
                );
        }
        let mut router = router
            .fallback(|| async { ApiError::NotFound })
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .with_state(state);
        if let Some(limit) = timeout {
            router = router.layer(middleware::from_fn(move |req: Request, next: Next| {
                request_timeout(limit, req, next)
            }));
        }
        // Inside CORS, so the 500 still carries the CORS headers a browser needs to read it.
        router = router.layer(middleware::from_fn(catch_panic));
        if let Some(cors) = &self.cors {
            router = router.layer(cors.layer()).layer(middleware::map_response(
                crate::cors::strip_stray_credentials,
            ));
        }
        router
    }
}

async fn request_timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
}

/// A panicking handler answers a logged 500 `internal` without detail, instead of a
/// connection dropped without an answer (or a failed Lambda invocation).
async fn catch_panic(request: Request, next: Next) -> Response {
    match CatchUnwind(Box::pin(next.run(request))).await {
        Ok(response) => response,
        Err(_) => {
            // The payload may quote request data: it is not logged (the panic hook has
            // already reported where it happened).
            tracing::error!("request handler panicked");
            ApiError::Internal.into_response()
        }
    }
}

/// Polls the inner future inside `catch_unwind`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

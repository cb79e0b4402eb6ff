//! An axum service that mounts the Blindcast key router under `/api`, next to its own
//! routes, with its own [`Authenticator`]: viewers are identified by the service's session
//! header instead of a JWT.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use blindcast_keys_axum::KeyServer;
use blindcast_keys_axum::auth::{AuthRejection, Authenticator, Principal};
use blindcast_keys_core::KeyDeriver;
use blindcast_keys_core::lease::{MemoryLeaseStore, ViewerId};

/// Sessions of this service: `X-Session: user:NAME` (a stand-in for a real session
/// lookup).
#[derive(Debug)]
pub struct SessionAuth;

#[async_trait::async_trait]
impl Authenticator for SessionAuth {
    async fn authenticate(&self, head: &http::request::Parts) -> Result<Principal, AuthRejection> {
        let session = head
            .headers
            .get("x-session")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| AuthRejection::missing("log in first"))?;
        let name = session
            .strip_prefix("user:")
            .ok_or_else(|| AuthRejection::invalid("unknown session"))?;
        let viewer = ViewerId::new(name).map_err(|_| AuthRejection::invalid("unknown session"))?;
        let mut claims = serde_json::Map::new();
        // Everyone may watch the trailers; the entitlement claim says so.
        claims.insert("content".into(), serde_json::json!(["trailer-*"]));
        Ok(Principal::with_claims(viewer, claims))
    }
}

/// The whole service: its own `/` route and the key server under `/api`.
///
/// # Errors
/// A router option out of range, by name (none here).
pub fn app(deriver: KeyDeriver) -> Result<Router, blindcast_keys_axum::ConfigError> {
    let keys = KeyServer::new(deriver, SessionAuth)
        .lease_store(Arc::new(MemoryLeaseStore::new()))
        .config(
            blindcast_keys_axum::RouterConfig::builder()
                .entitlement_claim("content")
                .max_leases_per_viewer(2)
                .build()?,
        )
        .router();
    Ok(Router::new()
        .route("/", get(|| async { "video service" }))
        .nest("/api", keys))
}

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod audit;
pub mod auth;
pub mod cors;
mod entitlement;
mod error;
mod health;
mod json_body;
mod key_routes;
mod lease_routes;
mod metrics;
mod outcome;
#[cfg(feature = "presign")]
pub mod presign;
mod query;
mod router;
mod router_config;
pub mod settings;
#[cfg(feature = "speke")]
pub mod speke;
mod state;

pub use audit::AUDIT_TARGET;
pub use auth::{AuthRejection, Authenticator, JwtAuthenticator, Principal};
pub use cors::CorsConfig;
pub use error::ApiError;
pub use key_routes::LEASE_HEADER;
pub use router::KeyServer;
pub use router_config::{MIN_BODY_BYTES, MIN_LEASE_TTL, RouterConfig, RouterConfigBuilder};
pub use settings::ConfigError;

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "aws-secrets")]
mod extension;
mod gateway_auth;
mod gateway_iam;
mod layer;
mod path;
mod runtime;
mod secrets;
mod server;
mod settings;
mod source;
mod store;

pub use gateway_auth::GatewayAuthorizerAuthenticator;
pub use gateway_iam::GatewayIamAuthenticator;
pub use layer::{LambdaLayer, LambdaService};
pub use runtime::{CONFIG_ERROR_TYPE, ReportError, bootstrap, init_logging, report_init_error};
pub use server::LambdaKeyServer;

/// Re-exported: the router crate (authenticators, CORS, settings) and `lambda_http`.
pub use blindcast_keys_axum as axum_router;
pub use lambda_http;

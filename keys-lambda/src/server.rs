//! [`LambdaKeyServer`]: the key router, wrapped for Lambda, built once at cold start.

use axum::Router;
use blindcast_keys_axum::KeyServer;
use blindcast_keys_axum::settings::{ConfigError, Env, ProcessEnv};
use tower::Layer;

use crate::layer::{LambdaLayer, LambdaService};

/// The key server as a Lambda handler: the keys-axum [`Router`] behind a [`LambdaLayer`].
///
/// Build it once, before the first invocation (the deriver's PRK, the JWKS cache and the
/// PostgreSQL pool then live as long as the instance), and hand it to
/// [`run`](Self::run):
///
/// ```no_run
/// use blindcast_keys_lambda::LambdaKeyServer;
/// use blindcast_keys_axum::{CorsConfig, JwtAuthenticator, KeyServer};
/// use blindcast_keys_core::{KeyDeriver, MasterKey, Salt};
///
/// # async fn start() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let deriver = KeyDeriver::new(
///     &MasterKey::from_hex(&std::env::var("MASTER_KEY")?)?,
///     &Salt::from_hex(&std::env::var("SALT")?)?,
/// );
/// let auth = JwtAuthenticator::builder()
///     .jwks_url("https://auth.example.com/.well-known/jwks.json")
///     .build()?;
/// let server = KeyServer::new(deriver, auth).cors(CorsConfig::parse("https://app.example.com")?);
/// LambdaKeyServer::from_key_server(server).run().await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LambdaKeyServer {
    service: LambdaService<Router>,
}

impl LambdaKeyServer {
    /// Wraps a router you built yourself (such as [`KeyServer::router`] with routes of your
    /// own merged in) for Lambda.
    pub fn from_router(router: Router) -> Self {
        Self::with_layer(router, &LambdaLayer::new())
    }

    /// Wraps a router with a layer of your choosing (for a base path).
    pub fn with_layer(router: Router, layer: &LambdaLayer) -> Self {
        Self {
            service: layer.layer(router),
        }
    }

    /// Wraps a configured [`KeyServer`].
    pub fn from_key_server(server: KeyServer) -> Self {
        Self::from_router(server.router())
    }

    /// Builds the server from the process environment, with the same settings as
    /// `blindcast-keys serve` plus the Lambda ones (see the crate documentation): fetches
    /// secrets, opens the lease store, fetches the JWKS.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad setting.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(&ProcessEnv).await
    }

    /// Like [`from_env`](Self::from_env), reading settings from `env`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad setting.
    pub async fn from_env_with(env: &dyn Env) -> Result<Self, ConfigError> {
        let (router, layer) = crate::settings::from_env(env).await?;
        Ok(Self::with_layer(router, &layer))
    }

    /// The tower service that `lambda_http` runs: clone it as often as you like.
    pub fn service(&self) -> LambdaService<Router> {
        self.service.clone()
    }

    /// The service, consuming the server.
    pub fn into_service(self) -> LambdaService<Router> {
        self.service
    }

    /// Polls the Lambda Runtime API for events and answers them, until the instance is
    /// shut down.
    ///
    /// # Errors
    /// When the Runtime API cannot be reached.
    ///
    /// # Panics
    /// `lambda_http` panics when `AWS_LAMBDA_FUNCTION_NAME`,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_FUNCTION_VERSION` or
    /// `AWS_LAMBDA_RUNTIME_API` is missing: Lambda always sets them.
    pub async fn run(self) -> Result<(), lambda_http::Error> {
        lambda_http::run(self.service).await
    }
}

//! [`LambdaKeyServerBuilder`]: the short way to configure the key server in code.

use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_axum::auth::Authenticator;
use blindcast_keys_axum::config::ConfigError;
use blindcast_keys_axum::{CorsConfig, KeyRouterConfig, KeyServer};
use blindcast_keys_core::{KeyDeriver, LeaseStore, MasterKey, Salt};

use crate::gateway_auth::GatewayAuthorizerAuthenticator;
use crate::layer::LambdaLayer;
use crate::server::LambdaKeyServer;

/// Configures a [`LambdaKeyServer`]: the same options as the router
/// ([`KeyServer`] and [`KeyRouterConfig`]). Mistakes are reported by
/// [`build`](Self::build), each naming its option.
#[derive(Debug, Default)]
pub struct LambdaKeyServerBuilder {
    master_key: Option<Result<MasterKey, ConfigError>>,
    salt: Option<Result<Salt, ConfigError>>,
    deriver: Option<KeyDeriver>,
    authenticator: Option<Arc<dyn Authenticator>>,
    cors: Option<Result<CorsConfig, ConfigError>>,
    lease_store: Option<Arc<dyn LeaseStore>>,
    config: KeyRouterConfig,
    base_path: String,
    #[cfg(feature = "presign")]
    presign: Option<blindcast_keys_axum::presign::PresignConfig>,
}

impl LambdaKeyServerBuilder {
    /// The master key, 64 hex digits (32 bytes).
    #[must_use]
    pub fn master_key(mut self, hex: &str) -> Self {
        self.master_key = Some(MasterKey::from_hex_for("master_key", hex).map_err(Into::into));
        self
    }

    /// The salt, 32 hex digits (16 bytes).
    #[must_use]
    pub fn salt(mut self, hex: &str) -> Self {
        self.salt = Some(Salt::from_hex_for("salt", hex).map_err(Into::into));
        self
    }

    /// A ready deriver, instead of [`master_key`](Self::master_key) and
    /// [`salt`](Self::salt).
    #[must_use]
    pub fn deriver(mut self, deriver: KeyDeriver) -> Self {
        self.deriver = Some(deriver);
        self
    }

    /// Who may fetch keys: usually a
    /// [`JwtAuthenticator`](blindcast_keys_axum::JwtAuthenticator), or your own.
    #[must_use]
    pub fn authenticator(self, authenticator: impl Authenticator) -> Self {
        self.shared_authenticator(Arc::new(authenticator))
    }

    /// Like [`authenticator`](Self::authenticator), shared.
    #[must_use]
    pub fn shared_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.authenticator = Some(authenticator);
        self
    }

    /// Trusts the claims verified by an API Gateway JWT (or Cognito) authorizer instead of
    /// verifying tokens here. **Only safe when the gateway verifies every request**: read
    /// the danger note of [`GatewayAuthorizerAuthenticator`].
    #[must_use]
    pub fn trust_gateway_authorizer(self) -> Self {
        self.authenticator(GatewayAuthorizerAuthenticator::new())
    }

    /// Answers CORS requests from these origins (`https://app.example.com`, or `*`).
    /// Leave API Gateway's own CORS off: the router answers preflights itself.
    #[must_use]
    pub fn cors_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list: Vec<String> = origins.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.cors = Some(
            CorsConfig::parse(&list.join(","))
                .map_err(|e| ConfigError::new("cors_origins", e.to_string())),
        );
        self
    }

    /// A full CORS configuration (credentials, max age).
    #[must_use]
    pub fn cors(mut self, cors: CorsConfig) -> Self {
        self.cors = Some(Ok(cors));
        self
    }

    /// Turns leases on. On Lambda the store must be shared by every instance:
    /// PostgreSQL, or a [`LeaseStore`] of your own (not a memory store).
    #[must_use]
    pub fn lease_store(mut self, store: Arc<dyn LeaseStore>) -> Self {
        self.lease_store = Some(store);
        self
    }

    /// Lease lifetime (default 120 s).
    #[must_use]
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease_ttl = ttl;
        self
    }

    /// Unexpired leases one viewer may hold (default 3).
    #[must_use]
    pub fn max_leases_per_viewer(mut self, max: u32) -> Self {
        self.config.max_leases_per_viewer = max;
        self
    }

    /// Lets players cache keys for `seconds` (`Cache-Control: private, max-age=N`).
    #[must_use]
    pub fn key_max_age(mut self, seconds: u32) -> Self {
        self.config.key_max_age = (seconds > 0).then_some(seconds);
        self
    }

    /// The claim that lists the content a viewer may watch.
    #[must_use]
    pub fn entitlement_claim(mut self, claim: impl Into<String>) -> Self {
        self.config.entitlement_claim = Some(claim.into());
        self
    }

    /// Turns `POST /presign` on: publishers get presigned URLs for this bucket.
    #[cfg(feature = "presign")]
    #[must_use]
    pub fn presign(mut self, config: blindcast_keys_axum::presign::PresignConfig) -> Self {
        self.presign = Some(config);
        self
    }

    /// Replaces every router option at once.
    #[must_use]
    pub fn config(mut self, config: KeyRouterConfig) -> Self {
        self.config = config;
        self
    }

    /// A path prefix to take off before routing, such as the API mapping key of a custom
    /// domain (`/v1`). Stages are always taken off.
    #[must_use]
    pub fn base_path(mut self, base_path: impl Into<String>) -> Self {
        self.base_path = base_path.into();
        self
    }

    /// Checks the options and builds the server.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or invalid option.
    pub fn build(self) -> Result<LambdaKeyServer, ConfigError> {
        let deriver = match self.deriver {
            Some(deriver) => {
                if self.master_key.is_some() || self.salt.is_some() {
                    return Err(ConfigError::new(
                        "deriver",
                        "set either a deriver or master_key and salt, not both",
                    ));
                }
                deriver
            }
            None => {
                let master = self
                    .master_key
                    .ok_or_else(|| ConfigError::new("master_key", "not set"))??;
                let salt = self
                    .salt
                    .ok_or_else(|| ConfigError::new("salt", "not set"))??;
                KeyDeriver::new(&master, &salt)
            }
        };
        let authenticator = self.authenticator.ok_or_else(|| {
            ConfigError::new(
                "authenticator",
                "not set: pass a JwtAuthenticator (or your own Authenticator)",
            )
        })?;
        let mut server = KeyServer::with_authenticator(deriver, authenticator).config(self.config);
        if let Some(cors) = self.cors {
            server = server.cors(cors?);
        }
        if let Some(store) = self.lease_store {
            server = server.lease_store(store);
        }
        #[cfg(feature = "presign")]
        if let Some(presign) = self.presign {
            server = server.presign(presign);
        }
        let layer = LambdaLayer::new().base_path(&self.base_path);
        Ok(LambdaKeyServer::with_layer(server.router(), &layer))
    }
}

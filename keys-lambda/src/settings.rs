//! Settings of the `bootstrap` binary: those of `blindcast-keys serve`, plus secrets
//! fetched at cold start and the Lambda-only ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use blindcast_keys_axum::config::{ConfigError, Env};
use blindcast_keys_axum::settings::Settings;
use blindcast_keys_core::LeaseStore;

use crate::gateway_auth::GatewayAuthorizerAuthenticator;
use crate::layer::LambdaLayer;
use crate::server::LambdaKeyServer;

/// `TRUST_GATEWAY_AUTHORIZER`: authenticate from an API Gateway authorizer's claims.
pub const TRUST_GATEWAY_AUTHORIZER: &str = "TRUST_GATEWAY_AUTHORIZER";
/// `BASE_PATH`: a prefix to take off paths before routing (a custom domain's API mapping).
pub const BASE_PATH: &str = "BASE_PATH";

/// `JWKS_REFRESH_IN_REQUEST`: on by default on Lambda (see `keys-axum`'s README).
const JWKS_REFRESH_IN_REQUEST: &str = "JWKS_REFRESH_IN_REQUEST";

/// The settings that choose how viewers are authenticated; none may be combined with
/// `TRUST_GATEWAY_AUTHORIZER`.
const AUTH_SETTINGS: [&str; 6] = [
    "JWT_SECRET",
    "JWT_SECRET_FILE",
    "JWT_JWKS_URL",
    "JWT_JWKS_FILE",
    "JWT_PUBLIC_KEY_FILE",
    "ALLOW_ANONYMOUS",
];

/// An [`Env`] with some variables set or replaced.
struct Overlay<'a> {
    base: &'a dyn Env,
    values: HashMap<String, String>,
}

impl Env for Overlay<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| self.base.var(name))
    }
}

fn flag(env: &dyn Env, name: &str) -> Result<bool, ConfigError> {
    match env.var(name).as_deref().map(str::trim) {
        None | Some("") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(_) => Err(ConfigError::new(name, "expected true or false")),
    }
}

/// Reads every setting, fetches secrets, opens the lease store and the JWKS: everything a
/// warm invocation reuses.
pub(crate) async fn from_env(env: &dyn Env) -> Result<LambdaKeyServer, ConfigError> {
    let resolved = crate::secrets::resolve(env).await?;
    let mut overlay = Overlay {
        base: env,
        values: resolved.values.clone(),
    };
    // Lambda freezes the instance between invocations, so a JWKS refresh left running
    // in the background may only finish in a later invocation: the invocation that
    // starts one waits for it, at most about as long as a good fetch takes.
    if env.var(JWKS_REFRESH_IN_REQUEST).is_none() {
        overlay
            .values
            .insert(JWKS_REFRESH_IN_REQUEST.to_owned(), "true".to_owned());
    }
    let trust_gateway = flag(env, TRUST_GATEWAY_AUTHORIZER)?;
    if trust_gateway {
        if let Some(other) = AUTH_SETTINGS
            .iter()
            .find(|name| overlay.var(name).is_some_and(|v| !v.trim().is_empty()))
        {
            return Err(ConfigError::new(
                TRUST_GATEWAY_AUTHORIZER,
                format!("cannot be combined with {other}"),
            ));
        }
        // Satisfies the shared settings' "some way to authenticate" check; replaced below.
        overlay
            .values
            .insert("ALLOW_ANONYMOUS".to_owned(), "true".to_owned());
    }
    let mut settings = Settings::from_env(&overlay).map_err(|e| resolved.rename(e))?;
    if trust_gateway {
        settings.authenticator = Arc::new(GatewayAuthorizerAuthenticator::new());
        settings.jwt = None;
    }
    let store = crate::store::open(&settings.lease_store)
        .await
        .map_err(|e| resolved.rename(e))?;
    if let Some(store) = &store {
        purge_at_cold_start(store.as_ref()).await;
    }
    if let Some(jwt) = &settings.jwt
        && !jwt.prefetch().await
    {
        tracing::warn!("JWKS not available yet; tokens are refused until it can be fetched");
    }
    let layer = LambdaLayer::new().base_path(&env.var(BASE_PATH).unwrap_or_default());
    Ok(LambdaKeyServer::with_layer(
        settings.key_server(store).router(),
        &layer,
    ))
}

/// Lambda freezes instances between invocations, so there is no background purge:
/// each cold start deletes expired leases once instead (bounded, and never fatal).
async fn purge_at_cold_start(store: &dyn LeaseStore) {
    match tokio::time::timeout(Duration::from_secs(2), store.purge_expired()).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::debug!(purged = n, "expired leases purged"),
        Ok(Err(e)) => tracing::warn!(error = %e, "lease purge failed"),
        Err(_) => tracing::warn!("lease purge took more than 2 s; skipped"),
    }
}

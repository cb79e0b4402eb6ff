//! The `bootstrap` binary's settings: the shared list read by keys-axum's reader for the
//! Lambda platform, after the secrets it names are fetched.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use blindcast_keys_axum::auth::Authenticator;
use blindcast_keys_axum::settings::{
    Authentication, ConfigError, Env, EnvReader, Platform, Settings,
};
use blindcast_keys_core::LeaseStore;

use crate::gateway_auth::GatewayAuthorizerAuthenticator;
use crate::layer::LambdaLayer;

/// Reads every setting, fetches secrets, opens the lease store and the JWKS: everything a
/// warm invocation reuses. Returns the router and the layer that adapts it to Lambda.
pub(crate) async fn from_env(env: &dyn Env) -> Result<(Router, LambdaLayer), ConfigError> {
    let mut reader = EnvReader::new(env, Platform::Lambda);
    let resolved = crate::secrets::resolve(&reader).await?;
    for (name, value) in &resolved.values {
        reader.set(name, Some(value.clone()));
    }
    #[cfg_attr(not(feature = "speke"), allow(unused_mut))]
    let mut settings = Settings::read(&reader).map_err(|e| resolved.rename(e))?;
    // On Lambda packagers are the callers API Gateway's IAM authorization verified.
    #[cfg(feature = "speke")]
    {
        settings.speke = settings
            .speke
            .take()
            .map(|config| config.packagers(Arc::new(crate::gateway_iam::GatewayIamAuthenticator)));
    }
    let authenticator: Arc<dyn Authenticator> = match &settings.authentication {
        // Only this adapter knows the gateway's request context.
        Authentication::GatewayAuthorizer => Arc::new(GatewayAuthorizerAuthenticator::new()),
        Authentication::Jwt(jwt) => Arc::clone(jwt) as Arc<dyn Authenticator>,
        Authentication::Anonymous(anonymous) => Arc::clone(anonymous) as Arc<dyn Authenticator>,
    };
    let store = crate::store::open(&settings.lease_store)
        .await
        .map_err(|e| resolved.rename(e))?;
    if let Some(store) = &store {
        purge_at_cold_start(store.as_ref()).await;
    }
    if let Some(jwt) = settings.authentication.jwt()
        && !jwt.prefetch().await
    {
        tracing::warn!("JWKS not available yet; tokens are refused until it can be fetched");
    }
    let layer = LambdaLayer::new().base_path(&settings.base_path);
    Ok((settings.key_server(authenticator, store).router(), layer))
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

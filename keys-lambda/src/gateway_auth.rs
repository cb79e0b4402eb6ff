//! [`GatewayAuthorizerAuthenticator`]: trusts the claims an API Gateway authorizer has
//! already verified.

use std::collections::HashMap;

use blindcast_keys_axum::auth::{AuthRejection, Authenticator, Principal};
use blindcast_keys_core::lease::ViewerId;
use http::request::Parts;
use lambda_http::request::RequestContext;
use serde_json::{Map, Value};

/// Authenticates a request from the claims that an API Gateway **JWT authorizer** (HTTP
/// API) or **Cognito user pool authorizer** (REST API) verified and put in the request
/// context. The viewer is the `sub` claim (or the claim set with
/// [`viewer_claim`](Self::viewer_claim)), paired with `iss` when the claims carry one
/// (`ViewerId::from_issuer_subject`), since one gateway may trust several issuers;
/// every claim is available to the entitlement check.
///
/// # Danger
///
/// This authenticator checks **no signature**. It is only safe when every route that
/// reaches the function has an authorizer attached in API Gateway, and nothing else
/// (a Function URL, an ALB, a direct `Invoke`) can invoke the function with a request
/// context of its own making. Behind a Function URL or an ALB there is no authorizer
/// context and every request is refused; but whoever can call `lambda:InvokeFunction`
/// can forge any context. Prefer the router's own JWT verification
/// ([`JwtAuthenticator`](blindcast_keys_axum::JwtAuthenticator)) unless the gateway
/// already verifies tokens and you want to skip the second check. Opt in explicitly,
/// with `KeyServer::new(deriver, GatewayAuthorizerAuthenticator::new())` or
/// `TRUST_GATEWAY_AUTHORIZER=true`.
///
/// HTTP APIs pass claims as strings and lists as `"[a b c]"`; those are turned back into
/// JSON lists so that entitlement claims keep working.
#[derive(Debug, Clone)]
pub struct GatewayAuthorizerAuthenticator {
    viewer_claim: String,
}

impl Default for GatewayAuthorizerAuthenticator {
    fn default() -> Self {
        Self {
            viewer_claim: "sub".to_owned(),
        }
    }
}

impl GatewayAuthorizerAuthenticator {
    /// Trusts the gateway's claims; the viewer is `sub`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the viewer id from this claim instead of `sub`.
    #[must_use]
    pub fn viewer_claim(mut self, claim: impl Into<String>) -> Self {
        self.viewer_claim = claim.into();
        self
    }
}

#[async_trait::async_trait]
impl Authenticator for GatewayAuthorizerAuthenticator {
    async fn authenticate(&self, head: &Parts) -> Result<Principal, AuthRejection> {
        let claims = head
            .extensions
            .get::<RequestContext>()
            .and_then(verified_claims)
            .ok_or_else(|| {
                AuthRejection::missing("no verified claims from the API Gateway authorizer")
            })?;
        let invalid = || AuthRejection::invalid("the verified claims name no valid viewer");
        let subject = claims
            .get(&self.viewer_claim)
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        // One gateway may trust several issuers (a Cognito authorizer with several user
        // pools, routes with different JWT authorizers), and this side cannot tell how
        // many: whenever the claims name their issuer, the viewer is the (iss, subject)
        // pair, so the same subject from two issuers is two viewers.
        let viewer = match claims.get("iss") {
            Some(Value::String(iss)) => ViewerId::from_issuer_subject(Some(iss), subject),
            _ => ViewerId::from_subject(subject),
        }
        .map_err(|_| invalid())?;
        Ok(Principal::with_claims(viewer, claims))
    }
}

/// The claims of the request context's authorizer, if there are any.
fn verified_claims(context: &RequestContext) -> Option<Map<String, Value>> {
    let authorizer = context.authorizer()?;
    if let Some(jwt) = &authorizer.jwt
        && !jwt.claims.is_empty()
    {
        return Some(from_strings(&jwt.claims));
    }
    // REST API (v1) Cognito user pool authorizer: `authorizer.claims`, an object of
    // strings. HTTP API Lambda authorizers put their context under `lambda`, which is
    // not a verified token and is not used here.
    if matches!(context, RequestContext::ApiGatewayV1(_))
        && let Some(Value::Object(claims)) = authorizer.fields.get("claims")
        && !claims.is_empty()
    {
        return Some(
            claims
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k.clone(), claim_value(s)),
                    other => (k.clone(), other.clone()),
                })
                .collect(),
        );
    }
    None
}

fn from_strings(claims: &HashMap<String, String>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(k, v)| (k.clone(), claim_value(v)))
        .collect()
}

/// `"[a b]"` (how API Gateway flattens a list claim) → `["a","b"]`; anything else stays a
/// string.
fn claim_value(text: &str) -> Value {
    match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => Value::Array(
            inner
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        None => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_claims_become_lists() {
        assert_eq!(
            claim_value("[movie-1 series-*]"),
            serde_json::json!(["movie-1", "series-*"])
        );
        assert_eq!(claim_value("[]"), serde_json::json!([]));
        assert_eq!(claim_value("user-1"), serde_json::json!("user-1"));
    }
}

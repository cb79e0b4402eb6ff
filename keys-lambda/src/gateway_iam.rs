//! [`GatewayIamAuthenticator`]: the packager identity API Gateway's IAM authorization
//! verified (SigV4), for the SPEKE routes.

use blindcast_keys_axum::auth::{AuthRejection, Authenticator, Principal};
use blindcast_keys_core::lease::ViewerId;
use http::request::Parts;
use lambda_http::request::RequestContext;

/// Authenticates a SPEKE request from the caller's IAM identity in the request context:
/// `authorizer.iam.userArn` of an HTTP API, `identity.userArn` of a REST API, which API
/// Gateway fills in only on a route with `AWS_IAM` authorization after checking the
/// request's SigV4 signature. The principal is that ARN (MediaConvert's or MediaPackage's
/// role session), so audit lines name the packager.
///
/// # Danger
///
/// Like [`GatewayAuthorizerAuthenticator`](crate::GatewayAuthorizerAuthenticator) it
/// checks no signature itself: it is only safe when the SPEKE routes of every API in front
/// of the function have `AWS_IAM` authorization and nothing else can invoke the function
/// with a request context of its own making. Without an IAM identity (a Function URL, an
/// ALB, a route without `AWS_IAM`) every request is refused. Used for the SPEKE routes
/// only, when `SPEKE_KEY_URL_BASE` is set on Lambda.
#[derive(Debug, Clone, Copy, Default)]
pub struct GatewayIamAuthenticator;

#[async_trait::async_trait]
impl Authenticator for GatewayIamAuthenticator {
    async fn authenticate(&self, head: &Parts) -> Result<Principal, AuthRejection> {
        let arn = head
            .extensions
            .get::<RequestContext>()
            .and_then(|context| match context {
                RequestContext::ApiGatewayV2(c) => c
                    .authorizer
                    .as_ref()
                    .and_then(|a| a.iam.as_ref())
                    .and_then(|iam| iam.user_arn.clone()),
                RequestContext::ApiGatewayV1(c) => c.identity.user_arn.clone(),
                _ => None,
            })
            .filter(|arn| arn.starts_with("arn:"))
            .ok_or_else(|| {
                AuthRejection::missing(
                    "no IAM identity from API Gateway: the SPEKE route needs AWS_IAM authorization",
                )
            })?;
        let packager = ViewerId::from_subject(&arn)
            .map_err(|_| AuthRejection::invalid("the IAM identity is not a valid packager id"))?;
        Ok(Principal::new(packager))
    }
}

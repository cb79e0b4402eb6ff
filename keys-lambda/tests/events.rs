//! Every front door's event, driven in-process through `lambda_http`'s adapter: the
//! router sees `/keys/...`, keys come back base64 and intact, CORS and errors survive.
#![allow(clippy::unwrap_used)]

mod common;

use blindcast_keys_axum::{CorsConfig, JwtAuthenticator, KeyServer, RouterConfig};
use blindcast_keys_lambda::{GatewayAuthorizerAuthenticator, LambdaKeyServer, LambdaLayer};
use common::*;
use serde_json::{Value, json};

fn server() -> LambdaKeyServer {
    let auth = JwtAuthenticator::builder()
        .hs256_secret(JWT_SECRET.as_bytes())
        .build()
        .unwrap();
    LambdaKeyServer::from_key_server(
        KeyServer::new(deriver(), auth).cors(CorsConfig::parse(ORIGIN).unwrap()),
    )
}

#[tokio::test]
async fn http_api_v2_default_stage_serves_the_content_key() {
    let response = invoke(&server(), &fixture_json("http_api_v2_default_stage")).await;
    assert_key(&response, &expected_key("movie-1", None));
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("no-store")
    );
}

#[tokio::test]
async fn http_api_v2_named_stage_is_taken_off_the_path() {
    let response = invoke(&server(), &fixture_json("http_api_v2_named_stage")).await;
    assert_key(&response, &expected_key("movie-1", Some(42)));
}

#[tokio::test]
async fn rest_api_v1_with_a_stage_and_a_query_token() {
    let response = invoke(&server(), &fixture_json("rest_api_v1_stage")).await;
    assert_key(&response, &expected_key("movie-1", None));
    // REST API responses carry their headers in multiValueHeaders.
    assert!(
        response["multiValueHeaders"]["content-type"].is_array(),
        "{response}"
    );
}

#[tokio::test]
async fn function_url_serves_an_epoch_key() {
    let response = invoke(&server(), &fixture_json("function_url")).await;
    assert_key(&response, &expected_key("movie-1", Some(7)));
}

#[tokio::test]
async fn alb_serves_the_content_key() {
    let response = invoke(&server(), &fixture_json("alb")).await;
    assert_key(&response, &expected_key("movie-1", None));
    assert_eq!(response["statusDescription"], "200 OK");
}

#[tokio::test]
async fn cors_preflight_is_answered_by_the_router_on_a_named_stage() {
    let response = invoke(
        &server(),
        &fixture_json("http_api_v2_named_stage_preflight"),
    )
    .await;
    let code = status(&response);
    assert!(code == 200 || code == 204, "{response}");
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    let methods = header(&response, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("GET"), "{methods}");
    let headers = header(&response, "access-control-allow-headers")
        .unwrap_or_default()
        .to_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    assert!(headers.contains("x-blindcast-lease"), "{headers}");
}

#[tokio::test]
async fn missing_token_is_a_json_401_with_cors() {
    let response = invoke(&server(), &fixture_json("http_api_v2_no_token")).await;
    assert_error(&response, 401, "unauthenticated");
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    assert!(
        header(&response, "www-authenticate").is_some(),
        "{response}"
    );
}

#[tokio::test]
async fn bad_content_id_and_unknown_route_are_json_errors() {
    let mut event = fixture_json("http_api_v2_named_stage");
    event["rawPath"] = json!("/prod/keys/bad~id");
    event["requestContext"]["http"]["path"] = json!("/prod/keys/bad~id");
    assert_error(&invoke(&server(), &event).await, 400, "invalid_content_id");

    let mut event = fixture_json("alb");
    event["path"] = json!("/nothing-here");
    assert_error(&invoke(&server(), &event).await, 404, "not_found");

    let mut event = fixture_json("function_url");
    event["rawPath"] = json!("/keys/movie-1/not-an-epoch");
    assert_error(&invoke(&server(), &event).await, 400, "invalid_epoch");
}

#[tokio::test]
async fn head_requests_get_headers_only() {
    let mut event = fixture_json("http_api_v2_default_stage");
    event["requestContext"]["http"]["method"] = json!("HEAD");
    let response = invoke(&server(), &event).await;
    assert_eq!(status(&response), 200);
    assert_eq!(header(&response, "content-length").as_deref(), Some("16"));
    assert!(body(&response).is_empty());
}

#[tokio::test]
async fn custom_domain_base_path_is_taken_off() {
    let auth = JwtAuthenticator::builder()
        .hs256_secret(JWT_SECRET.as_bytes())
        .build()
        .unwrap();
    let server = LambdaKeyServer::with_layer(
        KeyServer::new(deriver(), auth).router(),
        &LambdaLayer::new().base_path("/v1/"),
    );
    // HTTP API on a custom domain, API mapping key `v1`, named stage: rawPath holds the
    // mapping key, not the stage.
    let mut event = fixture_json("http_api_v2_named_stage");
    event["rawPath"] = json!("/v1/keys/movie-1");
    event["requestContext"]["domainName"] = json!("keys.example.com");
    event["headers"]["host"] = json!("keys.example.com");
    let response = invoke(&server, &event).await;
    assert_key(&response, &expected_key("movie-1", None));
}

#[tokio::test]
async fn a_path_that_merely_starts_like_the_stage_is_kept() {
    // REST API whose stage is named `keys`: its path `/keys/movie-1` already starts with
    // the stage, so lambda_http leaves it alone and so must the layer.
    let mut event = fixture_json("rest_api_v1_stage");
    event["requestContext"]["stage"] = json!("keys");
    let response = invoke(&server(), &event).await;
    assert_key(&response, &expected_key("movie-1", None));

    // HTTP API on a custom domain with a stage named `keys`: rawPath has no stage.
    let mut event = fixture_json("http_api_v2_named_stage");
    event["rawPath"] = json!("/keys/movie-1");
    event["requestContext"]["stage"] = json!("keys");
    event["requestContext"]["domainName"] = json!("keys.example.com");
    event["headers"]["host"] = json!("keys.example.com");
    let response = invoke(&server(), &event).await;
    assert_key(&response, &expected_key("movie-1", None));

    // The same on the execute-api address: `/keys` is the stage there.
    let mut event = fixture_json("http_api_v2_named_stage");
    event["rawPath"] = json!("/keys/keys/movie-1");
    event["requestContext"]["stage"] = json!("keys");
    let response = invoke(&server(), &event).await;
    assert_key(&response, &expected_key("movie-1", None));
}

#[tokio::test]
async fn gateway_jwt_authorizer_claims_authenticate_and_entitle() {
    let config = RouterConfig::builder()
        .entitlement_claim("content")
        .build()
        .unwrap();
    let server = LambdaKeyServer::from_key_server(
        KeyServer::new(deriver(), GatewayAuthorizerAuthenticator::new()).config(config),
    );
    let event = fixture_json("http_api_v2_jwt_authorizer");
    let response = invoke(&server, &event).await;
    assert_key(&response, &expected_key("series-7", None));

    // `content` is "[movie-1 series-*]": movie-2 is not covered.
    let mut other = event.clone();
    other["rawPath"] = json!("/keys/movie-2");
    assert_error(&invoke(&server, &other).await, 403, "forbidden");

    // No authorizer in the context (a Function URL): refused, whatever the token.
    let response = invoke(&server, &fixture_json("function_url")).await;
    assert_error(&response, 401, "unauthenticated");

    // An authorizer context without `sub`.
    let mut no_sub = event.clone();
    no_sub["requestContext"]["authorizer"]["jwt"]["claims"]
        .as_object_mut()
        .unwrap()
        .remove("sub");
    assert_error(&invoke(&server, &no_sub).await, 401, "unauthenticated");
}

#[tokio::test]
async fn rest_api_cognito_authorizer_claims_authenticate() {
    let server = LambdaKeyServer::from_key_server(KeyServer::new(
        deriver(),
        GatewayAuthorizerAuthenticator::new(),
    ));
    let mut event = fixture_json("rest_api_v1_stage");
    event["requestContext"]["authorizer"] = json!({
        "claims": { "sub": "viewer-3", "email": "v3@example.com" }
    });
    event["queryStringParameters"] = Value::Null;
    event["multiValueQueryStringParameters"] = Value::Null;
    let response = invoke(&server, &event).await;
    assert_key(&response, &expected_key("movie-1", None));
}

//! Behind a gateway authorizer that trusts several issuers (a Cognito authorizer with
//! two user pools), the same `sub` from two pools is two viewers: each has its own lease
//! limit, and neither can fetch keys with the other's lease.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use blindcast_keys_axum::{KeyServer, RouterConfig};
use blindcast_keys_core::lease::MemoryLeaseStore;
use blindcast_keys_lambda::{GatewayAuthorizerAuthenticator, LambdaKeyServer};
use common::{assert_error, assert_key, body, deriver, expected_key, fixture_json, invoke, status};
use serde_json::{Value, json};

const POOL_A: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_poolA";
const POOL_B: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_poolB";

/// A REST API event for `method path` whose Cognito authorizer verified `sub` 42 of `iss`.
fn event(method: &str, path: &str, iss: &str, lease: Option<&str>, body: Option<Value>) -> Value {
    let mut event = fixture_json("rest_api_v1_stage");
    event["httpMethod"] = json!(method);
    event["path"] = json!(path);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["authorizer"] = json!({ "claims": { "sub": "42", "iss": iss } });
    event["queryStringParameters"] = Value::Null;
    event["multiValueQueryStringParameters"] = Value::Null;
    if let Some(lease) = lease {
        event["headers"]["X-Blindcast-Lease"] = json!(lease);
        event["multiValueHeaders"]["X-Blindcast-Lease"] = json!([lease]);
    }
    if let Some(body) = body {
        event["headers"]["Content-Type"] = json!("application/json");
        event["multiValueHeaders"]["Content-Type"] = json!(["application/json"]);
        event["body"] = json!(body.to_string());
        event["isBase64Encoded"] = json!(false);
    }
    event
}

async fn create_lease(server: &LambdaKeyServer, iss: &str) -> Value {
    invoke(
        server,
        &event(
            "POST",
            "/keys/leases",
            iss,
            None,
            Some(json!({"contentId": "movie-1"})),
        ),
    )
    .await
}

#[tokio::test]
async fn same_sub_from_two_user_pools_is_two_viewers() {
    let config = RouterConfig::builder()
        .max_leases_per_viewer(1)
        .build()
        .unwrap();
    let server = LambdaKeyServer::from_key_server(
        KeyServer::new(deriver(), GatewayAuthorizerAuthenticator::new())
            .lease_store(Arc::new(MemoryLeaseStore::new()))
            .config(config),
    );
    let a = create_lease(&server, POOL_A).await;
    assert_eq!(status(&a), 201, "{a}");
    let a_lease: Value = serde_json::from_slice(&body(&a)).unwrap();
    let a_lease = a_lease["leaseId"].as_str().unwrap().to_owned();
    assert_error(
        &create_lease(&server, POOL_A).await,
        409,
        "lease_limit_reached",
    );
    // Pool B's user 42 is someone else: their own slot.
    assert_eq!(status(&create_lease(&server, POOL_B).await), 201);
    // ...and no key with pool A's lease.
    let stolen = invoke(
        &server,
        &event("GET", "/keys/movie-1", POOL_B, Some(&a_lease), None),
    )
    .await;
    assert_error(&stolen, 403, "lease_required");
    let own = invoke(
        &server,
        &event("GET", "/keys/movie-1", POOL_A, Some(&a_lease), None),
    )
    .await;
    assert_key(&own, &expected_key("movie-1", None));
}

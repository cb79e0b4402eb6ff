//! SPEKE on Lambda: with `SPEKE_KEY_URL_BASE` set, the SPEKE routes answer packagers whose
//! IAM identity API Gateway verified (an `AWS_IAM` route), and refuse everyone else,
//! viewer tokens included.
#![cfg(feature = "speke")]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use blindcast_keys_lambda::LambdaKeyServer;
use common::*;
use serde_json::{Value, json};

const V1_LIVE: &str = include_str!("../../keys-axum/tests/fixtures/speke/v1_live.xml");
const ROLE: &str = "arn:aws:sts::123456789012:assumed-role/MediaPackageSpeke/session-1";

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

async fn server() -> LambdaKeyServer {
    LambdaKeyServer::from_env_with(&env(&[
        ("MASTER_KEY", MASTER_KEY),
        ("SALT", SALT),
        ("JWT_SECRET", JWT_SECRET),
        (
            "SPEKE_KEY_URL_BASE",
            "https://abc123defg.execute-api.eu-west-1.amazonaws.com",
        ),
    ]))
    .await
    .unwrap()
}

/// An HTTP API event posting the CPIX request to `/speke/v1`, with `iam` as the
/// authorizer's IAM identity.
fn http_api_event(iam: Option<Value>, token: Option<&str>) -> Value {
    let mut event = fixture_json("http_api_v2_default_stage");
    event["rawPath"] = json!("/speke/v1");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["requestContext"]["http"]["path"] = json!("/speke/v1");
    event["headers"] = json!({ "content-type": "application/xml" });
    if let Some(t) = token {
        event["headers"]["authorization"] = json!(format!("Bearer {t}"));
    }
    if let Some(iam) = iam {
        event["requestContext"]["authorizer"] = json!({ "iam": iam });
    }
    event["body"] = json!(V1_LIVE);
    event
}

fn plain_values(response: &Value) -> Vec<Vec<u8>> {
    let text = String::from_utf8(body(response)).unwrap();
    text.split("<pskc:PlainValue>")
        .skip(1)
        .map(|rest| STANDARD.decode(rest.split('<').next().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn http_api_iam_identity_gets_keys_and_nobody_else_does() {
    let server = server().await;
    let iam = json!({ "accountId": "123456789012", "userArn": ROLE, "callerId": "AROAEXAMPLE:session-1" });
    let response = invoke(&server, &http_api_event(Some(iam), None)).await;
    assert_eq!(status(&response), 200, "{response}");
    let keys = plain_values(&response);
    let expected: Vec<Vec<u8>> = (11425..=11427)
        .map(|e| expected_key("live-channel-1", Some(e)))
        .collect();
    assert_eq!(keys, expected);
    let text = String::from_utf8(body(&response)).unwrap();
    let uri = STANDARD
        .encode("https://abc123defg.execute-api.eu-west-1.amazonaws.com/keys/live-channel-1/11425");
    assert!(text.contains(&uri), "{text}");

    // No IAM identity (a route without AWS_IAM, a Function URL): refused, even with a
    // valid viewer token.
    for event in [
        http_api_event(None, None),
        http_api_event(None, Some(&token("viewer-1"))),
        http_api_event(Some(json!({ "userArn": null })), None),
    ] {
        let response = invoke(&server, &event).await;
        assert_error(&response, 401, "unauthenticated");
        assert!(plain_values(&response).is_empty());
    }
}

#[tokio::test]
async fn rest_api_iam_identity_gets_keys() {
    let server = server().await;
    let mut event = fixture_json("rest_api_v1_stage");
    event["httpMethod"] = json!("POST");
    event["path"] = json!("/speke/v1");
    event["requestContext"]["httpMethod"] = json!("POST");
    event["requestContext"]["path"] = json!("/v1/speke/v1");
    event["queryStringParameters"] = Value::Null;
    event["multiValueQueryStringParameters"] = Value::Null;
    event["headers"] = json!({ "Content-Type": "application/xml" });
    event["multiValueHeaders"] = json!({ "Content-Type": ["application/xml"] });
    event["body"] = json!(V1_LIVE);
    event["isBase64Encoded"] = json!(false);
    let refused = invoke(&server, &event).await;
    assert_error(&refused, 401, "unauthenticated");
    event["requestContext"]["identity"]["userArn"] = json!(ROLE);
    let response = invoke(&server, &event).await;
    assert_eq!(status(&response), 200, "{response}");
    assert_eq!(plain_values(&response).len(), 3);
}

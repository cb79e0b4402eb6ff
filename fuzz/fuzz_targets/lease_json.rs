//! Lease bodies: arbitrary bytes (and content types) posted to create and renew, with a
//! valid token. Never a panic or a 5xx, and a lease is created only from a JSON object
//! whose contentId is a valid content id.
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use axum::body::Body;
use blindcast_keys_core::ContentId;
use http::Request;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    renew: bool,
    content_type: Option<String>,
    idempotency_key: Option<String>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let f = common::fixture();
    let uri = if input.renew {
        "/keys/leases/renew"
    } else {
        "/keys/leases"
    };
    let mut builder = Request::post(uri).header("authorization", format!("Bearer {}", f.token));
    builder = builder.header(
        "content-type",
        input.content_type.as_deref().unwrap_or("application/json"),
    );
    if let Some(key) = &input.idempotency_key {
        builder = builder.header("idempotency-key", key.as_str());
    }
    let Ok(request) = builder.body(Body::from(input.body.clone())) else {
        return;
    };
    let (status, body) = common::send(&f.up, request);
    common::check(status, &body, false);
    if status == 201 {
        let v: serde_json::Value =
            serde_json::from_slice(&input.body).expect("created from non-JSON");
        let id = v
            .get("contentId")
            .and_then(|c| c.as_str())
            .expect("created without a contentId object");
        assert!(
            ContentId::new(id).is_ok(),
            "created for an invalid content id {id:?}"
        );
    }
    if status == 200 {
        assert!(input.renew);
    }
});

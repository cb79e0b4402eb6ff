//! Lease bodies: arbitrary bytes and content types posted to create and renew with a
//! valid token, each input against a router with its own empty store (so lease limits
//! never turn every answer into 409). Never a panic or a 5xx; a lease is created only
//! from a JSON object whose contentId is a valid content id, is for that content and
//! opens that content's key only; renewal succeeds only for the viewer's lease id; and
//! a well-formed body is accepted.
//!
//! Input: the first line is `c` (create) or `r` (renew) followed by the content type
//! (empty: `application/json`); the rest is the body, in which `$LEASE` stands for the
//! id of a lease the viewer holds. Seeds: fuzz/seeds/lease_json.
#![no_main]

#[path = "common.rs"]
mod common;

use axum::body::Body;
use blindcast_keys_core::ContentId;
use http::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    let (first, raw_body) = common::line(data);
    let renew = first.first() == Some(&b'r');
    let content_type = match first.get(1..) {
        Some(t) if !t.is_empty() => t,
        _ => b"application/json".as_slice(),
    };
    let router = f.fresh();
    let (status, held) = common::send(&router, common::create(&f.token, "held-1"));
    assert_eq!(status, 201);
    let held: serde_json::Value = serde_json::from_slice(&held).expect("lease JSON");
    let held = held["leaseId"].as_str().expect("leaseId").to_owned();
    let body = String::from_utf8_lossy(raw_body)
        .replace("$LEASE", &held)
        .into_bytes();
    let body = if std::str::from_utf8(raw_body).is_ok() {
        body
    } else {
        raw_body.to_vec()
    };

    let uri = if renew {
        "/keys/leases/renew"
    } else {
        "/keys/leases"
    };
    let Ok(request) = Request::post(uri)
        .header("authorization", format!("Bearer {}", f.token))
        .header("content-type", content_type)
        .body(Body::from(body.clone()))
    else {
        return;
    };
    let (status, answer) = common::send(&router, request);
    common::check(status, &answer, false);

    let json_type = std::str::from_utf8(content_type).is_ok_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let object = parsed.as_ref().and_then(|v| v.as_object());
    // Canonical JSON (what serde_json writes) has no duplicate keys nor escapes to hide
    // them: such a body with the one expected field must be accepted.
    let canonical = |field: &str| {
        object.is_some_and(|o| o.len() == 1 && o.contains_key(field))
            && parsed.as_ref().and_then(|v| serde_json::to_vec(v).ok()) == Some(body.clone())
            && content_type == b"application/json"
    };

    if renew {
        assert_ne!(status, 201, "renew created a lease");
        let named = object
            .and_then(|o| o.get("leaseId"))
            .and_then(|l| l.as_str());
        if status == 200 {
            assert!(json_type, "renewed from a non-JSON content type");
            assert_eq!(named, Some(held.as_str()), "renewed another id: {body:?}");
        }
        if canonical("leaseId") && named == Some(held.as_str()) {
            assert_eq!(status, 200, "a well-formed renewal was refused");
        }
        return;
    }
    assert_ne!(status, 200, "create answered 200");
    let named = object
        .and_then(|o| o.get("contentId"))
        .and_then(|c| c.as_str());
    let valid = named.is_some_and(|c| ContentId::new(c).is_ok());
    if canonical("contentId") && valid {
        assert_eq!(
            status,
            201,
            "a well-formed create was refused: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    if status != 201 {
        return;
    }
    assert!(json_type, "created from a non-JSON content type");
    assert!(object.is_some(), "created from something not a JSON object");
    assert!(valid, "created for an invalid content id {named:?}");
    let content = named.unwrap_or_default();
    let lease: serde_json::Value = serde_json::from_slice(&answer).expect("lease JSON");
    assert_eq!(lease["contentId"].as_str(), Some(content));
    let lease = lease["leaseId"].as_str().expect("leaseId");
    // The new lease opens its content's key, and no other content's.
    let get = |path: String| {
        common::send(
            &router,
            Request::get(path)
                .header("authorization", format!("Bearer {}", f.token))
                .header("x-blindcast-lease", lease)
                .body(Body::empty())
                .expect("request"),
        )
    };
    let (status, key) = get(format!("/keys/{content}"));
    assert_eq!(status, 200);
    assert_eq!(key, f.key(content, None));
    let other = if content == "held-1" {
        "held-2"
    } else {
        "held-1"
    };
    assert_eq!(
        get(format!("/keys/{other}")).0,
        403,
        "a lease opened another content"
    );
});

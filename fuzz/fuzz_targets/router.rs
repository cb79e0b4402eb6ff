//! Arbitrary requests through the router (method, target, headers, body), with a working
//! lease store and with one that is down. Never a panic, never a 5xx other than 503 from
//! the store that is down, every error JSON; and no key (nor a 200 for a key route) ever
//! leaves without the fixture's valid token and its lease, for the leased content only,
//! with the right bytes.
//!
//! Input, one field a line: flags (`t`: the valid token as a bearer, `l`: the fixture's
//! lease in `X-Blindcast-Lease`, `d`: the store that is down), `METHOD TARGET`, then
//! `name: value` header lines up to an empty line, then the body. Seeds: fuzz/seeds/router.
#![no_main]

#[path = "common.rs"]
mod common;

use axum::body::Body;
use blindcast_keys_core::parse_epoch;
use http::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    let (flags, rest) = common::line(data);
    let (request_line, mut rest) = common::line(rest);
    let request_line = String::from_utf8_lossy(request_line);
    let (method, target) = request_line
        .split_once(' ')
        .unwrap_or((request_line.as_ref(), "/"));
    let target = if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("/keys/{target}")
    };
    let store_down = flags.contains(&b'd');
    let mut builder = Request::builder().method(method).uri(target);
    if flags.contains(&b't') {
        builder = builder.header("authorization", format!("Bearer {}", f.token));
    }
    if flags.contains(&b'l') {
        builder = builder.header("x-blindcast-lease", f.lease.as_str());
    }
    loop {
        let (header, after) = common::line(rest);
        rest = after;
        if header.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(header);
        let (name, value) = text.split_once(':').unwrap_or((text.as_ref(), ""));
        builder = builder.header(name.trim(), value.trim().as_bytes());
    }
    // Requests http cannot even represent are not the router's business.
    let Ok(request) = builder.body(Body::from(rest.to_vec())) else {
        return;
    };
    // Everything the request carries, to tell whether the valid token and lease are in it.
    let mut carried = request.uri().to_string().into_bytes();
    for value in request.headers().values() {
        carried.extend_from_slice(value.as_bytes());
        carried.push(b'\n');
    }
    let path = request.uri().path().to_owned();
    let is_read = matches!(request.method().as_str(), "GET" | "HEAD");
    let is_get = request.method() == "GET";
    let router = if store_down { &f.down } else { &f.up };
    let (status, body) = common::send(router, request);
    common::check(status, &body, store_down);

    let octets = body.len() == 16 && status < 300;
    if !(octets || (status < 300 && is_read && path.starts_with("/keys/"))) {
        return;
    }
    // A key route answered: it must be the lease's content, under the valid token.
    assert!(
        common::contains(&carried, f.token.as_bytes()),
        "a key route answered {status} without the valid token: {path:?}"
    );
    assert!(
        common::contains(&carried, f.lease.as_bytes()),
        "a key route answered {status} without a lease: {path:?}"
    );
    let mut segments = path.trim_start_matches("/keys/").split('/');
    let content = segments.next().and_then(common::percent_decode);
    assert_eq!(
        content.as_deref(),
        Some(common::LEASED),
        "a key for content the lease is not for: {path:?}"
    );
    let epoch = segments.next().map(|e| {
        parse_epoch(&common::percent_decode(e).expect("served for an undecodable epoch"))
            .expect("served for an invalid epoch")
    });
    assert!(segments.next().is_none(), "served for {path:?}");
    if is_get {
        assert_eq!(
            body,
            f.key(common::LEASED, epoch),
            "wrong key bytes for {path:?}"
        );
    }
});

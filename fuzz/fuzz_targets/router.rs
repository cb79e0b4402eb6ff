//! Arbitrary requests through the router (method, path, query, headers, body), with a
//! working lease store and with one that is down: never a panic, never a 5xx other than
//! 503 from the store that is down.
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use axum::body::Body;
use http::Request;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    custom_method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    with_token: bool,
    store_down: bool,
}

const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "DELETE", "OPTIONS", "PUT", "PATCH", "TRACE", "CONNECT",
];

fuzz_target!(|input: Input| {
    let f = common::fixture();
    let method = METHODS
        .get(usize::from(input.method))
        .map_or(input.custom_method.as_str(), |m| *m);
    let uri = if input.path.starts_with('/') {
        input.path.clone()
    } else {
        format!("/keys/{}", input.path)
    };
    let mut builder = Request::builder().method(method).uri(uri);
    if input.with_token {
        builder = builder.header("authorization", format!("Bearer {}", f.token));
    }
    for (name, value) in &input.headers {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    // Requests http cannot even represent are not the router's business.
    let Ok(request) = builder.body(Body::from(input.body)) else {
        return;
    };
    let router = if input.store_down { &f.down } else { &f.up };
    let (status, body) = common::send(router, request);
    common::check(status, &body, input.store_down);
});

//! Tokens in every carrier: no token the fuzzer makes is accepted (it cannot know the
//! secret, nor the token minted at start), and a key request carrying one is refused with
//! 401 exactly, even with the fixture's valid lease attached (a lease never stands in for
//! a token). The one 400 allowed: a malformed `kv` query parameter, refused before the
//! token is looked at (a syntax check, like a malformed content id).
//!
//! Input, one field a line, a tag byte then the value: `B` a bearer token
//! (`Authorization: Bearer ...`), `A` a raw Authorization header, `Q` a query parameter
//! string (`token=...`), `C` a Cookie header (the cookie is `bc`), `V` a string given to
//! the verifier alone. Seeds: fuzz/seeds/token.
#![no_main]

#[path = "common.rs"]
mod common;

use blindcast_keys_axum::auth::{MAX_TOKEN_LEN, extract_token};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    let mut queries = Vec::new();
    let mut headers: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut verify_only = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (field, after) = common::line(rest);
        rest = after;
        let Some((&tag, value)) = field.split_first() else {
            continue;
        };
        match tag {
            b'B' => headers.push(("authorization", [b"Bearer ", value].concat())),
            b'A' => headers.push(("authorization", value.to_vec())),
            b'C' => headers.push(("cookie", value.to_vec())),
            b'Q' => queries.push(String::from_utf8_lossy(value).into_owned()),
            _ => verify_only.push(String::from_utf8_lossy(value).into_owned()),
        }
    }
    // The one token the fuzzer may not send is the fixture's own (it cannot know it).
    let carries_valid = common::contains(data, f.token.as_bytes());

    let auth = blindcast_keys_axum::JwtAuthenticator::builder()
        .hs256_secret(common::SECRET)
        .token_cache(0, std::time::Duration::ZERO)
        .build()
        .expect("auth");
    for token in &verify_only {
        let verdict = f.runtime.block_on(auth.verify(token));
        assert!(
            verdict.is_err() || token == &f.token,
            "forged token accepted by verify: {token:?}"
        );
    }

    let uri = if queries.is_empty() {
        "/keys/movie-1".to_owned()
    } else {
        format!("/keys/movie-1?{}", queries.join("&"))
    };
    let mut builder = http::Request::get(uri).header("x-blindcast-lease", f.lease.as_str());
    for (name, value) in &headers {
        builder = builder.header(*name, value.as_slice());
    }
    let Ok(request) = builder.body(axum::body::Body::empty()) else {
        return;
    };
    let (head, body) = request.into_parts();
    if let Ok(Some((token, _source))) = extract_token(&head, Some("bc")) {
        assert!(!token.is_empty() && token.len() <= MAX_TOKEN_LEN);
        assert!(token.bytes().all(|b| b.is_ascii_graphic()));
        let verdict = f.runtime.block_on(auth.verify(&token));
        assert!(
            verdict.is_err() || token == f.token,
            "forged token accepted by verify: {token:?}"
        );
    }
    if carries_valid {
        return;
    }
    let (status, body) = common::send(&f.up, http::Request::from_parts(head, body));
    common::check(status, &body, false);
    // A malformed `kv` is a syntax check made before the signature check, like a
    // malformed content id: 400, and still no key.
    if status == 400 {
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("\"invalid_key_version\""), "{text}");
        return;
    }
    assert_eq!(
        status,
        401,
        "a request without a valid token got {status}: {}",
        String::from_utf8_lossy(&body)
    );
});

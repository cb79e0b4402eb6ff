//! Token extraction and verification: arbitrary Authorization headers, query strings and
//! cookies never panic, and no token the fuzzer makes is ever accepted (it cannot know
//! the secret).
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use blindcast_keys_axum::auth::{MAX_TOKEN_LEN, extract_token};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    authorization: Option<Vec<u8>>,
    query: String,
    cookies: Vec<Vec<u8>>,
    token: String,
}

fuzz_target!(|input: Input| {
    let f = common::fixture();
    let mut builder = http::Request::builder().uri(format!("/keys/movie-1?{}", input.query));
    if let Some(value) = &input.authorization {
        builder = builder.header("authorization", value.as_slice());
    }
    for cookie in &input.cookies {
        builder = builder.header("cookie", cookie.as_slice());
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (head, ()) = request.into_parts();
    if let Ok(Some((token, _source))) = extract_token(&head, Some("bc")) {
        assert!(!token.is_empty() && token.len() <= MAX_TOKEN_LEN);
        assert!(token.bytes().all(|b| b.is_ascii_graphic()));
    }
    let auth = blindcast_keys_axum::JwtAuthenticator::builder()
        .hs256_secret(common::SECRET)
        .token_cache(0, std::time::Duration::ZERO)
        .build()
        .expect("auth");
    let verdict = f.runtime.block_on(auth.verify(&input.token));
    // The one token the fuzzer may stumble on is the fixture's own.
    assert!(
        verdict.is_err() || input.token == f.token,
        "forged token accepted: {:?}",
        input.token
    );
    // And through the router, in every carrier.
    let (status, body) = common::send(
        &f.up,
        http::Request::get("/keys/movie-1")
            .header(
                "authorization",
                format!("Bearer {}", input.token).as_bytes(),
            )
            .body(axum::body::Body::empty())
            .unwrap_or_default(),
    );
    common::check(status, &body, false);
    assert_ne!(status, 200);
});

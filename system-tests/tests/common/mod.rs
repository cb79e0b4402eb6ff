//! The one set of fixtures of the system tests: the key server binary under test, its one
//! master key and secrets, and throwaway PostgreSQL clusters (`server`); packaging and
//! decoding HLS with ffmpeg (`media`), the player tests' log, lease, file-server and
//! e2e.mjs helpers (`playback`), Node.js and Chromium for the browser tests (`browser`); an S3 test server (`s3`). Every test file includes
//! it with `mod common;`.
//!
//! Fixtures that the router tests of keys-axum use as well are included from there by
//! path, so each exists once: the independent key oracle (`openssl_hkdf`), the fixture
//! signing keys and their JWKS (`signing`), a steerable JWKS endpoint (`jwks_endpoint`),
//! the hostile inputs (`hostile_inputs`) and the test deadline (`deadline`). None of them
//! holds a master key or secret, so no system test binary sees keys-axum's.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod browser;
pub mod media;
pub mod playback;
pub mod s3;
pub mod server;

#[path = "../../../keys-axum/tests/common/deadline.rs"]
pub mod deadline;
#[path = "../../../keys-axum/tests/common/hostile_inputs.rs"]
pub mod hostile_inputs;
#[path = "../../../keys-axum/tests/common/jwks_endpoint.rs"]
pub mod jwks_endpoint;
#[path = "../../../keys-axum/tests/common/openssl_hkdf.rs"]
pub mod openssl_hkdf;
#[path = "../../../keys-axum/tests/common/signing.rs"]
pub mod signing;

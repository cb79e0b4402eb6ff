//! The one set of fixtures of the system tests: the key server binary under test and its
//! secrets (`server`), throwaway PostgreSQL clusters (`server::PgCluster`), packaging and
//! decoding HLS with ffmpeg (`media`), an S3 test server (`s3`), and the independent key
//! oracle (`openssl_hkdf`). Every test file includes it with `mod common;`.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod media;
pub mod openssl_hkdf;
pub mod s3;
pub mod server;

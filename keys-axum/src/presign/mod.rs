//! `POST /presign`: a publisher that has encrypted its segments asks for short-lived
//! presigned S3 URLs and uploads straight to the bucket, so storage and CDN only ever
//! hold ciphertext and no storage credential leaves the key server.
//!
//! Off unless a [`PresignConfig`] is given to [`KeyServer::presign`](crate::KeyServer::presign)
//! (or `S3_BUCKET` is set: see the settings of [`crate::settings`]). Signing is rusty-s3's SigV4
//! query-string presigning; the storage server checks the signatures.

mod config;
mod names;
mod role;
pub(crate) mod route;

pub use config::{
    DEFAULT_ROLE, DEFAULT_ROLE_CLAIM, DEFAULT_TTL, MAX_PREFIX_LEN, MAX_TTL, MIN_TTL, PresignConfig,
    PresignConfigError, S3Credentials,
};
pub use names::{MAX_CONTENT_TYPE_LEN, MAX_NAME_LEN};

/// Most files one request may presign.
pub const MAX_FILES: usize = 100;

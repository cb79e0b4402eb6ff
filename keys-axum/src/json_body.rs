//! [`read_json`]: the JSON request bodies of the lease and presign routes; [`read_body`]:
//! any request body within its limit (also SPEKE's XML).

use axum::body::Body;
use http::header;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Reads a JSON body: `application/json` only (415 otherwise), at most `limit` bytes
/// (413), well-formed with the expected fields (400 `invalid_body`).
pub(crate) async fn read_json<T: DeserializeOwned>(
    head: &Parts,
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let is_json = head
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes = read_body(head, body, limit).await?;
    // serde's derived structs also accept a JSON array of field values (`["movie-1"]`):
    // the API takes objects only.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::InvalidBody("malformed JSON or missing field"));
    }
    // serde_json skips the strings of unknown fields without checking their UTF-8: a body
    // that is not UTF-8 is not JSON, wherever the bad bytes are.
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::InvalidBody("malformed JSON or missing field"))?;
    serde_json::from_str(text).map_err(|_| ApiError::InvalidBody("malformed JSON or missing field"))
}

/// Reads a body of at most `limit` bytes: 413 when `Content-Length` says more or the body
/// grows past it, 400 `invalid_body` when it cannot be read.
pub(crate) async fn read_body(
    head: &Parts,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::PayloadTooLarge;
            }
            source = s.source();
        }
        ApiError::InvalidBody("could not read the body")
    })
}

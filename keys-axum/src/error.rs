//! The one mapping from every failure of the router to an HTTP response.
//!
//! Every error body is JSON `{"error": "<code>", "message": "..."}`. Messages are fixed
//! texts chosen here: no error source, token, key, lease store detail or request value is
//! ever copied into a response.

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use blindcast_keys_core::LeaseError;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::auth::AuthRejection;

/// Why a request was refused. Converted into a response by its [`IntoResponse`] impl.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 `invalid_content_id`.
    #[error("invalid content id")]
    InvalidContentId,
    /// 400 `invalid_epoch`.
    #[error("invalid epoch")]
    InvalidEpoch,
    /// 400 `invalid_key_version`: query `kv` is not one canonical decimal version
    /// (1 to 65535), or is given more than once.
    #[error("invalid key version")]
    InvalidKeyVersion,
    /// 400 `invalid_body`: the JSON body is malformed or lacks a field.
    #[error("invalid body: {0}")]
    InvalidBody(&'static str),
    /// 400 `invalid_header`: a request header (such as `Idempotency-Key`) is malformed.
    #[error("invalid header: {0}")]
    InvalidHeader(&'static str),
    /// 400 `invalid_file_name`: a presign request names a file that cannot be part of an
    /// object key.
    #[error("invalid file name")]
    InvalidFileName,
    /// 400 `invalid_content_type`: a presign request's content type is missing or is not a
    /// MIME type.
    #[error("invalid content type")]
    InvalidContentType,
    /// The authenticator refused the request (usually 401 `unauthenticated`).
    #[error("authentication refused: {0}")]
    Auth(AuthRejection),
    /// 403 `forbidden`: the viewer is not entitled to this content, or the lease covers
    /// other content.
    #[error("forbidden")]
    Forbidden(&'static str),
    /// 403 `lease_required`: the key route needs a valid lease of this viewer.
    #[error("lease required")]
    LeaseRequired(&'static str),
    /// 404 `not_found`: no such route (or the lease routes without a lease store).
    #[error("not found")]
    NotFound,
    /// 404 `lease_not_found`: no such lease for this viewer.
    #[error("lease not found")]
    LeaseNotFound,
    /// 404 `unknown_key_version`: the key URI names a master-key version this server
    /// does not have.
    #[error("unknown key version")]
    UnknownKeyVersion,
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408 `request_timeout`: the request took longer than the configured timeout.
    #[error("request timeout")]
    RequestTimeout,
    /// 409 `lease_limit_reached`, with the viewer's active leases and the limit.
    #[error("lease limit reached")]
    LeaseLimitReached {
        /// Unexpired leases the viewer holds.
        active: u32,
        /// The limit.
        max: u32,
    },
    /// 409 `idempotency_conflict`: the idempotency key was used for other content.
    #[error("idempotency conflict")]
    IdempotencyConflict,
    /// 410 `lease_expired`.
    #[error("lease expired")]
    LeaseExpired,
    /// 410 `key_version_retired`: the key URI names a retired master-key version; its
    /// keys are no longer served (the content must be re-packaged under a current one).
    #[error("key version retired")]
    KeyVersionRetired,
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: a body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 503 `lease_store_unavailable`: leases cannot be checked, so no key is served.
    #[error("lease store unavailable")]
    LeaseStoreUnavailable(#[source] LeaseError),
    /// A refused SPEKE request (400 `speke_*`, or 400 `invalid_content_id`).
    #[cfg(feature = "speke")]
    #[error("SPEKE request refused: {0}")]
    Speke(crate::speke::SpekeRefusal),
    /// 500 `internal`: a failure that is nobody's request's fault (RNG, serialization).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidContentId
            | Self::InvalidEpoch
            | Self::InvalidKeyVersion
            | Self::InvalidBody(_)
            | Self::InvalidHeader(_)
            | Self::InvalidFileName
            | Self::InvalidContentType => StatusCode::BAD_REQUEST,
            Self::Auth(rejection) => rejection.status(),
            Self::Forbidden(_) | Self::LeaseRequired(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::LeaseNotFound | Self::UnknownKeyVersion => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::LeaseLimitReached { .. } | Self::IdempotencyConflict => StatusCode::CONFLICT,
            Self::LeaseExpired | Self::KeyVersionRetired => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::LeaseStoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            #[cfg(feature = "speke")]
            Self::Speke(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The machine-readable code in the body's `error` field (also used in audit events
    /// and metrics).
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidContentId => "invalid_content_id",
            Self::InvalidEpoch => "invalid_epoch",
            Self::InvalidKeyVersion => "invalid_key_version",
            Self::InvalidBody(_) => "invalid_body",
            Self::InvalidHeader(_) => "invalid_header",
            Self::InvalidFileName => "invalid_file_name",
            Self::InvalidContentType => "invalid_content_type",
            Self::Auth(rejection) => rejection.code(),
            Self::Forbidden(_) => "forbidden",
            Self::LeaseRequired(_) => "lease_required",
            Self::NotFound => "not_found",
            Self::LeaseNotFound => "lease_not_found",
            Self::UnknownKeyVersion => "unknown_key_version",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::LeaseLimitReached { .. } => "lease_limit_reached",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::LeaseExpired => "lease_expired",
            Self::KeyVersionRetired => "key_version_retired",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::LeaseStoreUnavailable(_) => "lease_store_unavailable",
            Self::Internal => "internal",
            #[cfg(feature = "speke")]
            Self::Speke(refusal) => refusal.code(),
        }
    }

    /// The human-readable message: fixed text, never request data.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::InvalidContentId => {
                "content id must be 1-128 characters of A-Z a-z 0-9 . _ - not starting with '.'"
                    .into()
            }
            Self::InvalidEpoch => "epoch must be a canonical decimal integer (0 to 2^64-1)".into(),
            Self::InvalidKeyVersion => {
                "kv must be one canonical decimal key version (1 to 65535), given once".into()
            }
            Self::InvalidBody(why) | Self::InvalidHeader(why) => (*why).into(),
            Self::InvalidFileName => {
                "file names must be 1-255 characters of A-Z a-z 0-9 . _ - ~ @ =, not '.' and without '..'"
                    .into()
            }
            Self::InvalidContentType => {
                "contentType must be a MIME type such as video/mp2t (at most 255 characters)".into()
            }
            Self::Auth(rejection) => rejection.message().into(),
            Self::Forbidden(why) | Self::LeaseRequired(why) => (*why).into(),
            Self::NotFound => "no such resource".into(),
            Self::LeaseNotFound => "no such lease for this viewer".into(),
            Self::UnknownKeyVersion => "this server has no such key version".into(),
            Self::MethodNotAllowed => "method not allowed on this resource".into(),
            Self::RequestTimeout => "the request took too long".into(),
            Self::LeaseLimitReached { active, max } => {
                format!("{active} of {max} leases are active; release or let one expire").into()
            }
            Self::IdempotencyConflict => {
                "this Idempotency-Key was already used for other content".into()
            }
            Self::LeaseExpired => "the lease has expired; create a new one".into(),
            Self::KeyVersionRetired => {
                "this key version is retired; its keys are no longer served".into()
            }
            Self::PayloadTooLarge => "request body too large".into(),
            Self::UnsupportedMediaType => "the body must be application/json".into(),
            Self::LeaseStoreUnavailable(_) => {
                "leases cannot be checked right now; try again later".into()
            }
            Self::Internal => "internal error".into(),
            #[cfg(feature = "speke")]
            Self::Speke(refusal) => refusal.message().into(),
        }
    }

    /// Maps a lease-store error met while serving a key or a lease route.
    pub fn from_lease_error(error: LeaseError) -> Self {
        match error {
            LeaseError::LimitReached { active, max } => Self::LeaseLimitReached { active, max },
            LeaseError::NotFound => Self::LeaseNotFound,
            LeaseError::Expired => Self::LeaseExpired,
            LeaseError::WrongContent => Self::Forbidden("the lease covers other content"),
            LeaseError::IdempotencyConflict => Self::IdempotencyConflict,
            LeaseError::InvalidRequest(_) => Self::InvalidBody("invalid lease request"),
            other => Self::LeaseStoreUnavailable(other),
        }
    }
}

impl From<AuthRejection> for ApiError {
    fn from(rejection: AuthRejection) -> Self {
        Self::Auth(rejection)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

impl ApiError {
    /// The response, leaving the error to its owner (the outcome record keeps it).
    pub(crate) fn to_response(&self) -> Response {
        let status = self.status();
        let mut body = json!({ "error": self.code(), "message": self.message() });
        if let Self::LeaseLimitReached { active, max } = self {
            body["active"] = json!(active);
            body["max"] = json!(max);
        }
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        // Error bodies are per-viewer answers too: never cache them anywhere.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self {
                Self::Auth(rejection) if rejection.had_token() => r#"Bearer error="invalid_token""#,
                _ => "Bearer",
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

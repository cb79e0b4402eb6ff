//! `POST /keys/leases`, `POST /keys/leases/renew`, `DELETE /keys/leases/{leaseId}`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use blindcast_keys_core::lease::{CreateLease, IdempotencyKey, Lease, LeaseId};
use blindcast_keys_core::{ContentId, LeaseError, LeaseStore};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::Principal;
use crate::entitlement::is_entitled;
use crate::error::ApiError;
use crate::router::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    content_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RenewBody {
    lease_id: String,
}

pub(crate) async fn create(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let result = create_inner(&state, request).await;
    finish(&state, "create", result)
}

async fn create_inner(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let store = store(state)?;
    let (head, body) = request.into_parts();
    let principal = state.auth.authenticate(&head).await?;
    let idempotency_key = idempotency_key(&head)?;
    let body: CreateBody = read_json(&head, body, state.config.max_body_bytes).await?;
    let content = ContentId::new(body.content_id).map_err(|_| ApiError::InvalidContentId)?;
    check_entitled(state, &principal, &content)?;
    let mut request = CreateLease::new(
        principal.viewer,
        content,
        state.config.lease_ttl,
        state.config.max_leases_per_viewer,
    );
    if let Some(key) = idempotency_key {
        request = request.with_idempotency_key(key);
    }
    let lease = store
        .create(request)
        .await
        .map_err(ApiError::from_lease_error)?;
    Ok(lease_response(
        StatusCode::CREATED,
        &lease,
        state.config.lease_ttl,
    ))
}

pub(crate) async fn renew(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let result = renew_inner(&state, request).await;
    finish(&state, "renew", result)
}

async fn renew_inner(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let store = store(state)?;
    let (head, body) = request.into_parts();
    let principal = state.auth.authenticate(&head).await?;
    let body: RenewBody = read_json(&head, body, state.config.max_body_bytes).await?;
    let id: LeaseId = body.lease_id.parse().map_err(|_| ApiError::LeaseNotFound)?;
    let lease = store
        .renew(&id, &principal.viewer, state.config.lease_ttl)
        .await
        .map_err(ApiError::from_lease_error)?;
    Ok(lease_response(
        StatusCode::OK,
        &lease,
        state.config.lease_ttl,
    ))
}

pub(crate) async fn release(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let result = async {
        let store = store(&state)?;
        let (head, _body) = request.into_parts();
        let principal = state.auth.authenticate(&head).await?;
        let Ok(Path(text)) = path else {
            return Err(ApiError::LeaseNotFound);
        };
        let id: LeaseId = text.parse().map_err(|_| ApiError::LeaseNotFound)?;
        store
            .release(&id, &principal.viewer)
            .await
            .map_err(ApiError::from_lease_error)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    finish(&state, "release", result)
}

fn store(state: &AppState) -> Result<&Arc<dyn LeaseStore>, ApiError> {
    // Without a lease store the lease routes do not exist.
    state.leases.as_ref().ok_or(ApiError::NotFound)
}

pub(crate) fn check_entitled(
    state: &AppState,
    principal: &Principal,
    content: &ContentId,
) -> Result<(), ApiError> {
    match &state.config.entitlement_claim {
        Some(claim) if !is_entitled(&principal.claims, claim, content) => {
            Err(ApiError::Forbidden("not entitled to this content"))
        }
        _ => Ok(()),
    }
}

fn finish(state: &AppState, op: &'static str, result: Result<Response, ApiError>) -> Response {
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            if let ApiError::LeaseStoreUnavailable(source) = &error {
                tracing::warn!(operation = op, error = %DisplayChain(source), "lease store failure");
            }
            error.into_response()
        }
    };
    if let Some(metrics) = &state.metrics {
        let outcome = response.status();
        metrics.lease_op(op, outcome.as_str());
    }
    response
}

/// An error and its sources on one line, for logs only.
struct DisplayChain<'a>(&'a LeaseError);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = std::error::Error::source(self.0);
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

fn idempotency_key(head: &Parts) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = head.headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || ApiError::InvalidHeader("Idempotency-Key must be 1 to 255 visible characters");
    let text = value.to_str().map_err(|_| bad())?;
    IdempotencyKey::new(text).map(Some).map_err(|_| bad())
}

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
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source = std::error::Error::source(&e);
        let mut too_large = false;
        while let Some(s) = source {
            too_large |= s.is::<http_body_util::LengthLimitError>();
            source = s.source();
        }
        if too_large {
            ApiError::PayloadTooLarge
        } else {
            ApiError::InvalidBody("could not read the body")
        }
    })?;
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

fn lease_response(status: StatusCode, lease: &Lease, ttl: Duration) -> Response {
    let ttl_seconds = ttl.as_secs();
    let body = json!({
        "leaseId": lease.id.as_str(),
        "contentId": lease.content.as_str(),
        "expiresAt": humantime::format_rfc3339_seconds(lease.expires_at).to_string(),
        "ttlSeconds": ttl_seconds,
        "renewAfterSeconds": (ttl_seconds / 3).max(1),
    });
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

//! `POST /keys/leases`, `POST /keys/leases/renew`, `DELETE /keys/leases/{leaseId}`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use blindcast_keys_core::lease::{CreateLease, IdempotencyKey, Lease, LeaseId};
use blindcast_keys_core::{ContentId, LeaseStore};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use crate::entitlement::require_entitled;
use crate::error::ApiError;
use crate::json_body::read_json;
use crate::outcome::{Outcome, Recorded, Route};
use crate::state::AppState;

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

pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Recorded<Response> {
    let result = create_inner(&state, request).await;
    Outcome::new(Route::Lease("create")).answer(result)
}

async fn create_inner(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let store = store(state)?;
    let (head, body) = request.into_parts();
    let principal = state.auth.authenticate(&head).await?;
    let idempotency_key = idempotency_key(&head)?;
    let body: CreateBody = read_json(&head, body, state.max_body_bytes).await?;
    let content = ContentId::new(body.content_id).map_err(|_| ApiError::InvalidContentId)?;
    require_entitled(
        state.entitlement_claim.as_deref(),
        &principal.claims,
        &content,
    )?;
    let mut request = CreateLease::new(
        principal.viewer,
        content,
        state.lease_ttl,
        state.max_leases_per_viewer,
    );
    if let Some(key) = idempotency_key {
        request = request.with_idempotency_key(key);
    }
    let lease = store
        .create(request)
        .await
        .map_err(ApiError::from_lease_error)?;
    Ok(lease_response(StatusCode::CREATED, &lease, state.lease_ttl))
}

pub(crate) async fn renew(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Recorded<Response> {
    let result = renew_inner(&state, request).await;
    Outcome::new(Route::Lease("renew")).answer(result)
}

async fn renew_inner(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let store = store(state)?;
    let (head, body) = request.into_parts();
    let principal = state.auth.authenticate(&head).await?;
    let body: RenewBody = read_json(&head, body, state.max_body_bytes).await?;
    let id: LeaseId = body.lease_id.parse().map_err(|_| ApiError::LeaseNotFound)?;
    let lease = store
        .renew(&id, &principal.viewer, state.lease_ttl)
        .await
        .map_err(ApiError::from_lease_error)?;
    Ok(lease_response(StatusCode::OK, &lease, state.lease_ttl))
}

pub(crate) async fn release(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Recorded<Response> {
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
    Outcome::new(Route::Lease("release")).answer(result)
}

fn store(state: &AppState) -> Result<&Arc<dyn LeaseStore>, ApiError> {
    // Without a lease store the lease routes do not exist.
    state.leases.as_ref().ok_or(ApiError::NotFound)
}

fn idempotency_key(head: &Parts) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = head.headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || ApiError::InvalidHeader("Idempotency-Key must be 1 to 255 visible characters");
    let text = value.to_str().map_err(|_| bad())?;
    IdempotencyKey::new(text).map(Some).map_err(|_| bad())
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

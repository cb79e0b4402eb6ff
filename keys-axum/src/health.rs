//! `/healthz`, `/readyz` and the opt-in `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// Liveness: the process answers.
pub(crate) async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Readiness: the lease store (if any) answers.
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if let Some(store) = &state.leases
        && let Err(e) = store.ping().await
    {
        tracing::warn!(error = %e, "readiness: lease store ping failed");
        return ApiError::LeaseStoreUnavailable(e).into_response();
    }
    Json(json!({ "status": "ready" })).into_response()
}

/// Prometheus text exposition.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let Some(metrics) = &state.metrics else {
        return ApiError::NotFound.into_response();
    };
    let store = state
        .leases
        .as_ref()
        .map(|store| store.metrics())
        .unwrap_or_default();
    let mut response = metrics.render(&store).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

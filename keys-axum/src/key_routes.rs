//! `GET`/`HEAD /keys/{contentId}` and `/keys/{contentId}/{epoch}`: the 16-byte keys.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use blindcast_keys_core::lease::LeaseId;
use blindcast_keys_core::{ContentId, DerivedKey, KeyLookupError, KeyVersion, parse_epoch};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};

use crate::entitlement::require_entitled;
use crate::error::ApiError;
use crate::outcome::{Outcome, Recorded, Route};
use crate::query::{query_param, unique_query_param};
use crate::state::AppState;

/// The header that carries a lease id on key requests.
pub const LEASE_HEADER: &str = "x-blindcast-lease";

pub(crate) async fn content_key(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Recorded<Response> {
    let content = path.map(|Path(c)| c).ok();
    serve_key(&state, request, content.as_deref(), None).await
}

pub(crate) async fn epoch_key(
    State(state): State<Arc<AppState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Recorded<Response> {
    match path {
        Ok(Path((content, epoch))) => {
            serve_key(&state, request, Some(&content), Some(Some(&epoch))).await
        }
        Err(_) => {
            // One segment is not UTF-8 once decoded: find out which, so the error names
            // the right part.
            let mut segments = request.uri().path().rsplit('/');
            let epoch = segments.next().and_then(percent_decode);
            let content = segments.next().and_then(percent_decode);
            serve_key(&state, request, content.as_deref(), Some(epoch.as_deref())).await
        }
    }
}

/// Percent-decodes a path segment; `None` unless the result is UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = raw.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) async fn leases_content_key(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Recorded<Response> {
    serve_key(&state, request, Some("leases"), None).await
}

pub(crate) async fn leases_renew_epoch_key(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Recorded<Response> {
    serve_key(&state, request, Some("leases"), Some(Some("renew"))).await
}

pub(crate) async fn leases_epoch_key(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Recorded<Response> {
    let epoch = path.map(|Path(e)| e).ok();
    serve_key(&state, request, Some("leases"), Some(epoch.as_deref())).await
}

/// `content`: `None` when the path segment was not valid UTF-8. `epoch`: `None` for the
/// content key, `Some(None)` for an undecodable epoch segment.
async fn serve_key(
    state: &AppState,
    request: Request,
    content: Option<&str>,
    epoch: Option<Option<&str>>,
) -> Recorded<Response> {
    let (head, _body) = request.into_parts();
    let mut outcome = Outcome::new(Route::Key);
    let result = issue(state, &head, content, epoch, &mut outcome)
        .await
        .map(|key| key_response(&key, &state.cache_control));
    outcome.answer(result).reuse(head.extensions)
}

/// Each id is moved into `outcome` as soon as it is known (and borrowed from there), so
/// the record costs no copies.
async fn issue(
    state: &AppState,
    head: &Parts,
    content: Option<&str>,
    epoch: Option<Option<&str>>,
    outcome: &mut Outcome,
) -> Result<DerivedKey, ApiError> {
    // Cheap syntax checks first: a malformed id costs no signature check.
    let content = ContentId::new(content.ok_or(ApiError::InvalidContentId)?)
        .map_err(|_| ApiError::InvalidContentId)?;
    let content = &*outcome.content.insert(content);
    let epoch = match epoch {
        None => None,
        Some(text) => Some(
            parse_epoch(text.ok_or(ApiError::InvalidEpoch)?).map_err(|_| ApiError::InvalidEpoch)?,
        ),
    };
    outcome.epoch = epoch;
    let version = key_version(head)?;
    outcome.kv = Some(version);

    let principal = state.auth.authenticate(head).await?;
    let viewer = &*outcome.viewer.insert(principal.viewer);
    require_entitled(
        state.entitlement_claim.as_deref(),
        &principal.claims,
        content,
    )?;

    // The version is looked up after authentication, not with the syntax checks above:
    // which versions exist and which are retired is for viewers to learn, not for anyone
    // probing the server (every unauthenticated request gets the same 401). It comes
    // before the lease check, so a retired version costs no lease-store query, and a
    // viewer holding a lease still gets the 410 that says why the key is gone.
    let deriver = state.keyring.deriver(version).map_err(|e| match e {
        KeyLookupError::Unknown(_) => ApiError::UnknownKeyVersion,
        KeyLookupError::Retired(_) => ApiError::KeyVersionRetired,
    })?;

    if let Some(store) = &state.leases {
        let lease = &*outcome.lease.insert(lease_id(head)?);
        match store.check(lease, viewer, content).await {
            Ok(_) => {}
            // Unknown ids and other viewers' leases look the same: no probing.
            Err(blindcast_keys_core::LeaseError::NotFound) => {
                return Err(ApiError::LeaseRequired("no valid lease of this viewer"));
            }
            Err(e) => return Err(ApiError::from_lease_error(e)),
        }
    }
    Ok(deriver.key(content, epoch))
}

/// The key version of a key request: query `kv`, canonical decimal (1 to 65535); absent
/// means version 1, so every key URI published before versions existed keeps working.
/// Given twice it is refused even with equal values: one key has one URI.
fn key_version(head: &Parts) -> Result<KeyVersion, ApiError> {
    let Some(query) = head.uri.query() else {
        return Ok(KeyVersion::V1);
    };
    match unique_query_param(query, "kv") {
        Ok(None) => Ok(KeyVersion::V1),
        Ok(Some(text)) => text.parse().map_err(|_| ApiError::InvalidKeyVersion),
        Err(()) => Err(ApiError::InvalidKeyVersion),
    }
}

/// The lease id of a key request: header `X-Blindcast-Lease`, else query `lease`.
fn lease_id(head: &Parts) -> Result<LeaseId, ApiError> {
    let missing = || ApiError::LeaseRequired("a lease is required: X-Blindcast-Lease or ?lease=");
    let malformed = || ApiError::LeaseRequired("no valid lease of this viewer");
    if let Some(value) = head.headers.get(LEASE_HEADER) {
        let text = value.to_str().map_err(|_| malformed())?;
        return text.trim().parse().map_err(|_| malformed());
    }
    let query = head.uri.query().ok_or_else(missing)?;
    let text = query_param(query, "lease").ok_or_else(missing)?;
    text.parse().map_err(|_| malformed())
}

fn key_response(key: &DerivedKey, cache_control: &HeaderValue) -> Response {
    let mut response = Response::new(Body::from(key.as_bytes().to_vec()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, cache_control.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Explicit, so HEAD answers carry it too.
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("16"));
    response
}

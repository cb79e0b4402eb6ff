//! `POST /presign`: short-lived S3 URLs for a publisher's files.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use blindcast_keys_core::ContentId;
use http::{HeaderValue, header};
use rusty_s3::S3Action;
use rusty_s3::actions::{GetObject, PutObject};
use serde::Deserialize;
use serde_json::{Value, json};

use super::MAX_FILES;
use super::config::PresignConfig;
use super::names::{is_valid_content_type, is_valid_name};
use super::role::has_role;
use crate::entitlement::require_entitled;
use crate::error::ApiError;
use crate::json_body::read_json;
use crate::outcome::{Outcome, Recorded, Route};
use crate::state::AppState;

/// Largest presign request body: room for [`MAX_FILES`] files with long names and types.
pub(crate) const BODY_LIMIT: usize = 96 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresignBody {
    content_id: String,
    files: Vec<FileBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileBody {
    name: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    method: Option<String>,
}

/// One file to sign, checked.
struct Checked {
    name: String,
    method: Method,
}

enum Method {
    /// An upload, with the Content-Type it must carry.
    Put(String),
    /// A download.
    Get,
}

pub(crate) async fn presign(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Recorded<Response> {
    let mut outcome = Outcome::new(Route::Presign);
    let result = match &state.presign {
        Some(config) => presign_inner(&state, config, request, &mut outcome).await,
        // Not configured: the route does not exist.
        None => Err(ApiError::NotFound),
    };
    outcome.answer(result)
}

async fn presign_inner(
    state: &AppState,
    config: &PresignConfig,
    request: Request,
    outcome: &mut Outcome,
) -> Result<Response, ApiError> {
    let (head, body) = request.into_parts();
    let principal = state.auth.authenticate(&head).await?;
    outcome.viewer = Some(principal.viewer);
    if !has_role(&principal.claims, &config.role_claim, &config.role) {
        return Err(ApiError::Forbidden("presigning is for publishers only"));
    }
    let limit = state.max_body_bytes.max(BODY_LIMIT);
    let body: PresignBody = read_json(&head, body, limit).await?;
    let content = ContentId::new(body.content_id).map_err(|_| ApiError::InvalidContentId)?;
    let content = &*outcome.content.insert(content);
    require_entitled(
        state.entitlement_claim.as_deref(),
        &principal.claims,
        content,
    )?;
    if body.files.is_empty() || body.files.len() > MAX_FILES {
        return Err(ApiError::InvalidBody("files must list 1 to 100 files"));
    }
    // Every file is checked before anything is signed: all or nothing.
    let files = body
        .files
        .into_iter()
        .map(|file| check_file(config, file))
        .collect::<Result<Vec<_>, _>>()?;

    // Taken before signing, so no URL outlives the time announced.
    let expires_at = humantime::format_rfc3339_seconds(SystemTime::now() + config.ttl).to_string();
    let signed: Vec<Value> = files
        .iter()
        .map(|file| {
            let key = config.object_key(content.as_str(), &file.name);
            let (method, url, headers) = match &file.method {
                Method::Put(kind) => {
                    let mut action =
                        PutObject::new(&config.bucket, Some(&config.credentials), &key);
                    // Signed: the storage refuses an upload with another Content-Type.
                    action.headers_mut().insert("content-type", kind.as_str());
                    let url = action.sign(config.ttl);
                    outcome.puts += 1;
                    ("PUT", url, json!({ "Content-Type": kind }))
                }
                Method::Get => {
                    let action = GetObject::new(&config.bucket, Some(&config.credentials), &key);
                    let url = action.sign(config.ttl);
                    outcome.gets += 1;
                    ("GET", url, json!({}))
                }
            };
            json!({
                "name": file.name,
                "method": method,
                "url": url.as_str(),
                "headers": headers,
                "expiresAt": expires_at,
            })
        })
        .collect();
    let body = json!({
        "contentId": content.as_str(),
        "expiresAt": expires_at,
        "files": signed,
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn check_file(config: &PresignConfig, file: FileBody) -> Result<Checked, ApiError> {
    if !is_valid_name(&file.name) {
        return Err(ApiError::InvalidFileName);
    }
    if file
        .content_type
        .as_deref()
        .is_some_and(|kind| !is_valid_content_type(kind))
    {
        return Err(ApiError::InvalidContentType);
    }
    let method = match file.method.as_deref() {
        None | Some("PUT") => Method::Put(file.content_type.ok_or(ApiError::InvalidContentType)?),
        // A GET needs no content type: one given is checked, then unused.
        Some("GET") if config.allow_get => Method::Get,
        Some("GET") => return Err(ApiError::Forbidden("presigned GET URLs are not enabled")),
        Some(_) => return Err(ApiError::InvalidBody("method must be PUT or GET")),
    };
    Ok(Checked {
        name: file.name,
        method,
    })
}

//! `POST /speke/v1` and `POST /speke/v2`: a packager's CPIX request, answered with keys.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use blindcast_keys_core::{ContentId, KeyDeriver};
use http::{HeaderValue, header};

use super::config::SpekeConfig;
use super::cpix::{SpekeRefusal, SpekeVersion, parse_request};
use super::response::write_response;
use crate::error::ApiError;
use crate::json_body::read_body;
use crate::outcome::{Outcome, Recorded, Route};
use crate::state::AppState;

/// The header that names the SPEKE version (v2 and later).
const VERSION_HEADER: &str = "x-speke-version";
/// Most epochs an audit line lists one by one; more are written as a range.
const MAX_LISTED_EPOCHS: usize = 32;

pub(crate) async fn v1(State(state): State<Arc<AppState>>, request: Request) -> Recorded<Response> {
    handle(&state, request, SpekeVersion::V1).await
}

pub(crate) async fn v2(State(state): State<Arc<AppState>>, request: Request) -> Recorded<Response> {
    handle(&state, request, SpekeVersion::V2).await
}

async fn handle(state: &AppState, request: Request, version: SpekeVersion) -> Recorded<Response> {
    let mut outcome = Outcome::new(Route::Speke);
    let result = match &state.speke {
        Some(config) => answer(state, config, request, version, &mut outcome).await,
        None => Err(ApiError::NotFound),
    };
    outcome.answer(result)
}

/// The deriver of a content's keys: the one place a SPEKE key's deriver is chosen. New
/// packaging uses the primary master-key version, and the key URIs name it.
fn deriver_for<'s>(state: &'s AppState, _content: &ContentId) -> &'s KeyDeriver {
    state.keyring.primary()
}

async fn answer(
    state: &AppState,
    config: &SpekeConfig,
    request: Request,
    version: SpekeVersion,
    outcome: &mut Outcome,
) -> Result<Response, ApiError> {
    let (head, body) = request.into_parts();
    // Fails closed: a configuration without an authenticator refuses everyone.
    let packagers =
        config
            .packagers
            .as_ref()
            .ok_or(ApiError::Auth(crate::auth::AuthRejection::missing(
                "no packager authentication is configured",
            )))?;
    let principal = packagers.authenticate(&head).await?;
    outcome.viewer = Some(principal.viewer);
    let header = head.headers.get(VERSION_HEADER).map(HeaderValue::as_bytes);
    match (version, header) {
        (SpekeVersion::V1, None | Some(b"1.0")) | (SpekeVersion::V2, Some(b"2.0")) => {}
        (SpekeVersion::V1, Some(_)) => {
            return Err(SpekeRefusal::Version(
                "SPEKE v2 requests (X-Speke-Version: 2.0) go to /speke/v2",
            )
            .into());
        }
        (SpekeVersion::V2, _) => {
            return Err(
                SpekeRefusal::Version("/speke/v2 needs the header X-Speke-Version: 2.0").into(),
            );
        }
    }
    let bytes = read_body(&head, body, config.max_body_bytes).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| SpekeRefusal::Malformed)?;
    let request = parse_request(text, version)?;
    let content = &*outcome.content.insert(request.content.clone());
    outcome.speke_keys = request.keys.len();
    outcome.speke_epochs = Some(epochs_field(request.keys.iter().map(|k| k.epoch)));
    let deriver = deriver_for(state, content);
    outcome.kv = Some(deriver.version());
    let xml = write_response(
        &request,
        |epoch| *deriver.key(content, epoch).as_bytes(),
        |epoch| config.key_uri(content, epoch, deriver.version()),
    );
    let mut response = Response::new(Body::from(xml.as_bytes().to_vec()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if version == SpekeVersion::V2 {
        headers.insert(VERSION_HEADER, HeaderValue::from_static("2.0"));
    }
    Ok(response.into_response())
}

/// The audit field of the periods asked for: `content` for the content key, then the
/// epochs in order; a long list becomes `first..last` with its count.
fn epochs_field(epochs: impl Iterator<Item = Option<u64>>) -> String {
    let mut content = false;
    let mut set = BTreeSet::new();
    for epoch in epochs {
        match epoch {
            Some(e) => {
                set.insert(e);
            }
            None => content = true,
        }
    }
    let mut parts: Vec<String> = Vec::new();
    if content {
        parts.push("content".to_owned());
    }
    match (set.first(), set.last()) {
        (Some(first), Some(last)) if set.len() > MAX_LISTED_EPOCHS => {
            parts.push(format!("{first}..{last} ({} epochs)", set.len()));
        }
        _ => parts.extend(set.iter().map(u64::to_string)),
    }
    parts.join(",")
}

impl From<SpekeRefusal> for ApiError {
    fn from(refusal: SpekeRefusal) -> Self {
        Self::Speke(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_field_lists_or_summarises() {
        assert_eq!(epochs_field([None].into_iter()), "content");
        assert_eq!(
            epochs_field([Some(3), None, Some(1), Some(3)].into_iter()),
            "content,1,3"
        );
        assert_eq!(epochs_field((10..50).map(Some)), "10..49 (40 epochs)");
    }
}

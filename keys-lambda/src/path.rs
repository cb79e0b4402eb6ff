//! The path the router sees, whatever the front door: API Gateway HTTP API (v2) on
//! `$default` or a named stage, REST API (v1) with a stage, Function URLs and ALB.
//!
//! `lambda_http` puts a named stage in front of the path (and an HTTP API keeps it in
//! `rawPath` when called through its `execute-api` address). This module takes it off
//! again, using the event's request context to know which front door it came through.

use http::Uri;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// The path of `uri` as the router should see it, with `base_path` (already normalised:
/// `""` or `/segment...` without a trailing slash) taken off after the stage. `None`
/// means "leave the request alone".
pub(crate) fn normalised_path(
    uri: &Uri,
    extensions: &http::Extensions,
    base_path: &str,
) -> Option<String> {
    let path = uri.path();
    let mut rest = match extensions.get::<RequestContext>() {
        Some(context) => strip_stage(path, extensions.raw_http_path(), context),
        None => path,
    };
    if !base_path.is_empty() {
        rest = strip_segment_prefix(rest, base_path).unwrap_or(rest);
    }
    if rest.len() == path.len() {
        return None;
    }
    Some(if rest.is_empty() {
        "/".to_owned()
    } else {
        rest.to_owned()
    })
}

/// The stage-free part of `path`.
fn strip_stage<'a>(path: &'a str, raw_path: &str, context: &RequestContext) -> &'a str {
    let (stage, domain, keeps_stage_in_raw_path) = match context {
        // REST API: the event's `path` never holds the stage; lambda_http prepends it
        // unless the path already starts with it (or AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH
        // is set).
        RequestContext::ApiGatewayV1(ctx) => (ctx.stage.as_deref(), None, false),
        // HTTP API: `rawPath` holds the stage when the API is called on its execute-api
        // address with a named stage, not through a custom domain.
        RequestContext::ApiGatewayV2(ctx) => {
            (ctx.stage.as_deref(), ctx.domain_name.as_deref(), true)
        }
        // ALB, and anything else: no stages.
        _ => return path,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") else {
        return path;
    };
    let prefix = format!("/{stage}");
    let Some(rest) = strip_segment_prefix(path, &prefix) else {
        return path;
    };
    let raw_has_stage = strip_segment_prefix(raw_path, &prefix).is_some();
    if !raw_has_stage {
        // lambda_http put it there.
        return rest;
    }
    // The event's own path starts with `/{stage}`: for an HTTP API on its execute-api
    // address that is the stage; anywhere else it is part of the real path (a resource
    // named like the stage).
    if keeps_stage_in_raw_path && domain.is_none_or(is_execute_api_domain) {
        rest
    } else {
        path
    }
}

/// `path` without a leading `prefix` that ends on a segment boundary.
fn strip_segment_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// `{api-id}.execute-api.{region}.amazonaws.com` (and the `.cn` partitions).
fn is_execute_api_domain(domain: &str) -> bool {
    domain.contains(".execute-api.")
}

/// Normalises a configured base path: `""`, `"/"` → `""`; `"v1"`, `"/v1/"` → `"/v1"`.
pub(crate) fn normalise_base_path(base: &str) -> String {
    let trimmed = base.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// `uri` with its path replaced (query kept, scheme and authority kept).
pub(crate) fn with_path(uri: &Uri, path: &str) -> Option<Uri> {
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_prefixes() {
        assert_eq!(
            strip_segment_prefix("/prod/keys/a", "/prod"),
            Some("/keys/a")
        );
        assert_eq!(strip_segment_prefix("/prod", "/prod"), Some(""));
        assert_eq!(strip_segment_prefix("/production/keys", "/prod"), None);
    }

    #[test]
    fn base_paths() {
        assert_eq!(normalise_base_path(""), "");
        assert_eq!(normalise_base_path("/"), "");
        assert_eq!(normalise_base_path("v1"), "/v1");
        assert_eq!(normalise_base_path("/api/v1/"), "/api/v1");
    }

    #[test]
    fn replaces_the_path_and_keeps_the_query() {
        let uri: Uri = "https://h.example/prod/keys/a?token=t"
            .parse()
            .unwrap_or_default();
        let new = with_path(&uri, "/keys/a").unwrap_or_default();
        assert_eq!(new.to_string(), "https://h.example/keys/a?token=t");
        let no_base = normalised_path(&uri, &http::Extensions::new(), "/prod");
        assert_eq!(no_base.as_deref(), Some("/keys/a"));
        assert_eq!(normalised_path(&uri, &http::Extensions::new(), ""), None);
    }
}

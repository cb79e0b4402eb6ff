//! Entitlement: an optional claim listing the content a viewer may watch.

use blindcast_keys_core::ContentId;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// 403 `forbidden` unless `claims` entitle to `content`; always fine without a `claim`
/// configured.
pub(crate) fn require_entitled(
    claim: Option<&str>,
    claims: &Map<String, Value>,
    content: &ContentId,
) -> Result<(), ApiError> {
    match claim {
        Some(claim) if !is_entitled(claims, claim, content) => {
            Err(ApiError::Forbidden("not entitled to this content"))
        }
        _ => Ok(()),
    }
}

/// True when `claims[claim]` (a string or a list of strings) names `content`, exactly or
/// through a `prefix*` pattern (`*` alone matches everything). A missing or malformed
/// claim entitles to nothing.
fn is_entitled(claims: &Map<String, Value>, claim: &str, content: &ContentId) -> bool {
    let id = content.as_str();
    let matches = |pattern: &str| match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => pattern == id,
    };
    match claims.get(claim) {
        Some(Value::String(pattern)) => matches(pattern),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(claim: Value, id: &str) -> bool {
        let Value::Object(map) = json!({ "content": claim }) else {
            unreachable!()
        };
        is_entitled(&map, "content", &id.parse().expect("valid id"))
    }

    #[test]
    fn exact_and_prefix_patterns() {
        assert!(check(json!(["movie-1", "series-*"]), "movie-1"));
        assert!(check(json!(["movie-1", "series-*"]), "series-7"));
        assert!(!check(json!(["movie-1", "series-*"]), "movie-10"));
        assert!(check(json!("*"), "anything"));
        assert!(check(json!("movie-1"), "movie-1"));
        assert!(!check(json!(42), "movie-1"));
        assert!(!check(json!([]), "movie-1"));
    }
}

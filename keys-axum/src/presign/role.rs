//! Who is a publisher: a claim holding a role.

use serde_json::{Map, Value};

/// True when `claims[claim]` holds `role`: equal to it, a space-separated list holding it
/// (an OAuth `scope`), or an array of strings one of which is it (or is such a list).
/// A missing or malformed claim holds nothing.
pub(super) fn has_role(claims: &Map<String, Value>, claim: &str, role: &str) -> bool {
    let holds = |text: &str| text.split(' ').any(|item| item == role);
    match claims.get(claim) {
        Some(Value::String(text)) => holds(text),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(holds),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(value: Value) -> bool {
        let Value::Object(map) = json!({ "role": value }) else {
            unreachable!()
        };
        has_role(&map, "role", "publisher")
    }

    #[test]
    fn strings_scopes_and_arrays() {
        assert!(check(json!("publisher")));
        assert!(check(json!("read:keys publisher")));
        assert!(check(json!(["viewer", "publisher"])));
        assert!(!check(json!("publishers")));
        assert!(!check(json!("viewer")));
        assert!(!check(json!("")));
        assert!(!check(json!(["publisher-ish"])));
        assert!(!check(json!(true)));
        assert!(!check(json!({ "publisher": true })));
        let empty = Map::new();
        assert!(!has_role(&empty, "role", "publisher"));
    }
}

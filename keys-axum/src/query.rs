//! Reading one parameter from a query string without building a map, so tokens and lease
//! ids are never copied further than needed (and never logged).

use std::borrow::Cow;

/// The first value of `name` in `query`, percent-decoded.
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

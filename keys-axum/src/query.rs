//! Reading one parameter from a query string without building a map, so tokens and lease
//! ids are never copied further than needed (and never logged).

use std::borrow::Cow;

/// The first value of `name` in `query`, percent-decoded.
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The value of `name` in `query`, percent-decoded, or `Err(())` when `name` appears more
/// than once (whatever the values): for parameters that must have one spelling.
pub(crate) fn unique_query_param<'a>(
    query: &'a str,
    name: &str,
) -> Result<Option<Cow<'a, str>>, ()> {
    let mut values = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v);
    let first = values.next();
    match values.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}

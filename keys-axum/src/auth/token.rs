//! Finding the bearer token of a request: `Authorization: Bearer`, then the `token` query
//! parameter, then a configured cookie.

use std::borrow::Cow;

use http::header;
use http::request::Parts;

use super::AuthRejection;
use crate::query::query_param;

/// Longest token accepted, in bytes. Longer ones are refused before any parsing, so an
/// oversized token costs nothing but a length check.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Where a token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer ...`.
    Header,
    /// The `token` query parameter (key URIs in playlists, ffmpeg, Safari).
    Query,
    /// The configured cookie (Safari's native player cannot add headers).
    Cookie,
}

/// The request's bearer token and where it came from, or `None` when it carries none.
///
/// # Errors
/// 401 when a source is present but malformed (an empty bearer, a token longer than
/// [`MAX_TOKEN_LEN`], or bytes that are not visible ASCII).
pub fn extract_token<'a>(
    head: &'a Parts,
    cookie: Option<&str>,
) -> Result<Option<(Cow<'a, str>, TokenSource)>, AuthRejection> {
    if let Some(value) = head.headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| AuthRejection::invalid("malformed Authorization header"))?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return checked(Cow::Borrowed(rest.trim()), TokenSource::Header).map(Some);
        }
        // Another scheme (Basic from a proxy, say) is not ours: fall through to the
        // other sources.
    }
    if let Some(token) = head.uri.query().and_then(|q| query_param(q, "token")) {
        return checked(token, TokenSource::Query).map(Some);
    }
    if let Some(name) = cookie {
        for value in head.headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=')
                    && k == name
                {
                    return checked(Cow::Borrowed(v.trim_matches('"')), TokenSource::Cookie)
                        .map(Some);
                }
            }
        }
    }
    Ok(None)
}

fn checked(
    token: Cow<'_, str>,
    source: TokenSource,
) -> Result<(Cow<'_, str>, TokenSource), AuthRejection> {
    if token.is_empty() {
        return Err(AuthRejection::invalid("empty token"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthRejection::invalid("token too large"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AuthRejection::invalid("malformed token"));
    }
    Ok((token, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).map(|r| r.into_parts().0).expect("request")
    }

    #[test]
    fn sources_in_order() {
        let h = head(
            "/k?token=q",
            &[("authorization", "Bearer h"), ("cookie", "t=c")],
        );
        let (t, s) = extract_token(&h, Some("t")).ok().flatten().expect("token");
        assert_eq!((t.as_ref(), s), ("h", TokenSource::Header));
        let h = head("/k?a=1&token=q%2E", &[("cookie", "t=c")]);
        let (t, s) = extract_token(&h, Some("t")).ok().flatten().expect("token");
        assert_eq!((t.as_ref(), s), ("q.", TokenSource::Query));
        let h = head("/k", &[("cookie", "a=b; t=c")]);
        let (t, s) = extract_token(&h, Some("t")).ok().flatten().expect("token");
        assert_eq!((t.as_ref(), s), ("c", TokenSource::Cookie));
        assert!(matches!(
            extract_token(&head("/k", &[("cookie", "t=c")]), None),
            Ok(None)
        ));
        assert!(matches!(
            extract_token(&head("/k", &[("authorization", "Basic x")]), None),
            Ok(None)
        ));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!(extract_token(&head("/k", &[("authorization", "Bearer ")]), None).is_err());
        let big = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert!(extract_token(&head("/k", &[("authorization", &big)]), None).is_err());
        assert!(extract_token(&head("/k?token=a%00b", &[]), None).is_err());
    }
}

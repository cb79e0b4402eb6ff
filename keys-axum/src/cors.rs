//! CORS from an exact allowlist of origins.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The request headers a browser may send to the key routes.
pub const ALLOWED_HEADERS: [&str; 4] = [
    "authorization",
    "content-type",
    "x-blindcast-lease",
    "idempotency-key",
];

/// Why a CORS setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorsError {
    /// The list is empty.
    #[error("no origins given")]
    Empty,
    /// An entry is not `scheme://host[:port]`.
    #[error("origin #{0} is not of the form https://host[:port] (no path, no trailing slash)")]
    InvalidOrigin(usize),
    /// `null` is never allowed: sandboxed frames and `file:` pages all send it.
    #[error("the origin `null` is never allowed")]
    NullOrigin,
    /// `*` with credentials.
    #[error("credentials need an explicit list of origins, not `*`")]
    WildcardWithCredentials,
    /// `*` mixed with origins.
    #[error("`*` cannot be combined with other origins")]
    WildcardInList,
}

/// Which origins may read the key server's responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    origins: Option<Vec<HeaderValue>>,
    credentials: bool,
    max_age: Duration,
}

impl CorsConfig {
    /// Parses `CORS_ORIGINS`: `*`, or comma-separated origins such as
    /// `https://app.example.com,http://localhost:3000`, matched exactly (after lowercasing).
    ///
    /// # Errors
    /// [`CorsError`] for an empty list, `null`, or anything but `scheme://host[:port]`.
    pub fn parse(list: &str) -> Result<Self, CorsError> {
        let items: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Err(CorsError::Empty);
        }
        if items.contains(&"*") {
            if items.len() > 1 {
                return Err(CorsError::WildcardInList);
            }
            return Ok(Self {
                origins: None,
                credentials: false,
                max_age: Duration::from_secs(600),
            });
        }
        let mut origins = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if item.eq_ignore_ascii_case("null") {
                return Err(CorsError::NullOrigin);
            }
            let origin = item.to_ascii_lowercase();
            if !valid_origin(&origin) {
                return Err(CorsError::InvalidOrigin(i + 1));
            }
            let value =
                HeaderValue::from_str(&origin).map_err(|_| CorsError::InvalidOrigin(i + 1))?;
            if !origins.contains(&value) {
                origins.push(value);
            }
        }
        Ok(Self {
            origins: Some(origins),
            credentials: false,
            max_age: Duration::from_secs(600),
        })
    }

    /// Lets browsers send cookies (a cookie token) with cross-origin requests. Only with
    /// an explicit list of origins.
    ///
    /// # Errors
    /// [`CorsError::WildcardWithCredentials`] for `*`.
    pub fn allow_credentials(mut self, allow: bool) -> Result<Self, CorsError> {
        if allow && self.origins.is_none() {
            return Err(CorsError::WildcardWithCredentials);
        }
        self.credentials = allow;
        Ok(self)
    }

    /// How long browsers may cache a preflight answer (default 10 minutes).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The tower-http layer.
    pub fn layer(&self) -> CorsLayer {
        let origin = match &self.origins {
            None => AllowOrigin::any(),
            Some(list) => AllowOrigin::list(list.iter().cloned()),
        };
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::DELETE])
            .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
            .allow_credentials(self.credentials)
            .max_age(self.max_age)
            // Caches must key on Origin even for `*`, and for answers to unlisted origins.
            .vary([
                header::ORIGIN,
                header::ACCESS_CONTROL_REQUEST_METHOD,
                header::ACCESS_CONTROL_REQUEST_HEADERS,
            ])
    }
}

/// tower-http sends `Access-Control-Allow-Credentials` on every answer; without an
/// allowed origin it means nothing, so drop it rather than look permissive.
pub(crate) async fn strip_stray_credentials(
    mut response: axum::response::Response,
) -> axum::response::Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
    response
}

fn valid_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, Some(p)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'));
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_validated() {
        assert!(CorsConfig::parse("https://a.example, http://localhost:3000").is_ok());
        assert_eq!(CorsConfig::parse("null"), Err(CorsError::NullOrigin));
        assert_eq!(CorsConfig::parse(""), Err(CorsError::Empty));
        assert_eq!(
            CorsConfig::parse("https://a.example/"),
            Err(CorsError::InvalidOrigin(1))
        );
        assert_eq!(
            CorsConfig::parse("a.example"),
            Err(CorsError::InvalidOrigin(1))
        );
        assert_eq!(
            CorsConfig::parse("*, https://a"),
            Err(CorsError::WildcardInList)
        );
        assert_eq!(
            CorsConfig::parse("*").and_then(|c| c.allow_credentials(true)),
            Err(CorsError::WildcardWithCredentials)
        );
        assert!(
            CorsConfig::parse("https://a.example")
                .and_then(|c| c.allow_credentials(true))
                .is_ok()
        );
        assert!(CorsConfig::parse("http://[::1]:8080").is_ok());
    }
}

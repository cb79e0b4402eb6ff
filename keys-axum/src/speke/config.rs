//! [`SpekeConfig`]: where key URIs point, who may ask, how large a request may be.

use std::sync::Arc;

use blindcast_keys_core::{ContentId, KeyVersion};

use super::auth::SpekeTokenAuthenticator;
use crate::auth::Authenticator;

/// Largest CPIX request body by default: room for hundreds of content keys and periods.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// Why a [`SpekeConfig`] could not be built. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpekeConfigError {
    /// The key URL base is not an absolute `http(s)://host[:port][/path]` URL of visible
    /// ASCII without user name, query, fragment or `"`.
    #[error(
        "expected the public base URL of the key routes, e.g. https://keys.example.com (http or https, no user name, query, fragment or quotes)"
    )]
    KeyUrlBase,
    /// The packager token is shorter than 32 bytes or holds a space or control character.
    #[error("expected at least 32 visible ASCII characters (e.g. `openssl rand -hex 32`)")]
    Token,
    /// The body limit is below 4096 bytes.
    #[error("must be at least 4096")]
    MaxBodyBytes,
}

/// The SPEKE key provider's options: the public base URL the key URIs are built on, the
/// authenticator of packagers, and the request body limit.
///
/// Without an authenticator every request is refused with 401: on Lambda the adapter
/// adds the API Gateway IAM identity; a self-hosted server uses
/// [`bearer_token`](Self::bearer_token).
///
/// ```
/// use blindcast_keys_axum::speke::SpekeConfig;
///
/// let config = SpekeConfig::new("https://keys.example.com/")?
///     .bearer_token("a-packager-secret-of-at-least-32-bytes")?;
/// assert_eq!(config.key_url_base(), "https://keys.example.com");
/// # Ok::<(), blindcast_keys_axum::speke::SpekeConfigError>(())
/// ```
#[derive(Clone)]
pub struct SpekeConfig {
    key_url_base: String,
    pub(crate) packagers: Option<Arc<dyn Authenticator>>,
    pub(crate) max_body_bytes: usize,
}

impl std::fmt::Debug for SpekeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpekeConfig")
            .field("key_url_base", &self.key_url_base)
            .field("packagers", &self.packagers)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl SpekeConfig {
    /// Key URIs are `{key_url_base}/keys/{contentId}[/{epoch}]`; a trailing `/` is dropped.
    ///
    /// # Errors
    /// [`SpekeConfigError::KeyUrlBase`].
    pub fn new(key_url_base: &str) -> Result<Self, SpekeConfigError> {
        let base = key_url_base.trim().trim_end_matches('/');
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .ok_or(SpekeConfigError::KeyUrlBase)?;
        let host = rest.split('/').next().unwrap_or_default();
        let ok = !host.is_empty()
            && !host.starts_with(':')
            && !host.contains('@')
            && rest
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'?' | b'#' | b'\\'))
            && !rest.contains("//");
        if !ok {
            return Err(SpekeConfigError::KeyUrlBase);
        }
        Ok(Self {
            key_url_base: base.to_owned(),
            packagers: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        })
    }

    /// Packagers authenticate with this static bearer secret (`SPEKE_TOKEN`).
    ///
    /// # Errors
    /// [`SpekeConfigError::Token`].
    pub fn bearer_token(self, token: &str) -> Result<Self, SpekeConfigError> {
        Ok(self.packagers(Arc::new(SpekeTokenAuthenticator::new(token)?)))
    }

    /// Packagers authenticate with this authenticator (on Lambda: the API Gateway IAM
    /// identity). The principal's viewer id is the packager identity in audit events.
    #[must_use]
    pub fn packagers(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.packagers = Some(authenticator);
        self
    }

    /// The largest CPIX request body (default [`DEFAULT_MAX_BODY_BYTES`]).
    ///
    /// # Errors
    /// [`SpekeConfigError::MaxBodyBytes`] below 4096.
    pub fn max_body_bytes(mut self, bytes: usize) -> Result<Self, SpekeConfigError> {
        if bytes < 4096 {
            return Err(SpekeConfigError::MaxBodyBytes);
        }
        self.max_body_bytes = bytes;
        Ok(self)
    }

    /// The base URL of the key URIs, without a trailing `/`.
    pub fn key_url_base(&self) -> &str {
        &self.key_url_base
    }

    /// The key URI players fetch the key of `content` (and `epoch`) from, under master-key
    /// `version`: the one place key URIs are built. Version 1 adds no `kv`, so the URIs
    /// match those of a deployment without versions.
    pub fn key_uri(&self, content: &ContentId, epoch: Option<u64>, version: KeyVersion) -> String {
        let mut uri = match epoch {
            Some(epoch) => format!("{}/keys/{}/{epoch}", self.key_url_base, content.as_str()),
            None => format!("{}/keys/{}", self.key_url_base, content.as_str()),
        };
        if version != KeyVersion::V1 {
            uri.push_str(&format!("?kv={version}"));
        }
        uri
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_url_base_is_checked() {
        for good in [
            "https://keys.example.com",
            "http://127.0.0.1:8080/",
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        ] {
            assert!(SpekeConfig::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "keys.example.com",
            "ftp://x",
            "https://",
            "https://user@host",
            "https://host/?q",
            "https://host/#f",
            "https://host/a b",
            "https://host/\"x",
            "https://:80",
            "https://host//x",
        ] {
            assert_eq!(
                SpekeConfig::new(bad).unwrap_err(),
                SpekeConfigError::KeyUrlBase,
                "{bad}"
            );
        }
        let c = SpekeConfig::new("https://k.example/base/").unwrap();
        let content = ContentId::new("movie-1").unwrap();
        assert_eq!(
            c.key_uri(&content, None, KeyVersion::V1),
            "https://k.example/base/keys/movie-1"
        );
        assert_eq!(
            c.key_uri(&content, Some(7), KeyVersion::V1),
            "https://k.example/base/keys/movie-1/7"
        );
        let v3 = KeyVersion::new(3).unwrap();
        assert_eq!(
            c.key_uri(&content, Some(7), v3),
            "https://k.example/base/keys/movie-1/7?kv=3"
        );
        assert_eq!(
            c.key_uri(&content, None, v3),
            "https://k.example/base/keys/movie-1?kv=3"
        );
    }

    #[test]
    fn token_and_limit_are_checked() {
        let c = SpekeConfig::new("https://k.example").unwrap();
        assert_eq!(
            c.clone().bearer_token(&"a".repeat(31)).unwrap_err(),
            SpekeConfigError::Token
        );
        assert_eq!(
            c.clone()
                .bearer_token(&format!("{} ", "a".repeat(32)))
                .unwrap_err(),
            SpekeConfigError::Token
        );
        let ok = c.clone().bearer_token(&"s".repeat(32)).unwrap();
        assert!(!format!("{ok:?}").contains("ssss"));
        assert!(c.clone().max_body_bytes(4095).is_err());
        assert_eq!(c.max_body_bytes(4096).unwrap().max_body_bytes, 4096);
    }
}

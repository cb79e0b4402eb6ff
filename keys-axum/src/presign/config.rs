//! [`PresignConfig`]: the bucket, the credentials that sign, URL lifetime and who may ask.

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, UrlStyle};
use url::Url;
use zeroize::Zeroizing;

/// Default lifetime of a presigned URL.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);
/// Shortest lifetime of a presigned URL.
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// Longest lifetime of a presigned URL: SigV4's limit.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The claim that holds a publisher's role, by default.
pub const DEFAULT_ROLE_CLAIM: &str = "role";
/// The role publishers hold, by default.
pub const DEFAULT_ROLE: &str = "publisher";
/// Longest `S3_PREFIX`, in bytes.
pub const MAX_PREFIX_LEN: usize = 512;

/// Why a [`PresignConfig`] could not be built. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresignConfigError {
    /// The endpoint is not an `http(s)://host[:port][/path]` URL.
    #[error("expected an http:// or https:// URL without user name, password, query or fragment")]
    Endpoint,
    /// The bucket name is not 3 to 63 characters of `a-z 0-9 . - _`, or cannot be part of a
    /// host name in virtual-host style.
    #[error(
        "expected a bucket name of 3 to 63 characters a-z 0-9 . - _ (virtual-host style also needs a name that fits in a host name and an endpoint that is not an IP address)"
    )]
    Bucket,
    /// The region is not 1 to 64 characters of `A-Z a-z 0-9 - _`.
    #[error("expected a region such as us-east-1 (A-Z a-z 0-9 - _)")]
    Region,
    /// The prefix is too long, has a character outside visible ASCII, a `\`, starts with
    /// `/`, or has an empty, `.` or `..` path segment.
    #[error(
        "expected at most 512 visible ASCII characters without \\, not starting with /, without empty, . or .. segments (e.g. hls/)"
    )]
    Prefix,
    /// The lifetime is outside [`MIN_TTL`]..=[`MAX_TTL`].
    #[error("must be from 1 second to 7 days")]
    Ttl,
    /// The access key id or the secret access key is empty or not visible ASCII.
    #[error("expected non-empty credentials of visible ASCII characters")]
    Credentials,
    /// The role claim or role is empty or holds a space or a control character.
    #[error("expected a non-empty name without spaces")]
    Role,
}

/// S3 credentials: an access key id, a secret access key and, for temporary credentials,
/// a session token. The secret and the token never appear in `Debug`.
#[derive(Clone)]
pub struct S3Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl S3Credentials {
    /// Long-term credentials.
    ///
    /// # Errors
    /// [`PresignConfigError::Credentials`] when either is empty or not visible ASCII.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Result<Self, PresignConfigError> {
        let access_key_id = access_key_id.into();
        let secret_access_key = Zeroizing::new(secret_access_key.into());
        if !is_visible(&access_key_id) || !is_visible(&secret_access_key) {
            return Err(PresignConfigError::Credentials);
        }
        Ok(Self {
            access_key_id,
            secret_access_key,
            session_token: None,
        })
    }

    /// Adds the session token of temporary credentials (`AWS_SESSION_TOKEN`). URLs signed
    /// with them stop working when the credentials expire.
    ///
    /// # Errors
    /// [`PresignConfigError::Credentials`] when the token is empty or not visible ASCII.
    pub fn session_token(mut self, token: impl Into<String>) -> Result<Self, PresignConfigError> {
        let token = Zeroizing::new(token.into());
        if !is_visible(&token) {
            return Err(PresignConfigError::Credentials);
        }
        self.session_token = Some(token);
        Ok(self)
    }

    /// The access key id (not a secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    fn signer(&self) -> Credentials {
        match &self.session_token {
            Some(token) => Credentials::new_with_token(
                self.access_key_id.as_str(),
                self.secret_access_key.as_str(),
                token.as_str(),
            ),
            None => Credentials::new(self.access_key_id.as_str(), self.secret_access_key.as_str()),
        }
    }
}

/// Non-empty, and visible ASCII only (no space, no control character).
pub(super) fn is_visible(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Where and how `POST /presign` signs: an S3 bucket (AWS or any S3-compatible store),
/// the credentials, the object key prefix, the URLs' lifetime, the role a publisher must
/// hold, and whether GET URLs may be asked for too.
///
/// ```
/// use blindcast_keys_axum::presign::{PresignConfig, S3Credentials};
///
/// let credentials = S3Credentials::new("AKIAEXAMPLE", "secret")?;
/// let config = PresignConfig::new("http://127.0.0.1:9000", true, "media", "us-east-1", credentials)?
///     .prefix("hls/")?
///     .ttl(std::time::Duration::from_secs(600))?
///     .publisher_role("role", "publisher")?
///     .allow_get(true);
/// # Ok::<(), blindcast_keys_axum::presign::PresignConfigError>(())
/// ```
#[derive(Clone)]
pub struct PresignConfig {
    pub(crate) bucket: Bucket,
    pub(super) credentials: Credentials,
    access_key_id: String,
    pub(super) prefix: String,
    pub(super) ttl: Duration,
    pub(super) role_claim: String,
    pub(super) role: String,
    pub(crate) allow_get: bool,
}

impl std::fmt::Debug for PresignConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignConfig")
            .field("bucket", &self.bucket.name())
            .field("region", &self.bucket.region())
            .field("base_url", &self.bucket.base_url().as_str())
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("role_claim", &self.role_claim)
            .field("role", &self.role)
            .field("allow_get", &self.allow_get)
            .finish()
    }
}

impl PresignConfig {
    /// A bucket on `endpoint` (`https://s3.eu-west-1.amazonaws.com`,
    /// `http://127.0.0.1:9000`, ...), addressed path-style (`endpoint/bucket/key`) or
    /// virtual-host style (`bucket.endpoint/key`). Defaults: no prefix, 15-minute URLs,
    /// publishers are principals whose `role` claim holds `publisher`, PUT URLs only.
    ///
    /// # Errors
    /// [`PresignConfigError::Endpoint`], [`Bucket`](PresignConfigError::Bucket) or
    /// [`Region`](PresignConfigError::Region).
    pub fn new(
        endpoint: &str,
        path_style: bool,
        bucket: &str,
        region: &str,
        credentials: S3Credentials,
    ) -> Result<Self, PresignConfigError> {
        let endpoint: Url = endpoint
            .trim()
            .parse()
            .map_err(|_| PresignConfigError::Endpoint)?;
        if !matches!(endpoint.scheme(), "http" | "https")
            || endpoint.host_str().is_none()
            || !endpoint.username().is_empty()
            || endpoint.password().is_some()
            || endpoint.query().is_some()
            || endpoint.fragment().is_some()
        {
            return Err(PresignConfigError::Endpoint);
        }
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
            })
            && bucket.as_bytes()[0].is_ascii_alphanumeric();
        if !bucket_ok {
            return Err(PresignConfigError::Bucket);
        }
        let region_ok = (1..=64).contains(&region.len())
            && region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !region_ok {
            return Err(PresignConfigError::Region);
        }
        let style = if path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(endpoint, style, bucket.to_owned(), region.to_owned())
            .map_err(|_| PresignConfigError::Bucket)?;
        Ok(Self {
            bucket,
            access_key_id: credentials.access_key_id.clone(),
            credentials: credentials.signer(),
            prefix: String::new(),
            ttl: DEFAULT_TTL,
            role_claim: DEFAULT_ROLE_CLAIM.to_owned(),
            role: DEFAULT_ROLE.to_owned(),
            allow_get: false,
        })
    }

    /// Object keys are `{prefix}{contentId}/{name}`: give the trailing `/` yourself
    /// (`hls/`).
    ///
    /// # Errors
    /// [`PresignConfigError::Prefix`].
    pub fn prefix(mut self, prefix: &str) -> Result<Self, PresignConfigError> {
        let ok = prefix.is_empty()
            || (prefix.len() <= MAX_PREFIX_LEN
                && prefix.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
                && !prefix.starts_with('/')
                && prefix
                    .strip_suffix('/')
                    .unwrap_or(prefix)
                    .split('/')
                    .all(|segment| !matches!(segment, "" | "." | "..")));
        if !ok {
            return Err(PresignConfigError::Prefix);
        }
        prefix.clone_into(&mut self.prefix);
        Ok(self)
    }

    /// How long presigned URLs work (default 15 minutes). Whole seconds count.
    ///
    /// # Errors
    /// [`PresignConfigError::Ttl`] outside 1 second to 7 days.
    pub fn ttl(mut self, ttl: Duration) -> Result<Self, PresignConfigError> {
        if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
            return Err(PresignConfigError::Ttl);
        }
        self.ttl = Duration::from_secs(ttl.as_secs());
        Ok(self)
    }

    /// Publishers are principals whose claim `claim` holds `role`: the claim is `role`
    /// itself, a space-separated list holding it (an OAuth `scope`), or an array of strings
    /// holding it. Default: claim `role`, role `publisher`.
    ///
    /// # Errors
    /// [`PresignConfigError::Role`] when either is empty or holds a space.
    pub fn publisher_role(mut self, claim: &str, role: &str) -> Result<Self, PresignConfigError> {
        let ok = |s: &str| is_visible(s);
        if !ok(claim) || !ok(role) {
            return Err(PresignConfigError::Role);
        }
        claim.clone_into(&mut self.role_claim);
        role.clone_into(&mut self.role);
        Ok(self)
    }

    /// Whether publishers may ask for GET URLs too (`"method": "GET"`), to read objects
    /// back. Default: no.
    #[must_use]
    pub fn allow_get(mut self, allow: bool) -> Self {
        self.allow_get = allow;
        self
    }

    /// The URLs' lifetime.
    pub fn url_ttl(&self) -> Duration {
        self.ttl
    }

    /// The object key of `name` under `content`: `{prefix}{content}/{name}`.
    pub(crate) fn object_key(&self, content: &str, name: &str) -> String {
        format!("{}{content}/{name}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> S3Credentials {
        S3Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap()
    }

    #[test]
    fn debug_never_shows_the_secret_or_the_token() {
        let creds = credentials().session_token("TOKEN-VALUE-123").unwrap();
        let text = format!("{creds:?}");
        assert!(
            !text.contains("wJalr") && !text.contains("TOKEN-VALUE"),
            "{text}"
        );
        let config =
            PresignConfig::new("http://127.0.0.1:9000", true, "media", "us-east-1", creds).unwrap();
        let text = format!("{config:?}");
        assert!(text.contains("AKIDEXAMPLE"), "{text}");
        assert!(
            !text.contains("wJalr") && !text.contains("TOKEN-VALUE"),
            "{text}"
        );
    }

    #[test]
    fn settings_are_checked() {
        let new = |endpoint: &str, path: bool, bucket: &str, region: &str| {
            PresignConfig::new(endpoint, path, bucket, region, credentials()).map(|_| ())
        };
        assert_eq!(
            new("http://127.0.0.1:9000", true, "media", "us-east-1"),
            Ok(())
        );
        assert_eq!(
            new(
                "https://s3.eu-west-1.amazonaws.com",
                false,
                "my.media",
                "eu-west-1"
            ),
            Ok(())
        );
        for endpoint in [
            "ftp://x",
            "not a url",
            "http://u:p@host",
            "http://h/?q=1",
            "http://h/#f",
        ] {
            assert_eq!(
                new(endpoint, true, "media", "r"),
                Err(PresignConfigError::Endpoint)
            );
        }
        for bucket in ["ab", "Media", "a/b", "-ab", &"a".repeat(64)] {
            assert_eq!(
                new("http://h", true, bucket, "r"),
                Err(PresignConfigError::Bucket)
            );
        }
        // Virtual-host style needs a host name to put the bucket in front of.
        assert_eq!(
            new("http://127.0.0.1:9000", false, "media", "r"),
            Err(PresignConfigError::Bucket)
        );
        for region in ["", "us east", "ü", &"a".repeat(65)] {
            assert_eq!(
                new("http://h", true, "media", region),
                Err(PresignConfigError::Region)
            );
        }
        let config = || PresignConfig::new("http://h", true, "media", "r", credentials()).unwrap();
        for good in ["", "hls/", "a/b/", "tenant-a-", "a.b/c"] {
            assert!(config().prefix(good).is_ok(), "{good:?}");
        }
        for bad in [
            "/hls/",
            "a//b",
            "../x/",
            "a/./b",
            "a\\b/",
            "a b/",
            "é/",
            &"a".repeat(513),
        ] {
            assert_eq!(
                config().prefix(bad).err(),
                Some(PresignConfigError::Prefix),
                "{bad:?}"
            );
        }
        assert_eq!(
            config().ttl(Duration::ZERO).err(),
            Some(PresignConfigError::Ttl)
        );
        assert_eq!(
            config().ttl(MAX_TTL + Duration::from_secs(1)).err(),
            Some(PresignConfigError::Ttl)
        );
        assert_eq!(
            config().ttl(Duration::from_millis(1500)).unwrap().url_ttl(),
            MIN_TTL
        );
        assert_eq!(
            config().publisher_role("role", "").err(),
            Some(PresignConfigError::Role)
        );
        assert_eq!(
            config().publisher_role("my role", "x").err(),
            Some(PresignConfigError::Role)
        );
        assert!(S3Credentials::new("", "x").is_err());
        assert!(S3Credentials::new("a", "x y").is_err());
        assert_eq!(
            config()
                .prefix("hls/")
                .unwrap()
                .object_key("movie-1", "seg0.ts"),
            "hls/movie-1/seg0.ts"
        );
    }
}

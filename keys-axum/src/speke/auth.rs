//! [`SpekeTokenAuthenticator`]: packagers of a self-hosted server present one static
//! bearer secret.

use blindcast_keys_core::lease::ViewerId;
use http::header;
use http::request::Parts;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::auth::{AuthRejection, Authenticator, Principal};

/// Shortest packager token, in bytes.
pub const MIN_TOKEN_LEN: usize = 32;

/// The packager identity of requests authenticated by the static token, in audit events.
pub const PACKAGER_TOKEN_ID: &str = "speke-token";

/// Authenticates packagers by a static secret in `Authorization: Bearer <secret>`,
/// compared in constant time. The principal is [`PACKAGER_TOKEN_ID`]. The secret never
/// appears in `Debug`.
#[derive(Clone)]
pub struct SpekeTokenAuthenticator {
    /// SHA-256 of the secret: compared digests take the same time whatever the input's
    /// length.
    digest: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SpekeTokenAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpekeTokenAuthenticator(<redacted>)")
    }
}

impl SpekeTokenAuthenticator {
    /// A token of at least [`MIN_TOKEN_LEN`] visible ASCII characters.
    ///
    /// # Errors
    /// [`SpekeConfigError::Token`](super::SpekeConfigError::Token) when it is shorter or
    /// holds a space or a control character.
    pub fn new(token: &str) -> Result<Self, super::SpekeConfigError> {
        if token.len() < MIN_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(super::SpekeConfigError::Token);
        }
        Ok(Self {
            digest: Zeroizing::new(Sha256::digest(token.as_bytes()).into()),
        })
    }
}

/// Equal in time independent of where the first difference is.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[async_trait::async_trait]
impl Authenticator for SpekeTokenAuthenticator {
    async fn authenticate(&self, head: &Parts) -> Result<Principal, AuthRejection> {
        let presented = head
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| AuthRejection::missing("the packager token is missing"))?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if !same(&digest, &self.digest) {
            return Err(AuthRejection::invalid("the packager token is not valid"));
        }
        let viewer = ViewerId::from_subject(PACKAGER_TOKEN_ID)
            .map_err(|_| AuthRejection::invalid("the packager token is not valid"))?;
        Ok(Principal::new(viewer))
    }
}

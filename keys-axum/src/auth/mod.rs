//! Who is asking: the [`Authenticator`] trait, the [`Principal`] it returns, and the
//! built-in authenticators ([`JwtAuthenticator`], [`AnonymousAuthenticator`]).

mod cache;
mod jwks;
mod jwt;
mod token;

use std::borrow::Cow;
use std::sync::Arc;

use blindcast_keys_core::lease::ViewerId;
use http::StatusCode;
use http::request::Parts;
use serde_json::{Map, Value};

pub use jwt::{
    JwtAuthenticator, JwtBuilder, JwtConfigError, MAX_CACHE_CAPACITY, MAX_CACHE_TTL,
    MAX_JWKS_MAX_AGE, MAX_JWKS_REFETCH_COOLDOWN, MAX_LEEWAY, MIN_HS256_SECRET_LEN, MintError,
    mint_hs256,
};
pub use token::{MAX_TOKEN_LEN, TokenSource, extract_token};

/// The verified identity behind a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The viewer. Leases (and their limit) are held per viewer, so two people must never
    /// share one. [`JwtAuthenticator`] uses the token's `sub` when exactly one issuer is
    /// accepted, and otherwise (several issuers, or none checked) the (`iss`, `sub`) pair
    /// of [`ViewerId::from_issuer_subject`]. A custom [`Authenticator`] decides its own.
    pub viewer: ViewerId,
    /// Every verified claim, for entitlement checks. Shared, so cached principals are
    /// cheap to hand out.
    pub claims: Arc<Map<String, Value>>,
}

impl Principal {
    /// A principal without claims.
    pub fn new(viewer: ViewerId) -> Self {
        Self {
            viewer,
            claims: Arc::new(Map::new()),
        }
    }

    /// A principal with claims.
    pub fn with_claims(viewer: ViewerId, claims: Map<String, Value>) -> Self {
        Self {
            viewer,
            claims: Arc::new(claims),
        }
    }
}

/// Why an authenticator refused a request: a status, a machine-readable code and a
/// message, sent to the client as the usual JSON error body. Keep messages free of
/// internal detail: they are shown to the caller.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthRejection {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    had_token: bool,
}

impl AuthRejection {
    /// Any rejection. A status outside 400-599 is replaced by 401.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::UNAUTHORIZED
        };
        Self {
            status,
            code: code.into(),
            message: message.into(),
            had_token: false,
        }
    }

    /// 401 `unauthenticated`: no credentials were presented.
    pub fn missing(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 401 `unauthenticated`: credentials were presented and refused (the challenge then
    /// says `error="invalid_token"`).
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            had_token: true,
            ..Self::missing(message)
        }
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code of the JSON body's `error` field.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when a credential was presented and refused.
    pub fn had_token(&self) -> bool {
        self.had_token
    }
}

/// Decides who a request comes from, from its head alone (method, URI, headers).
///
/// Object safe: the router holds an `Arc<dyn Authenticator>`. Implement it to plug in
/// your own session cookies, API keys or token format.
///
/// The authenticator decides the viewer's identity, and the lease limit, key requests
/// and releases all go by it: make [`Principal::viewer`] unique across every identity
/// source it accepts. When it trusts more than one (two token issuers, sessions and API
/// keys), the same user name from two sources must give two ids, for instance with
/// [`ViewerId::from_issuer_subject`] or a prefix that no id of another source can
/// carry. Changing how ids are formed orphans the leases in flight: viewers then
/// create new ones, and the old ones expire.
///
/// ```
/// use blindcast_keys_axum::auth::{AuthRejection, Authenticator, Principal};
/// use blindcast_keys_core::lease::ViewerId;
///
/// #[derive(Debug)]
/// struct ApiKey;
///
/// #[async_trait::async_trait]
/// impl Authenticator for ApiKey {
///     async fn authenticate(&self, head: &http::request::Parts) -> Result<Principal, AuthRejection> {
///         match head.headers.get("x-api-key").map(|v| v.as_bytes()) {
///             Some(b"let-me-in") => Ok(Principal::new(ViewerId::new("api-user").expect("valid id"))),
///             Some(_) => Err(AuthRejection::invalid("unknown API key")),
///             None => Err(AuthRejection::missing("API key required")),
///         }
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + std::fmt::Debug + 'static {
    /// Returns the principal behind the request, or why it is refused.
    async fn authenticate(&self, head: &Parts) -> Result<Principal, AuthRejection>;
}

#[async_trait::async_trait]
impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    async fn authenticate(&self, head: &Parts) -> Result<Principal, AuthRejection> {
        (**self).authenticate(head).await
    }
}

/// Lets every request in as one fixed viewer. Only for deployments that decided, in
/// configuration, that keys are public (`ALLOW_ANONYMOUS=true`).
#[derive(Debug, Clone)]
pub struct AnonymousAuthenticator {
    principal: Principal,
}

impl AnonymousAuthenticator {
    /// Every request becomes `viewer`.
    pub fn new(viewer: ViewerId) -> Self {
        Self {
            principal: Principal::new(viewer),
        }
    }
}

#[async_trait::async_trait]
impl Authenticator for AnonymousAuthenticator {
    async fn authenticate(&self, _head: &Parts) -> Result<Principal, AuthRejection> {
        Ok(self.principal.clone())
    }
}

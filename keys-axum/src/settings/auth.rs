//! How viewers are authenticated: the JWT settings, `ALLOW_ANONYMOUS`, or (on Lambda)
//! `TRUST_GATEWAY_AUTHORIZER`.

use std::sync::Arc;

use blindcast_keys_core::lease::ViewerId;

use super::env::{EnvReader, Platform};
use super::error::ConfigError;
use super::list::{JWT_KEY_SOURCES, for_option};
use super::secrets::read_secret;
use crate::auth::{AnonymousAuthenticator, Authenticator, JwtAuthenticator, JwtConfigError};

/// How viewers are authenticated.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// Tokens verified here (`JWT_SECRET`, `JWT_JWKS_URL`, ...).
    Jwt(Arc<JwtAuthenticator>),
    /// Every request is the viewer `anonymous` (`ALLOW_ANONYMOUS=true`).
    Anonymous(Arc<AnonymousAuthenticator>),
    /// Lambda: the claims an API Gateway authorizer verified
    /// (`TRUST_GATEWAY_AUTHORIZER=true`); the Lambda adapter supplies the authenticator.
    GatewayAuthorizer,
}

impl Authentication {
    /// The authenticator, or `None` for [`GatewayAuthorizer`](Self::GatewayAuthorizer),
    /// which only the Lambda adapter can build.
    pub fn authenticator(&self) -> Option<Arc<dyn Authenticator>> {
        match self {
            Self::Jwt(jwt) => Some(Arc::clone(jwt) as Arc<dyn Authenticator>),
            Self::Anonymous(anonymous) => Some(Arc::clone(anonymous) as Arc<dyn Authenticator>),
            Self::GatewayAuthorizer => None,
        }
    }

    /// The JWT authenticator, if tokens are verified here (to prefetch a JWKS URL).
    pub fn jwt(&self) -> Option<&Arc<JwtAuthenticator>> {
        match self {
            Self::Jwt(jwt) => Some(jwt),
            _ => None,
        }
    }
}

pub(super) fn read(r: &EnvReader<'_>) -> Result<Authentication, ConfigError> {
    let sources: Vec<&str> = JWT_KEY_SOURCES
        .into_iter()
        .filter(|name| r.text(name).is_some())
        .collect();
    let anonymous = r.flag("ALLOW_ANONYMOUS")?;
    if r.platform() == Platform::Lambda && r.flag("TRUST_GATEWAY_AUTHORIZER")? {
        let other = sources
            .first()
            .copied()
            .or(anonymous.then_some("ALLOW_ANONYMOUS"));
        if let Some(other) = other {
            return Err(ConfigError::new(
                "TRUST_GATEWAY_AUTHORIZER",
                format!("cannot be combined with {other}"),
            ));
        }
        return Ok(Authentication::GatewayAuthorizer);
    }
    if anonymous {
        if let Some(first) = sources.first() {
            return Err(ConfigError::new(
                "ALLOW_ANONYMOUS",
                format!("cannot be combined with {first}"),
            ));
        }
        let viewer = ViewerId::new("anonymous")
            .map_err(|_| ConfigError::new("ALLOW_ANONYMOUS", "invalid viewer id"))?;
        return Ok(Authentication::Anonymous(Arc::new(
            AnonymousAuthenticator::new(viewer),
        )));
    }
    let source = match sources.as_slice() {
        [] => {
            return Err(ConfigError::new(
                "JWT_SECRET",
                "no way to authenticate viewers: set JWT_SECRET (or JWT_SECRET_FILE), JWT_JWKS_URL, JWT_JWKS_FILE or JWT_PUBLIC_KEY_FILE (or ALLOW_ANONYMOUS=true for public keys)",
            ));
        }
        [one] => *one,
        [first, second, ..] => {
            return Err(ConfigError::new(
                *second,
                format!("set only one of the JWT key settings ({first} is set too)"),
            ));
        }
    };
    jwt(r, source).map(|jwt| Authentication::Jwt(Arc::new(jwt)))
}

fn jwt(r: &EnvReader<'_>, source: &'static str) -> Result<JwtAuthenticator, ConfigError> {
    let mut builder = JwtAuthenticator::builder();
    builder = match source {
        "JWT_SECRET" | "JWT_SECRET_FILE" => {
            let (secret, _) = read_secret(r, "JWT_SECRET", "JWT_SECRET_FILE", None)?;
            let secret = secret.trim_end_matches(['\r', '\n']);
            builder.hs256_secret(secret.as_bytes())
        }
        "JWT_JWKS_URL" => {
            builder = builder.jwks_url(r.text(source).unwrap_or_default());
            if let Some(cooldown) = r.duration("JWKS_REFETCH_COOLDOWN")? {
                builder = builder.jwks_refetch_cooldown(cooldown);
            }
            if let Some(max_age) = r.duration("JWKS_MAX_AGE")? {
                builder = builder.jwks_max_age(max_age);
            }
            builder.jwks_refresh_in_request(r.flag("JWKS_REFRESH_IN_REQUEST")?)
        }
        _ => {
            let path = r.text(source).unwrap_or_default();
            let bytes = std::fs::read(&path)
                .map_err(|e| ConfigError::new(source, format!("cannot read {path}: {e}")))?;
            if source == "JWT_JWKS_FILE" {
                builder.jwks_json(&bytes)
            } else {
                builder.public_key_pem(&bytes)
            }
        }
    };
    for issuer in r.list("JWT_ISSUER")?.unwrap_or_default() {
        builder = builder.issuer(issuer);
    }
    for audience in r.list("JWT_AUDIENCE")?.unwrap_or_default() {
        builder = builder.audience(audience);
    }
    if let Some(leeway) = r.duration("JWT_LEEWAY")? {
        builder = builder.leeway(leeway);
    }
    if let Some(cookie) = r.text("JWT_COOKIE") {
        builder = builder.cookie(cookie);
    }
    if let Some(size) = r.number("JWT_CACHE_SIZE")? {
        builder = builder.token_cache_capacity(size);
    }
    if let Some(ttl) = r.duration("JWT_CACHE_TTL")? {
        builder = builder.token_cache_ttl(ttl);
    }
    builder.build().map_err(|e| named(&e, source))
}

/// An authenticator error under its setting's name: an option's under the option's
/// setting (`leeway` → `JWT_LEEWAY`), the key's under the key source in use.
fn named(e: &JwtConfigError, source: &'static str) -> ConfigError {
    let text = e.to_string();
    match e.option() {
        Some(option) => {
            let name = for_option(option).map_or(option, |s| s.name);
            let message = text
                .strip_prefix(option)
                .and_then(|m| m.strip_prefix(": "))
                .unwrap_or(&text);
            ConfigError::new(name, message)
        }
        None => ConfigError::new(source, text),
    }
}

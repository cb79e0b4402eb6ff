//! Reading a `postgres://` URL into a driver configuration and a TLS configuration.
//!
//! tokio-postgres understands `sslmode=disable|prefer|require` only, so `sslmode` and
//! `sslrootcert` are taken out of the URL here and handled by [`crate::tls`].

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::PostgresConfigError;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plain TCP (also when the URL has no `sslmode`).
    Disable,
    /// TLS when the server offers it, without certificate verification.
    Prefer,
    /// TLS, without certificate verification (libpq semantics).
    Require,
    /// TLS; the certificate chain must lead to a trusted root.
    VerifyCa,
    /// TLS; the chain must lead to a trusted root and name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, PostgresConfigError> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" | "allow" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => return Err(PostgresConfigError::SslMode(other.to_owned())),
        })
    }

    #[cfg_attr(feature = "tls", allow(dead_code))]
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// What the URL says about TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsConfig {
    pub(crate) mode: SslMode,
    /// `sslrootcert`: a PEM file of the roots to trust instead of the system and Mozilla
    /// roots.
    pub(crate) root_cert: Option<PathBuf>,
}

/// Parses `url` (a `postgres://` URL or a libpq `key=value` string).
pub(crate) fn parse(
    url: &str,
    connect_timeout: Duration,
) -> Result<(tokio_postgres::Config, TlsConfig), PostgresConfigError> {
    let (rest, tls) = take_tls_params(url)?;
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(PostgresConfigError::Url)?;
    config.ssl_mode(match tls.mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("blindcast-keys");
    }
    Ok((config, tls))
}

/// Removes `sslmode` and `sslrootcert` from the query string of a URL, or from a
/// `key=value` string.
fn take_tls_params(url: &str) -> Result<(String, TlsConfig), PostgresConfigError> {
    let mut tls = TlsConfig {
        mode: SslMode::Disable,
        root_cert: None,
    };
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let (head, query, sep) = if is_url {
        match url.split_once('?') {
            Some((head, query)) => (head, query, '&'),
            None => return Ok((url.to_owned(), tls)),
        }
    } else {
        ("", url, ' ')
    };
    let mut kept = Vec::new();
    for param in query.split(sep).filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let (key, value) = (key.trim(), value.trim());
        match key {
            "sslmode" => tls.mode = SslMode::parse(&percent_decode(value))?,
            "sslrootcert" => tls.root_cert = Some(PathBuf::from(percent_decode(value))),
            _ => kept.push(param),
        }
    }
    let rest = if is_url {
        if kept.is_empty() {
            head.to_owned()
        } else {
            format!("{head}?{}", kept.join("&"))
        }
    } else {
        kept.join(" ")
    };
    Ok((rest, tls))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, TlsConfig) {
        take_tls_params(url).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn tls_params_are_taken_out_of_urls() {
        let (rest, tls) = split("postgres://u:p@h:5/db");
        assert_eq!(rest, "postgres://u:p@h:5/db");
        assert_eq!(tls.mode, SslMode::Disable);
        let (rest, tls) = split(
            "postgres://h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        );
        assert_eq!(rest, "postgres://h/db?application_name=x");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let (rest, tls) = split("postgresql://h/db?sslmode=require");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(tls.mode, SslMode::Require);
        let (rest, tls) = split("host=h dbname=d sslmode=verify-ca");
        assert_eq!(rest, "host=h dbname=d");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert!(matches!(
            take_tls_params("postgres://h/db?sslmode=bogus"),
            Err(PostgresConfigError::SslMode(_))
        ));
    }

    #[test]
    fn percent_decoding_tolerates_junk() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%2"), "%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn parse_sets_timeouts_and_ssl_mode() {
        let (config, _) = parse(
            "postgres://u:secret@127.0.0.1:1/db?sslmode=verify-full",
            Duration::from_secs(3),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert!(!format!("{config:?}").contains("secret"), "{config:?}");
    }
}

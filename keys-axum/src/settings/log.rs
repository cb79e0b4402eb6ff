//! `LOG_FORMAT` and `LOG_LEVEL`, parsed once for the server and Lambda (which falls back
//! to Lambda's own `AWS_LAMBDA_LOG_FORMAT` / `AWS_LAMBDA_LOG_LEVEL`).

use super::env::{EnvReader, Platform};
use super::error::ConfigError;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `text` or `json`, in any case (Lambda says `JSON` and `Text`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// How to log: the format and a tracing filter that parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `LOG_FORMAT` (default `text`).
    pub format: LogFormat,
    /// `LOG_LEVEL` (default `info`): a filter such as `info` or
    /// `info,blindcast_keys::audit=warn`, checked by tracing-subscriber's `EnvFilter`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

impl LogSettings {
    /// Reads `LOG_FORMAT` and `LOG_LEVEL` (on Lambda, else `AWS_LAMBDA_LOG_FORMAT` and
    /// `AWS_LAMBDA_LOG_LEVEL`).
    ///
    /// # Errors
    /// A format other than `text`/`json`, or a filter that does not parse.
    pub fn read(r: &EnvReader<'_>) -> Result<Self, ConfigError> {
        let lambda = r.platform() == Platform::Lambda;
        let mut out = Self::default();
        let format = match r.text("LOG_FORMAT") {
            Some(v) => Some(("LOG_FORMAT", v)),
            None if lambda => r
                .text("AWS_LAMBDA_LOG_FORMAT")
                .map(|v| ("AWS_LAMBDA_LOG_FORMAT", v)),
            None => None,
        };
        if let Some((name, text)) = format {
            out.format = LogFormat::parse(&text)
                .ok_or_else(|| ConfigError::new(name, "expected json or text"))?;
        }
        if let Some(filter) = r.text("LOG_LEVEL") {
            check_filter(&filter).map_err(|e| ConfigError::new("LOG_LEVEL", e))?;
            out.filter = filter;
        } else if lambda && let Some(level) = r.text("AWS_LAMBDA_LOG_LEVEL") {
            out.filter = match level.to_ascii_uppercase().as_str() {
                "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" => level.to_ascii_lowercase(),
                // tracing has no level above error.
                "FATAL" => "error".to_owned(),
                _ => {
                    return Err(ConfigError::new(
                        "AWS_LAMBDA_LOG_LEVEL",
                        "expected TRACE, DEBUG, INFO, WARN, ERROR or FATAL",
                    ));
                }
            };
        }
        Ok(out)
    }
}

/// The filter parses as tracing-subscriber's `EnvFilter`, strictly (no directive dropped).
fn check_filter(filter: &str) -> Result<(), String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map(drop)
        .map_err(|_| "not a log filter such as info or warn,blindcast_keys_axum=debug".to_owned())
}

//! A client of the AWS Parameters and Secrets Lambda Extension: a local HTTP endpoint
//! (port 2773) that fetches from Secrets Manager and Parameter Store with the function's
//! own role, so this crate needs no AWS SDK.

use std::time::{Duration, Instant};

use blindcast_keys_axum::settings::Env;
use serde::Deserialize;

use crate::source::Source;

/// How long to wait for the extension to start answering (it starts with the function).
const READY_WAIT: Duration = Duration::from_secs(5);
/// The extension's default port.
const DEFAULT_PORT: u16 = 2773;

/// Why a secret could not be fetched. Never holds a secret value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// `AWS_SESSION_TOKEN` is missing.
    #[error("AWS_SESSION_TOKEN is not set: the Parameters and Secrets extension needs it")]
    NoSessionToken,
    /// The port setting is not a port.
    #[error("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is not a port number")]
    BadPort,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The extension did not answer.
    #[error(
        "the AWS Parameters and Secrets Lambda Extension did not answer on 127.0.0.1:{port} (is the extension layer attached?): {reason}"
    )]
    Unreachable { port: u16, reason: String },
    /// The extension answered with an error.
    #[error("the Parameters and Secrets extension answered {status}: {message}")]
    Status { status: u16, message: String },
    /// The answer has no usable value.
    #[error("{0}")]
    Value(&'static str),
}

#[derive(Deserialize)]
struct SecretValue {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

#[derive(Deserialize)]
struct ParameterAnswer {
    #[serde(rename = "Parameter")]
    parameter: ParameterValue,
}

#[derive(Deserialize)]
struct ParameterValue {
    #[serde(rename = "Value")]
    value: String,
}

/// Talks to the extension on `127.0.0.1:{PARAMETERS_SECRETS_EXTENSION_HTTP_PORT}`.
#[derive(Debug)]
pub(crate) struct ExtensionClient {
    port: u16,
    token: String,
    http: reqwest::Client,
}

impl ExtensionClient {
    /// Reads `AWS_SESSION_TOKEN` and `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`.
    pub(crate) fn from_env(env: &dyn Env) -> Result<Self, FetchError> {
        let token = env
            .var("AWS_SESSION_TOKEN")
            .filter(|t| !t.is_empty())
            .ok_or(FetchError::NoSessionToken)?;
        let port = match env.var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT") {
            None => DEFAULT_PORT,
            Some(p) => p.trim().parse().map_err(|_| FetchError::BadPort)?,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Self { port, token, http })
    }

    /// The value of `source`.
    pub(crate) async fn fetch(&self, source: &Source) -> Result<String, FetchError> {
        let (url, field) = match source {
            Source::Secret { id, field } => (
                format!(
                    "http://127.0.0.1:{}/secretsmanager/get?secretId={}",
                    self.port,
                    encode(id)
                ),
                field,
            ),
            Source::Parameter { name, field } => (
                format!(
                    "http://127.0.0.1:{}/systemsmanager/parameters/get?name={}&withDecryption=true",
                    self.port,
                    encode(name)
                ),
                field,
            ),
        };
        let body = self.get(&url).await?;
        let value = match source {
            Source::Secret { .. } => serde_json::from_slice::<SecretValue>(&body)
                .map_err(|_| FetchError::Value("the secret answer is not GetSecretValue JSON"))?
                .secret_string
                .ok_or(FetchError::Value(
                    "the secret has no SecretString (binary secrets are not supported)",
                ))?,
            Source::Parameter { .. } => {
                serde_json::from_slice::<ParameterAnswer>(&body)
                    .map_err(|_| {
                        FetchError::Value("the parameter answer is not GetParameter JSON")
                    })?
                    .parameter
                    .value
            }
        };
        match field {
            None => Ok(value),
            Some(field) => {
                let json: serde_json::Value = serde_json::from_str(&value).map_err(|_| {
                    FetchError::Value("a #field was asked for but the value is not JSON")
                })?;
                json.get(field)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or(FetchError::Value("the JSON value has no such string field"))
            }
        }
    }

    /// GETs `url`, retrying while the extension is starting.
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let started = Instant::now();
        loop {
            let retry_reason = match self
                .http
                .get(url)
                .header("X-Aws-Parameters-Secrets-Token", &self.token)
                .send()
                .await
            {
                Ok(response) => {
                    let status = response.status();
                    let body = response
                        .bytes()
                        .await
                        .map(|b| b.to_vec())
                        .unwrap_or_default();
                    if status.is_success() {
                        return Ok(body);
                    }
                    let message = String::from_utf8_lossy(&body)
                        .chars()
                        .take(300)
                        .collect::<String>();
                    // While it starts, the extension answers 400 "not ready to serve traffic".
                    if !message.contains("not ready") {
                        return Err(FetchError::Status {
                            status: status.as_u16(),
                            message,
                        });
                    }
                    message
                }
                Err(e) if e.is_connect() => e.to_string(),
                Err(e) => {
                    return Err(FetchError::Unreachable {
                        port: self.port,
                        reason: e.to_string(),
                    });
                }
            };
            if started.elapsed() > READY_WAIT {
                return Err(FetchError::Unreachable {
                    port: self.port,
                    reason: retry_reason,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_arns_and_paths() {
        assert_eq!(
            encode("arn:aws:secretsmanager:eu-west-1:1:secret:k/v"),
            "arn%3Aaws%3Asecretsmanager%3Aeu-west-1%3A1%3Asecret%3Ak%2Fv"
        );
    }
}

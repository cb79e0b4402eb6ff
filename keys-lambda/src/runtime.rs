//! What the `bootstrap` binary does: log, build the server from the environment, report
//! a bad setting to the Runtime API's `/runtime/init/error`, and serve.

use std::process::ExitCode;
use std::time::Duration;

use blindcast_keys_axum::settings::{
    ConfigError, Env, EnvReader, LogFormat, LogSettings, Platform, ProcessEnv,
};
use serde_json::json;

use crate::server::LambdaKeyServer;

/// The `errorType` of an init error caused by a setting.
pub const CONFIG_ERROR_TYPE: &str = "BlindcastKeys.ConfigError";

/// Why an init error could not be reported.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `AWS_LAMBDA_RUNTIME_API` is not set: not running on Lambda.
    #[error("AWS_LAMBDA_RUNTIME_API is not set")]
    NoRuntimeApi,
    /// The Runtime API did not take the report.
    #[error("the Runtime API did not take the init error: {0}")]
    Http(String),
}

/// Tells Lambda that initialisation failed (`POST /2018-06-01/runtime/init/error` on
/// `AWS_LAMBDA_RUNTIME_API`), with the error's one-line message, which names the
/// setting. Lambda then fails the invocation with that message and restarts the
/// instance.
///
/// # Errors
/// When `AWS_LAMBDA_RUNTIME_API` is missing or the report is refused.
pub async fn report_init_error(env: &dyn Env, error: &ConfigError) -> Result<(), ReportError> {
    let api = env
        .var("AWS_LAMBDA_RUNTIME_API")
        .filter(|v| !v.is_empty())
        .ok_or(ReportError::NoRuntimeApi)?;
    let body = json!({
        "errorMessage": error.to_string(),
        "errorType": CONFIG_ERROR_TYPE,
        "stackTrace": [],
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .map_err(|e| ReportError::Http(e.to_string()))?;
    let response = client
        .post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", CONFIG_ERROR_TYPE)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| ReportError::Http(e.to_string()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(ReportError::Http(format!("status {}", response.status())))
    }
}

/// Installs the log subscriber with the settings' `LOG_FORMAT` and `LOG_LEVEL` (else
/// Lambda's `AWS_LAMBDA_LOG_FORMAT` / `AWS_LAMBDA_LOG_LEVEL`), parsed as the server parses
/// them. A bad value logs at `info` in text, so that the cold start can report it (the
/// settings then refuse it). No timestamps: CloudWatch adds them.
pub fn init_logging(env: &dyn Env) {
    use lambda_http::tracing::subscriber::EnvFilter;
    let log = LogSettings::read(&EnvReader::new(env, Platform::Lambda)).unwrap_or_default();
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = lambda_http::tracing::subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_ansi(false)
        .with_writer(std::io::stderr);
    // Err: a subscriber is already installed (tests), which is fine.
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The whole `bootstrap` program: logging, settings (secrets, lease store, JWKS) once at
/// cold start, then the invocation loop. A bad setting is logged, reported to
/// `/runtime/init/error`, and ends the process with a failure code.
pub async fn bootstrap() -> ExitCode {
    let env = ProcessEnv;
    init_logging(&env);
    let server = match LambdaKeyServer::from_env_with(&env).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(setting = %error.setting, "blindcast-keys cannot start: {error}");
            if let Err(report) = report_init_error(&env, &error).await {
                tracing::error!("{report}");
            }
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("blindcast-keys ready");
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("Lambda runtime stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

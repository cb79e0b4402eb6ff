//! The real `bootstrap` binary against a local implementation of the Lambda Runtime API
//! (the documented `/2018-06-01/runtime/...` endpoints) on 127.0.0.1: it polls for
//! events, answers them, reports bad configuration to `/runtime/init/error`, and its cold
//! start is measured.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::*;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc};

/// What the binary sent back.
#[derive(Debug)]
enum Outcome {
    Response {
        id: String,
        body: Value,
    },
    Error {
        id: String,
        error_type: Option<String>,
        body: Value,
    },
    InitError {
        error_type: Option<String>,
        body: Value,
    },
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<Value>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    next_id: AtomicU64,
}

/// A minimal Lambda Runtime API: events are handed out in order; answers are collected.
struct RuntimeApi {
    addr: SocketAddr,
    events: mpsc::UnboundedSender<Value>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn json_of(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()))
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    // Long poll, as the real API does, until the test queues an event.
    let event = shared.events.lock().await.recv().await;
    let Some(event) = event else {
        return StatusCode::GONE.into_response();
    };
    let id = format!("req-{}", shared.next_id.fetch_add(1, Ordering::SeqCst));
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(30);
    let mut response = event.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&id).unwrap(),
    );
    headers.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.as_millis().to_string()).unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:eu-west-1:123456789012:function:blindcast-keys"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-65f1c0de-0123456789abcdef01234567;Sampled=0"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    response
}

async fn respond(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let _ = s.outcomes.send(Outcome::Response {
        id,
        body: json_of(&body),
    });
    StatusCode::ACCEPTED
}

async fn fail(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let error_type = error_type(&headers);
    let _ = s.outcomes.send(Outcome::Error {
        id,
        error_type,
        body: json_of(&body),
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let error_type = error_type(&headers);
    let _ = s.outcomes.send(Outcome::InitError {
        error_type,
        body: json_of(&body),
    });
    StatusCode::ACCEPTED
}

impl RuntimeApi {
    async fn start() -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
            next_id: AtomicU64::new(1),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            events: events_tx,
            outcomes: outcomes_rx,
        }
    }

    fn queue(&self, event: Value) {
        self.events.send(event).unwrap();
    }

    async fn outcome(&mut self) -> Outcome {
        tokio::time::timeout(Duration::from_secs(30), self.outcomes.recv())
            .await
            .expect("the binary did not answer within 30 s")
            .unwrap()
    }

    async fn response(&mut self) -> Value {
        match self.outcome().await {
            Outcome::Response { id, body } => {
                assert!(id.starts_with("req-"), "{id}");
                body
            }
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// Starts `bootstrap` with the Lambda variables pointing here and `settings`.
    fn spawn(&self, settings: &[(&str, &str)]) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
        command
            .env_clear()
            .env("AWS_LAMBDA_FUNCTION_NAME", "blindcast-keys")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in settings {
            command.env(k, v);
        }
        command.spawn().unwrap()
    }
}

fn settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("MASTER_KEY", MASTER_KEY),
        ("SALT", SALT),
        ("JWT_SECRET", JWT_SECRET),
        ("CORS_ORIGINS", ORIGIN),
    ]
}

#[tokio::test]
async fn bootstrap_answers_every_front_door() {
    let mut api = RuntimeApi::start().await;
    let mut child = api.spawn(&settings());
    let cases: [(&str, &str, Option<u64>); 5] = [
        ("http_api_v2_default_stage", "movie-1", None),
        ("http_api_v2_named_stage", "movie-1", Some(42)),
        ("rest_api_v1_stage", "movie-1", None),
        ("function_url", "movie-1", Some(7)),
        ("alb", "movie-1", None),
    ];
    for (name, content, epoch) in cases {
        api.queue(fixture_json(name));
        let response = api.response().await;
        assert_key(&response, &expected_key(content, epoch));
    }
    api.queue(fixture_json("http_api_v2_named_stage_preflight"));
    let response = api.response().await;
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    api.queue(fixture_json("http_api_v2_no_token"));
    assert_error(&api.response().await, 401, "unauthenticated");

    // An event no front door sends: the runtime reports an invocation error and goes on.
    api.queue(json!({ "hello": "world" }));
    match api.outcome().await {
        Outcome::Error {
            id,
            error_type,
            body,
        } => {
            assert!(id.starts_with("req-"));
            assert!(error_type.is_some());
            assert!(body["errorMessage"].is_string(), "{body}");
        }
        other => panic!("expected an invocation error, got {other:?}"),
    }
    api.queue(fixture_json("alb"));
    assert_key(&api.response().await, &expected_key("movie-1", None));
    child.kill().await.unwrap();
}

#[tokio::test]
async fn stage_handling_does_not_depend_on_ignore_stage_in_path() {
    let mut api = RuntimeApi::start().await;
    let mut pairs = settings();
    pairs.push(("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "1"));
    let mut child = api.spawn(&pairs);
    for (name, epoch) in [
        ("http_api_v2_named_stage", Some(42)),
        ("rest_api_v1_stage", None),
        ("http_api_v2_default_stage", None),
    ] {
        api.queue(fixture_json(name));
        assert_key(&api.response().await, &expected_key("movie-1", epoch));
    }
    child.kill().await.unwrap();
}

/// Starts the binary with `settings`, expects an init error naming `setting`, and a
/// non-zero exit.
async fn expect_init_error(settings: &[(&str, &str)], setting: &str) {
    let mut api = RuntimeApi::start().await;
    let child = api.spawn(settings);
    match api.outcome().await {
        Outcome::InitError { error_type, body } => {
            assert_eq!(error_type.as_deref(), Some("BlindcastKeys.ConfigError"));
            assert_eq!(body["errorType"], "BlindcastKeys.ConfigError");
            let message = body["errorMessage"].as_str().unwrap_or_default();
            assert!(message.starts_with(&format!("{setting}: ")), "{message}");
        }
        other => panic!("expected an init error, got {other:?}"),
    }
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("bootstrap did not exit after its init error")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(setting), "{stderr}");
}

#[tokio::test]
async fn bad_configuration_is_reported_to_init_error() {
    let mut pairs = settings();
    pairs.push(("LEASE_STORE", "memory"));
    expect_init_error(&pairs, "LEASE_STORE").await;

    let mut pairs = settings();
    pairs.retain(|(k, _)| *k != "MASTER_KEY");
    pairs.push(("MASTER_KEY", "00ff"));
    expect_init_error(&pairs, "MASTER_KEY").await;

    let mut pairs = settings();
    pairs.retain(|(k, _)| *k != "JWT_SECRET");
    expect_init_error(&pairs, "JWT_SECRET").await;
}

/// Process start → first answered invocation, ten times; prints the median. Run it on a
/// release build to get the figure of `benches/results/lambda.md`:
/// `cargo test -p blindcast-keys-lambda --release --test runtime_api cold_start -- --nocapture`
#[tokio::test]
async fn cold_start_is_measured() {
    let mut api = RuntimeApi::start().await;
    let mut times = Vec::new();
    for _ in 0..10 {
        api.queue(fixture_json("http_api_v2_default_stage"));
        let started = Instant::now();
        let mut child = api.spawn(&settings());
        let response = api.response().await;
        times.push(started.elapsed());
        assert_key(&response, &expected_key("movie-1", None));
        child.kill().await.unwrap();
    }
    times.sort();
    let median = (times[4] + times[5]) / 2;
    println!(
        "cold start (process start to first answered invocation), median of 10: {:.1} ms \
         (min {:.1} ms, max {:.1} ms)",
        median.as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[9].as_secs_f64() * 1000.0,
    );
    // The figure of BENCHMARKS.md (2.2 ms, target 20 ms) is measured on a release build
    // by benches/http/run.sh, not guaranteed here. What this test asserts is a sanity
    // bound that holds for a debug build on a loaded 2-core machine: a cold start that
    // takes seconds (a blocking fetch, a retry loop at init) fails it.
    assert!(
        median < Duration::from_secs(2),
        "median cold start {median:?}"
    );
    assert!(
        times[9] < Duration::from_secs(10),
        "slowest cold start {:?}",
        times[9]
    );
}

/// Leases on Lambda with PostgreSQL: create a lease through an HTTP API event, then fetch
/// the key under it. Needs `BLINDCAST_TEST_DATABASE_URL` (`scripts/test` starts a
/// throwaway server and sets it); without it the test fails saying so, never skips.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_leases_work_through_the_binary() {
    let url = blindcast_lease_testkit::postgres_url();
    let mut api = RuntimeApi::start().await;
    let mut pairs = settings();
    pairs.push(("LEASE_STORE", url.as_str()));
    let mut child = api.spawn(&pairs);
    // A viewer of its own, so reruns against the same database start from no leases.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let viewer = format!("lambda-test-{nanos}");
    let event =
        |name: &str| -> Value { serde_json::from_str(&fixture_for(name, &viewer)).unwrap() };

    // Without a lease: refused.
    api.queue(event("http_api_v2_default_stage"));
    assert_error(&api.response().await, 403, "lease_required");

    // POST /prod/keys/leases on a named stage, JSON body.
    let mut create = event("http_api_v2_named_stage");
    create["rawPath"] = json!("/prod/keys/leases");
    create["requestContext"]["http"]["method"] = json!("POST");
    create["requestContext"]["http"]["path"] = json!("/prod/keys/leases");
    create["headers"]["content-type"] = json!("application/json");
    create["body"] = json!(r#"{"contentId":"movie-1"}"#);
    api.queue(create);
    let response = api.response().await;
    assert_eq!(status(&response), 201, "{response}");
    let lease: Value = serde_json::from_slice(&body(&response)).unwrap();
    let lease_id = lease["leaseId"].as_str().unwrap().to_owned();

    let mut get = event("http_api_v2_named_stage");
    get["headers"]["x-blindcast-lease"] = json!(lease_id);
    api.queue(get);
    assert_key(&api.response().await, &expected_key("movie-1", Some(42)));
    child.kill().await.unwrap();
}

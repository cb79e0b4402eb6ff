//! One record per request (oneshot, no socket): every key, lease and presign answer ends
//! in exactly the audit events, metrics and error log lines expected of it, written by one
//! layer; a lease-store failure is logged with its cause on key routes as on lease routes,
//! and nothing secret reaches those lines.
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use axum::Router;
use blindcast_keys_axum::{AUDIT_TARGET, JwtAuthenticator, KeyServer, RouterConfig};
use blindcast_keys_core::LeaseStore;
use blindcast_keys_core::lease::MemoryLeaseStore;
use blindcast_lease_testkit::DownLeaseStore;
use common::{SECRET, deriver, get, post_json, send, token};
use http::Request;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One captured event: target, level and fields in the order they were recorded.
#[derive(Debug, Clone)]
struct Captured {
    target: String,
    level: Level,
    fields: Vec<(String, String)>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_str()).collect()
    }
    fn is_audit(&self) -> bool {
        self.target == AUDIT_TARGET
    }
    fn is_error_log(&self) -> bool {
        self.field("message") == Some("request failed")
    }
    /// Every field value, for searching for secrets.
    fn text(&self) -> String {
        format!("{:?}", self.fields)
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    /// The events captured since the last call.
    fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Captured {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }
}

/// Captures this thread's events (the test runtime is single-threaded) until dropped.
fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    (capture, tracing::subscriber::set_default(subscriber))
}

fn jwt() -> JwtAuthenticator {
    JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap()
}

fn metrics_on() -> RouterConfig {
    RouterConfig::builder().metrics(true).build().unwrap()
}

/// The counters of `/metrics`, by full series name (`name{labels}`).
async fn counters(router: &Router) -> BTreeMap<String, f64> {
    let reply = send(router, get("/metrics", None)).await;
    assert_eq!(reply.status, 200);
    String::from_utf8(reply.body)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(series, n)| (series.to_owned(), n.parse().unwrap()))
        .collect()
}

/// The series that changed between two readings, with their increase.
fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .filter(|(series, _)| !series.starts_with("blindcast_key_request_duration_seconds"))
        .filter_map(|(series, n)| {
            let d = n - before.get(series).copied().unwrap_or(0.0);
            (d != 0.0).then(|| (series.clone(), d))
        })
        .collect()
}

fn with_lease(uri: &str, t: &str, lease: &str) -> Request<axum::body::Body> {
    let mut request = get(uri, Some(t));
    request
        .headers_mut()
        .insert("x-blindcast-lease", lease.parse().unwrap());
    request
}

const CAUSE: &str = "db-7.internal refused the connection";

#[tokio::test]
async fn a_lease_store_failure_is_logged_with_its_cause_and_counted_on_key_and_lease_routes() {
    let router = KeyServer::new(deriver(), jwt())
        .lease_store(Arc::new(DownLeaseStore { detail: CAUSE }))
        .config(metrics_on())
        .router();
    let t = token("viewer-1");
    let lease = "AAAAAAAAAAAAAAAAAAAAAA";
    let (events, _guard) = capture();

    let before = counters(&router).await;
    let key = send(&router, with_lease("/keys/movie-1/7", &t, lease)).await;
    assert_eq!(
        (key.status, key.code().as_str()),
        (503, "lease_store_unavailable")
    );
    let key_events = events.take();
    let after_key = counters(&router).await;

    let create = send(
        &router,
        post_json("/keys/leases", Some(&t), r#"{"contentId":"movie-1"}"#),
    )
    .await;
    assert_eq!(create.status, 503);
    let create_events = events.take();
    let after_create = counters(&router).await;

    // The router's error, the store's, then the driver's.
    let chain = format!("lease store unavailable: lease store unavailable: {CAUSE}");
    for (route, events) in [("key", &key_events), ("create", &create_events)] {
        let logged: Vec<&Captured> = events.iter().filter(|e| e.is_error_log()).collect();
        assert_eq!(
            logged.len(),
            1,
            "{route}: one error line; events: {events:?}"
        );
        let line = logged[0];
        assert_eq!(line.level, Level::WARN, "{route}");
        assert_eq!(line.field("operation"), Some(route), "{route}");
        assert_eq!(line.field("status"), Some("503"), "{route}");
        assert_eq!(line.field("error"), Some(chain.as_str()), "{route}");
        // Ids and credentials stay out of error lines: the audit line names the lease.
        for secret in [t.as_str(), lease, "viewer-1"] {
            assert!(
                !line.text().contains(secret),
                "{route}: {secret} in {line:?}"
            );
        }
    }

    // The same failure, the same series: one lease operation that ended 503 on each route.
    assert_eq!(
        delta(&before, &after_key),
        BTreeMap::from([
            (
                r#"blindcast_key_refusals_total{reason="lease_store_unavailable"}"#.to_owned(),
                1.0
            ),
            (
                r#"blindcast_key_requests_by_version_total{kv="1",outcome="refused"}"#.to_owned(),
                1.0
            ),
            (
                r#"blindcast_lease_operations_total{operation="check",outcome="503"}"#.to_owned(),
                1.0
            ),
        ])
    );
    assert_eq!(
        delta(&after_key, &after_create),
        BTreeMap::from([(
            r#"blindcast_lease_operations_total{operation="create",outcome="503"}"#.to_owned(),
            1.0
        )])
    );

    // The key request's audit event is the usual refusal, lease id included.
    let audit: Vec<&Captured> = key_events.iter().filter(|e| e.is_audit()).collect();
    assert_eq!(audit.len(), 1, "{key_events:?}");
    assert_eq!(audit[0].field("reason"), Some("lease_store_unavailable"));
    assert_eq!(audit[0].field("lease"), Some(lease));
    assert!(!create_events.iter().any(Captured::is_audit));
}

/// What one request must leave behind: its audit events and its metric increases.
struct Expect<'a> {
    what: &'a str,
    status: u16,
    audit: &'a [(&'a str, &'a str)],
    metrics: &'a [&'a str],
}

async fn check(
    router: &Router,
    events: &Capture,
    request: Request<axum::body::Body>,
    e: Expect<'_>,
) -> common::Reply {
    let before = counters(router).await;
    events.take();
    let reply = send(router, request).await;
    let captured = events.take();
    let after = counters(router).await;
    assert_eq!(
        reply.status,
        e.status,
        "{}: {}",
        e.what,
        String::from_utf8_lossy(&reply.body)
    );
    let audit: Vec<&Captured> = captured.iter().filter(|c| c.is_audit()).collect();
    assert_eq!(
        audit.len(),
        e.audit.len(),
        "{}: audit events {audit:?}",
        e.what
    );
    for (event, (message, outcome)) in audit.iter().zip(e.audit) {
        assert_eq!(event.field("message"), Some(*message), "{}", e.what);
        assert_eq!(event.field("outcome"), Some(*outcome), "{}", e.what);
        assert_eq!(
            event.field("status"),
            Some(e.status.to_string().as_str()),
            "{}",
            e.what
        );
    }
    assert!(
        !captured.iter().any(Captured::is_error_log),
        "{}: no error line for a client's mistake: {captured:?}",
        e.what
    );
    let expected: BTreeMap<String, f64> =
        e.metrics.iter().map(|s| ((*s).to_owned(), 1.0)).collect();
    assert_eq!(delta(&before, &after), expected, "{}", e.what);
    reply
}

#[tokio::test]
async fn every_key_and_lease_answer_is_recorded_once() {
    let store: Arc<dyn LeaseStore> = Arc::new(MemoryLeaseStore::new());
    let router = KeyServer::new(deriver(), jwt())
        .lease_store(store)
        .config(metrics_on())
        .router();
    let t = token("viewer-1");
    let (events, _guard) = capture();

    let created = check(
        &router,
        &events,
        post_json("/keys/leases", Some(&t), r#"{"contentId":"movie-1"}"#),
        Expect {
            what: "lease create",
            status: 201,
            audit: &[],
            metrics: &[r#"blindcast_lease_operations_total{operation="create",outcome="201"}"#],
        },
    )
    .await;
    let lease = created.json()["leaseId"].as_str().unwrap().to_owned();

    check(
        &router,
        &events,
        with_lease("/keys/movie-1/3", &t, &lease),
        Expect {
            what: "key 200",
            status: 200,
            audit: &[("key issued", "issued")],
            metrics: &[
                "blindcast_keys_issued_total",
                r#"blindcast_key_requests_by_version_total{kv="1",outcome="issued"}"#,
                r#"blindcast_lease_operations_total{operation="check",outcome="200"}"#,
            ],
        },
    )
    .await;

    check(
        &router,
        &events,
        get("/keys/movie-1/3", Some(&t)),
        Expect {
            what: "key 403 without a lease",
            status: 403,
            audit: &[("key refused", "refused")],
            metrics: &[
                r#"blindcast_key_refusals_total{reason="lease_required"}"#,
                r#"blindcast_key_requests_by_version_total{kv="1",outcome="refused"}"#,
            ],
        },
    )
    .await;

    check(
        &router,
        &events,
        with_lease("/keys/movie-2/3", &t, &lease),
        Expect {
            what: "key 403 under a lease of other content",
            status: 403,
            audit: &[("key refused", "refused")],
            metrics: &[
                r#"blindcast_key_refusals_total{reason="forbidden"}"#,
                r#"blindcast_key_requests_by_version_total{kv="1",outcome="refused"}"#,
                r#"blindcast_lease_operations_total{operation="check",outcome="403"}"#,
            ],
        },
    )
    .await;

    check(
        &router,
        &events,
        get("/keys/movie-1", None),
        Expect {
            what: "key 401",
            status: 401,
            audit: &[("key refused", "refused")],
            metrics: &[
                r#"blindcast_key_refusals_total{reason="unauthenticated"}"#,
                r#"blindcast_key_requests_by_version_total{kv="1",outcome="refused"}"#,
            ],
        },
    )
    .await;

    let renew = json!({ "leaseId": lease }).to_string();
    check(
        &router,
        &events,
        post_json("/keys/leases/renew", Some(&t), &renew),
        Expect {
            what: "lease renew",
            status: 200,
            audit: &[],
            metrics: &[r#"blindcast_lease_operations_total{operation="renew",outcome="200"}"#],
        },
    )
    .await;

    let release = Request::delete(format!("/keys/leases/{lease}"))
        .header("authorization", format!("Bearer {t}"))
        .body(axum::body::Body::empty())
        .unwrap();
    check(
        &router,
        &events,
        release,
        Expect {
            what: "lease release",
            status: 204,
            audit: &[],
            metrics: &[r#"blindcast_lease_operations_total{operation="release",outcome="204"}"#],
        },
    )
    .await;

    let release_unknown = Request::delete("/keys/leases/not-a-lease-id")
        .header("authorization", format!("Bearer {t}"))
        .body(axum::body::Body::empty())
        .unwrap();
    check(
        &router,
        &events,
        release_unknown,
        Expect {
            what: "lease release of a malformed id",
            status: 404,
            audit: &[],
            metrics: &[r#"blindcast_lease_operations_total{operation="release",outcome="404"}"#],
        },
    )
    .await;

    // Health checks and unknown routes are not request outcomes of the API.
    for uri in ["/healthz", "/readyz", "/nowhere"] {
        let status = if uri == "/nowhere" { 404 } else { 200 };
        check(
            &router,
            &events,
            get(uri, Some(&t)),
            Expect {
                what: uri,
                status,
                audit: &[],
                metrics: &[],
            },
        )
        .await;
    }
}

#[tokio::test]
async fn the_key_audit_event_keeps_its_fields_and_their_order() {
    let router = KeyServer::new(deriver(), jwt()).router();
    let (events, _guard) = capture();
    let t = token("viewer-1");
    assert_eq!(
        send(&router, get("/keys/movie-1/42", Some(&t)))
            .await
            .status,
        200
    );
    assert_eq!(
        send(&router, get("/keys/movie-1/42", None)).await.status,
        401
    );
    let audit: Vec<Captured> = events
        .take()
        .into_iter()
        .filter(Captured::is_audit)
        .collect();
    assert_eq!(audit.len(), 2, "{audit:?}");
    // The server's text log writes these on a fast path, byte for byte: the names, their
    // order and the values are the format.
    assert_eq!(
        audit[0].names(),
        [
            "message",
            "outcome",
            "status",
            "viewer",
            "content",
            "kv",
            "epoch",
            "latency_us"
        ]
    );
    assert_eq!(audit[0].level, Level::INFO);
    assert_eq!(audit[0].field("kv"), Some("1"));
    // No issuer configured: the viewer is the (iss, sub) pair.
    assert_eq!(audit[0].field("viewer"), Some(r#"[null,"viewer-1"]"#));
    assert_eq!(audit[0].field("content"), Some("movie-1"));
    assert_eq!(audit[0].field("epoch"), Some("42"));
    assert_eq!(
        audit[1].names(),
        [
            "message",
            "outcome",
            "reason",
            "status",
            "content",
            "kv",
            "epoch",
            "latency_us"
        ]
    );
    assert_eq!(audit[1].field("reason"), Some("unauthenticated"));
    for event in &audit {
        assert!(!event.text().contains(&t), "token in {event:?}");
    }
}

#[cfg(feature = "presign")]
#[tokio::test]
async fn presign_answers_are_audited_once() {
    use blindcast_keys_axum::presign::{PresignConfig, S3Credentials};
    use common::token_with;

    const SECRET_KEY: &str = "s3-secret-key-never-logged";
    let credentials = S3Credentials::new("AKIDEXAMPLE", SECRET_KEY).unwrap();
    // Signing is local: nothing listens at the endpoint.
    let presign = PresignConfig::new(
        "http://127.0.0.1:9",
        true,
        "media",
        "us-east-1",
        credentials,
    )
    .unwrap();
    let router = KeyServer::new(deriver(), jwt())
        .presign(presign)
        .config(metrics_on())
        .router();
    let (events, _guard) = capture();
    let publisher = token_with("studio-1", &[("role", json!("publisher"))]);
    let body = json!({ "contentId": "movie-1", "files": [
        { "name": "seg-0.ts", "contentType": "video/mp2t" },
        { "name": "index.m3u8", "contentType": "application/vnd.apple.mpegurl" },
    ] })
    .to_string();

    let signed = check(
        &router,
        &events,
        post_json("/presign", Some(&publisher), &body),
        Expect {
            what: "presign 200",
            status: 200,
            audit: &[("urls presigned", "presigned")],
            metrics: &[],
        },
    )
    .await;
    let url = signed.json()["files"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();

    check(
        &router,
        &events,
        post_json("/presign", Some(&token("viewer-1")), &body),
        Expect {
            what: "presign 403",
            status: 403,
            audit: &[("presign refused", "refused")],
            metrics: &[],
        },
    )
    .await;

    // The fields of the presigned event, and no URL, signature or credential anywhere.
    send(&router, post_json("/presign", Some(&publisher), &body)).await;
    let captured = events.take();
    let event = captured.iter().find(|e| e.is_audit()).unwrap();
    assert_eq!(
        event.names(),
        [
            "message",
            "operation",
            "outcome",
            "status",
            "publisher",
            "content",
            "files",
            "puts",
            "gets",
            "latency_us"
        ]
    );
    assert_eq!(event.field("publisher"), Some(r#"[null,"studio-1"]"#));
    assert_eq!(event.field("files"), Some("2"));
    for secret in [
        SECRET_KEY,
        url.as_str(),
        "X-Amz-Signature",
        publisher.as_str(),
    ] {
        assert!(!event.text().contains(secret), "{secret} in {event:?}");
    }
}

#[tokio::test]
async fn neither_the_record_nor_the_request_extensions_leave_the_router() {
    use tower::ServiceExt;

    #[derive(Clone)]
    struct FromTheRequest;

    let router = KeyServer::new(deriver(), jwt()).router();
    let t = token("viewer-1");
    for (uri, status) in [("/keys/movie-1/3", 200), ("/keys/%2e%2e", 400)] {
        let mut request = get(uri, Some(&t));
        request.extensions_mut().insert(FromTheRequest);
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{uri}");
        // The key route carries its record in the request's map, emptied; the layer
        // takes the record out.
        assert!(response.extensions().is_empty(), "{uri}");
    }
}

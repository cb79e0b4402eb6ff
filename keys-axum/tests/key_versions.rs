//! Key versions through the router (oneshot, no socket): `kv` selects the version, absent
//! means 1; malformed, unknown and retired versions are refused with their own codes and
//! nothing derived; the audit event and `/metrics` carry the version. Keys are checked
//! against `openssl kdf`, not against this workspace's code.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use axum::Router;
use blindcast_keys_axum::{AUDIT_TARGET, JwtAuthenticator, KeyServer, RouterConfig};
use blindcast_keys_core::lease::MemoryLeaseStore;
use blindcast_keys_core::{KeyVersion, Keyring, LeaseStore, MasterKey, Salt};
use common::expected_key_of_version as openssl_key_of_version;
use common::{MASTER_HEX, SALT_HEX, SECRET, get, post_json, send, token, token_with};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const MASTER_V2: &str = "6ba8a8674a9c3f1c3e380e6323be9897c4a5cfb637a7858d81ecb34742011654";
const SALT_V2: &str = "ec6a2526cd9e9981c6297a750d4e782a";

fn v(n: u16) -> KeyVersion {
    KeyVersion::new(n).unwrap()
}

/// Versions 1 and 2 active (2 primary), 3 retired.
fn keyring() -> Keyring {
    Keyring::builder()
        .version(
            v(1),
            &MasterKey::from_hex(MASTER_HEX).unwrap(),
            &Salt::from_hex(SALT_HEX).unwrap(),
        )
        .version(
            v(2),
            &MasterKey::from_hex(MASTER_V2).unwrap(),
            &Salt::from_hex(SALT_V2).unwrap(),
        )
        .retired(v(3))
        .primary(v(2))
        .build()
        .unwrap()
}

fn jwt() -> JwtAuthenticator {
    JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap()
}

fn router() -> Router {
    KeyServer::new(keyring(), jwt())
        .config(RouterConfig::builder().metrics(true).build().unwrap())
        .router()
}

#[tokio::test]
async fn kv_selects_the_version_and_absent_means_version_1() {
    let router = router();
    let t = token("viewer-1");
    for (uri, kv, epoch) in [
        ("/keys/movie-1", 1, None),
        ("/keys/movie-1?kv=1", 1, None),
        ("/keys/movie-1/17", 1, Some(17)),
        // A query without kv is still version 1.
        ("/keys/movie-1/17?other=1", 1, Some(17)),
        ("/keys/movie-1?akv=2&kv_=2", 1, None),
        ("/keys/movie-1?kv=2", 2, None),
        ("/keys/movie-1/17?kv=2", 2, Some(17)),
        // Composed with the other query parameters, in any order.
        ("/keys/movie-1/0?lease=x&kv=2", 2, Some(0)),
        ("/keys/movie-1/0?kv=%32", 2, Some(0)),
    ] {
        let (master, salt) = if kv == 1 {
            (MASTER_HEX, SALT_HEX)
        } else {
            (MASTER_V2, SALT_V2)
        };
        let reply = send(&router, get(uri, Some(&t))).await;
        assert_eq!(reply.status, 200, "{uri}");
        assert_eq!(
            reply.body,
            openssl_key_of_version(master, salt, kv, "movie-1", epoch),
            "{uri}"
        );
    }
    // The token in the query composes with kv as with the header.
    let reply = send(&router, get(&format!("/keys/movie-1?token={t}&kv=2"), None)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        openssl_key_of_version(MASTER_V2, SALT_V2, 2, "movie-1", None)
    );
    // A one-deriver server is version 1 alone: kv=1 works, kv=2 is unknown.
    let single = KeyServer::new(common::deriver(), jwt()).router();
    assert_eq!(
        send(&single, get("/keys/movie-1?kv=1", Some(&t)))
            .await
            .body,
        openssl_key_of_version(MASTER_HEX, SALT_HEX, 1, "movie-1", None)
    );
    let reply = send(&single, get("/keys/movie-1?kv=2", Some(&t))).await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "unknown_key_version".into())
    );
}

#[tokio::test]
async fn malformed_unknown_and_retired_versions_are_refused_with_their_codes() {
    let router = router();
    let t = token("viewer-1");
    for kv in [
        "kv=abc",
        "kv=0",
        "kv=01",
        "kv=%2B2",
        "kv=+2",
        "kv=70000",
        "kv=65536",
        "kv=",
        "kv",
        "kv=2&kv=1",
        "kv=2&kv=2",
        "kv=-1",
        "kv=2.0",
        "kv=%20",
    ] {
        for path in ["/keys/movie-1", "/keys/movie-1/3"] {
            let reply = send(&router, get(&format!("{path}?{kv}"), Some(&t))).await;
            assert_eq!(
                (reply.status, reply.code()),
                (400, "invalid_key_version".into()),
                "{path}?{kv}"
            );
            assert_eq!(reply.header("cache-control"), Some("no-store"));
        }
    }
    for (kv, status, code) in [
        ("4", 404, "unknown_key_version"),
        ("65535", 404, "unknown_key_version"),
        ("3", 410, "key_version_retired"),
    ] {
        let reply = send(&router, get(&format!("/keys/movie-1/5?kv={kv}"), Some(&t))).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.into()),
            "kv={kv}"
        );
        assert!(
            !reply.body.is_empty() && reply.json()["message"].is_string(),
            "kv={kv}"
        );
    }
}

/// Malformed `kv` is a syntax check, before the signature; unknown and retired versions
/// are only told to authenticated, entitled viewers.
#[tokio::test]
async fn version_checks_come_in_order_around_authentication() {
    let router = KeyServer::new(keyring(), jwt())
        .config(
            RouterConfig::builder()
                .entitlement_claim("titles")
                .build()
                .unwrap(),
        )
        .router();
    let reply = send(&router, get("/keys/movie-1?kv=01", None)).await;
    assert_eq!(reply.code(), "invalid_key_version");
    for kv in ["3", "4"] {
        let reply = send(&router, get(&format!("/keys/movie-1?kv={kv}"), None)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "unauthenticated".into())
        );
        let other = token_with("viewer-1", &[("titles", json!(["other"]))]);
        let reply = send(
            &router,
            get(&format!("/keys/movie-1?kv={kv}"), Some(&other)),
        )
        .await;
        assert_eq!((reply.status, reply.code()), (403, "forbidden".into()));
    }
    let entitled = token_with("viewer-1", &[("titles", json!(["movie-1"]))]);
    let reply = send(&router, get("/keys/movie-1?kv=3", Some(&entitled))).await;
    assert_eq!(reply.code(), "key_version_retired");
}

/// With leases, a retired version is refused before the lease store is asked (no check
/// is counted), and a valid lease does not turn the 410 into a key.
#[tokio::test]
async fn a_retired_version_costs_no_lease_check() {
    let store: Arc<dyn LeaseStore> = Arc::new(MemoryLeaseStore::new());
    let router = KeyServer::new(keyring(), jwt())
        .lease_store(Arc::clone(&store))
        .config(RouterConfig::builder().metrics(true).build().unwrap())
        .router();
    let t = token("viewer-1");
    let created = send(
        &router,
        post_json("/keys/leases", Some(&t), r#"{"contentId":"movie-1"}"#),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.json()["leaseId"].as_str().unwrap().to_owned();
    let with_lease = |kv: &str| {
        let mut r = get(&format!("/keys/movie-1/1?kv={kv}"), Some(&t));
        r.headers_mut()
            .insert("x-blindcast-lease", id.parse().unwrap());
        r
    };
    // The lease is good: version 2 is served under it.
    let reply = send(&router, with_lease("2")).await;
    assert_eq!(reply.status, 200);
    let before = counters(&router).await;
    let reply = send(&router, with_lease("3")).await;
    assert_eq!(reply.code(), "key_version_retired");
    let after = counters(&router).await;
    assert_eq!(
        after.get(r#"blindcast_lease_operations_total{operation="check",outcome="200"}"#),
        before.get(r#"blindcast_lease_operations_total{operation="check",outcome="200"}"#),
    );
}

/// The counters of `/metrics`, by full series name.
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

#[tokio::test]
async fn metrics_count_key_requests_per_version() {
    let router = router();
    let t = token("viewer-1");
    let before = counters(&router).await;
    for uri in [
        "/keys/a",
        "/keys/a/1?kv=1",
        "/keys/a?kv=2",
        "/keys/a/2?kv=2",
        "/keys/a/3?kv=2",
        "/keys/a?kv=3",
        "/keys/a?kv=3",
        "/keys/a?kv=4",
        "/keys/a?kv=x",
    ] {
        send(&router, get(uri, Some(&t))).await;
    }
    // A refusal before the version is known counts under the version named, too.
    send(&router, get("/keys/a?kv=2", None)).await;
    let after = counters(&router).await;
    let delta = |series: &str| {
        after.get(series).copied().unwrap_or(-1.0) - before.get(series).copied().unwrap_or(0.0)
    };
    let series = |kv: &str, outcome: &str| {
        format!(r#"blindcast_key_requests_by_version_total{{kv="{kv}",outcome="{outcome}"}}"#)
    };
    assert_eq!(delta(&series("1", "issued")), 2.0);
    assert_eq!(delta(&series("1", "refused")), 0.0);
    assert_eq!(delta(&series("2", "issued")), 3.0);
    assert_eq!(delta(&series("2", "refused")), 1.0);
    assert_eq!(delta(&series("3", "issued")), 0.0);
    assert_eq!(delta(&series("3", "refused")), 2.0);
    // Unknown versions get no series of their own (the label set stays the keyring's).
    assert!(!after.keys().any(|s| s.contains(r#"kv="4""#)), "{after:?}");
    assert_eq!(
        delta(r#"blindcast_key_refusals_total{reason="unknown_key_version"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"blindcast_key_refusals_total{reason="invalid_key_version"}"#),
        1.0
    );
    for (kv, status) in [("1", "active"), ("2", "primary"), ("3", "retired")] {
        assert_eq!(
            after.get(&format!(
                r#"blindcast_key_versions{{kv="{kv}",status="{status}"}}"#
            )),
            Some(&1.0),
            "{after:?}"
        );
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == AUDIT_TARGET {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(fields);
        }
    }
}

#[tokio::test]
async fn the_audit_event_names_the_version() {
    let router = router();
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let t = token("viewer-1");
    for uri in ["/keys/a", "/keys/a?kv=2", "/keys/a?kv=3", "/keys/a?kv=02"] {
        send(&router, get(uri, Some(&t))).await;
    }
    let events = capture.0.lock().unwrap().clone();
    let got: Vec<(Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.get("kv").map(String::as_str),
                e.get("reason").map(String::as_str),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("1"), None),
            (Some("2"), None),
            (Some("3"), Some("key_version_retired")),
            // Malformed: no version to name.
            (None, Some("invalid_key_version")),
        ]
    );
}

//! The JWKS refresh on Lambda: the invocation that finds the key set stale waits for the
//! refresh it starts (at most about one good fetch), so a frozen instance never leaves a
//! fetch half done; a hanging identity provider costs that invocation well under a
//! second and every other one nothing. Real JWKS endpoints on loopback.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../keys-axum/tests/common/jwks_endpoint.rs"]
mod jwks_endpoint;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use blindcast_keys_lambda::LambdaKeyServer;
use common::*;
use jwks_endpoint::{JwksEndpoint, Mode};
use serde_json::Value;

/// The public half of `keys-axum/tests/fixtures/rsa-private.pem`, as kid `rsa-1`.
const JWKS: &str = include_str!("fixtures/jwks-rsa.json");
/// RS256 tokens of `viewer-0` to `viewer-3` signed with that key (kid `rsa-1`, `exp` in
/// 2100): this crate does not depend on a JWT library.
const TOKENS: &str = include_str!("fixtures/rs256-tokens.txt");

fn rs256_token(i: usize) -> &'static str {
    TOKENS.lines().nth(i).unwrap()
}

fn event(token: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/http_api_v2_named_stage.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("{{TOKEN}}", token);
    serde_json::from_str(&text).unwrap()
}

async fn server(url: &str, extra: &[(&str, &str)]) -> LambdaKeyServer {
    let mut map: HashMap<String, String> = [
        ("MASTER_KEY", MASTER_KEY),
        ("SALT", SALT),
        ("JWT_JWKS_URL", url),
        ("JWKS_MAX_AGE", "1s"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    map.retain(|_, v| !v.is_empty());
    let env = move |name: &str| map.get(name).cloned();
    LambdaKeyServer::from_env_with(&env).await.unwrap()
}

/// A JWKS that no longer lists `rsa-1` (the same key under another kid).
fn jwks_without_rsa_1() -> String {
    JWKS.replace("\"rsa-1\"", "\"rsa-9\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invocation_that_finds_the_set_stale_waits_for_its_refresh() {
    tokio::time::timeout(Duration::from_secs(60), async {
        for (explicit, waits) in [(None, true), (Some("false"), false)] {
            let idp = JwksEndpoint::start(JWKS).await;
            idp.set_mode(Mode::Slow(Duration::from_millis(100)));
            let extra: Vec<(&str, &str)> = explicit
                .map(|v| vec![("JWKS_REFRESH_IN_REQUEST", v)])
                .unwrap_or_default();
            let srv = server(&idp.url, &extra).await;
            assert_eq!(idp.hits(), 1, "fetched at cold start");
            assert_key(
                &invoke(&srv, &event(rs256_token(0))).await,
                &expected_key("movie-1", Some(42)),
            );
            // The provider retires rsa-1; the set goes stale.
            idp.set_body(&jwks_without_rsa_1());
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let started = Instant::now();
            let response = invoke(&srv, &event(rs256_token(1))).await;
            let took = started.elapsed();
            idp.wait_hits(2, Duration::from_secs(5)).await;
            if waits {
                // The refresh landed inside the invocation: the retired key is refused.
                assert_eq!(status(&response), 401, "{response}");
                assert!(took >= Duration::from_millis(100), "{took:?}");
            } else {
                // Without the wait, the stale set answered.
                assert_eq!(status(&response), 200, "{response}");
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_provider_costs_at_most_about_one_good_fetch() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let idp = JwksEndpoint::start(JWKS).await;
        let srv = server(&idp.url, &[]).await;
        idp.set_mode(Mode::Hang);
        tokio::time::sleep(Duration::from_millis(1100)).await; // stale
        let mut slowest = Duration::ZERO;
        for i in 0..4 {
            let started = Instant::now();
            let response = invoke(&srv, &event(rs256_token(i))).await;
            slowest = slowest.max(started.elapsed());
            assert_key(&response, &expected_key("movie-1", Some(42)));
        }
        assert_eq!(idp.hanging(), 1, "one refresh, hanging");
        println!(
            "FIGURE lambda hanging provider: 4 invocations with known kids on a stale set, the \
             refresh hanging: all 200, slowest {:.0} ms (bound 1 s)",
            slowest.as_secs_f64() * 1e3
        );
        assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    })
    .await
    .unwrap();
}

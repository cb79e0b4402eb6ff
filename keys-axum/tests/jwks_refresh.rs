//! JWKS refresh rules against real JWKS endpoints on loopback (serving, slow, failing,
//! hanging, refusing, rotating), on the authenticator in process: a just-rotated key is
//! accepted on its first request, lookups of unknown keys share fetches,
//! `Cache-Control: max-age` is honoured, kid-less single-key sets work and rotate, and the
//! Lambda mode waits at most about one good fetch. That a token whose key is known never
//! waits for the identity provider is checked on the real server, in the system tests'
//! `jwks_refresh`. Every test has a time limit; the figures are asserted and quoted in
//! SECURITY.md.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use blindcast_keys_axum::JwtAuthenticator;
use common::bounded;
use common::jwks_endpoint::{JwksEndpoint, Mode};
use common::signing::{jwks, sign};
use jsonwebtoken::Algorithm;

const LIMIT: Duration = Duration::from_secs(60);

/// Reproduction 2: a token under a just-rotated key that the JWKS lists is accepted on
/// its first request, even right after the previous fetch (the request waits for the
/// next fetch slot, at most the 1 s cooldown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_listed_in_the_jwks_is_accepted_on_its_first_request() {
    bounded(LIMIT, "rotation", async {
        let idp = JwksEndpoint::start(&jwks(&[(Algorithm::ES256, Some("k1"))])).await;
        let auth = JwtAuthenticator::builder().jwks_url(&idp.url).build().unwrap();
        assert!(auth.prefetch().await);
        let mut slowest = Duration::ZERO;
        // Three rotations in a row, each right after the fetch of the one before.
        for (i, (alg, kid)) in [
            (Algorithm::EdDSA, "k2"),
            (Algorithm::RS256, "k3"),
            (Algorithm::ES256, "k4"),
        ]
        .into_iter()
        .enumerate()
        {
            idp.set_body(&jwks(&[(Algorithm::ES256, Some("k1")), (alg, Some(kid))]));
            let started = Instant::now();
            let verdict = auth.verify(&sign(alg, Some(kid), "viewer")).await;
            slowest = slowest.max(started.elapsed());
            assert!(verdict.is_ok(), "rotation {i}: {verdict:?}");
            assert_eq!(idp.hits(), 2 + i as u64, "one fetch per rotation");
        }
        println!(
            "FIGURE rotation: 3 of 3 tokens under just-rotated keys accepted on their first \
             request, each right after the previous fetch; slowest {:.0} ms (cooldown 1 s, bound 3 s)",
            slowest.as_secs_f64() * 1e3
        );
        assert!(slowest < Duration::from_secs(3));
        // The old key still works, without a fetch.
        assert!(auth.verify(&sign(Algorithm::ES256, Some("k1"), "v")).await.is_ok());
        assert_eq!(idp.hits(), 4);
    })
    .await;
}

/// A key the JWKS does not list yet: refused quickly, then accepted within about the
/// cooldown once it is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_published_late_is_accepted_within_the_cooldown() {
    bounded(LIMIT, "late key", async {
        let idp = JwksEndpoint::start(&jwks(&[(Algorithm::ES256, Some("k1"))])).await;
        let auth = JwtAuthenticator::builder()
            .jwks_url(&idp.url)
            .build()
            .unwrap();
        assert!(auth.prefetch().await);
        let token = sign(Algorithm::EdDSA, Some("k2"), "viewer");
        let started = Instant::now();
        assert!(auth.verify(&token).await.is_err());
        let refused_in = started.elapsed();
        idp.set_body(&jwks(&[
            (Algorithm::ES256, Some("k1")),
            (Algorithm::EdDSA, Some("k2")),
        ]));
        let published = Instant::now();
        let mut tries = 1;
        while auth.verify(&token).await.is_err() {
            tries += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let accepted_in = published.elapsed();
        println!(
            "FIGURE late key: refused in {:.0} ms before publication; accepted {:.0} ms after \
             it (try {tries}, retrying every 100 ms; bound 3 s)",
            refused_in.as_secs_f64() * 1e3,
            accepted_in.as_secs_f64() * 1e3
        );
        assert!(refused_in < Duration::from_secs(4), "{refused_in:?}");
        assert!(accepted_in < Duration::from_secs(3), "{accepted_in:?}");
    })
    .await;
}

/// Once a fetch came back without the `kid` a lookup waited for, further unknown `kid`s
/// are refused at once until the cooldown has passed (a flood of random `kid`s gets fast
/// refusals); the next lookup after it fetches again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_fetch_missed_an_unknown_kid_the_next_ones_are_refused_at_once() {
    bounded(LIMIT, "miss", async {
        let idp = JwksEndpoint::start(&jwks(&[(Algorithm::ES256, Some("k1"))])).await;
        let auth = JwtAuthenticator::builder().jwks_url(&idp.url).build().unwrap();
        assert!(auth.prefetch().await);
        // Waits for the next fetch slot, fetches, does not find it.
        assert!(auth.verify(&sign(Algorithm::ES256, Some("random-1"), "v")).await.is_err());
        assert_eq!(idp.hits(), 2);
        idp.set_body(&jwks(&[(Algorithm::ES256, Some("k1")), (Algorithm::EdDSA, Some("k2"))]));
        let started = Instant::now();
        assert!(auth.verify(&sign(Algorithm::ES256, Some("random-2"), "v")).await.is_err());
        let rotated = sign(Algorithm::EdDSA, Some("k2"), "v");
        assert!(auth.verify(&rotated).await.is_err(), "no fetch within the cooldown");
        let refused_in = started.elapsed();
        assert_eq!(idp.hits(), 2);
        let mut tries = 1;
        while auth.verify(&rotated).await.is_err() {
            tries += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let accepted_in = started.elapsed();
        println!(
            "FIGURE miss: after a fetch missed an unknown kid, 2 more unknown kids refused in {:.0} ms \
             without a fetch (a slot wait would be about 1 s; bound 500 ms); a rotated kid then \
             accepted {:.0} ms later (try {tries}; bound 3 s)",
            refused_in.as_secs_f64() * 1e3,
            accepted_in.as_secs_f64() * 1e3,
        );
        assert!(refused_in < Duration::from_millis(500), "{refused_in:?}");
        assert!(accepted_in < Duration::from_secs(3), "{accepted_in:?}");
        assert_eq!(idp.hits(), 3);
    })
    .await;
}

/// Concurrent lookups of unknown kids share one fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kids_share_one_fetch() {
    bounded(LIMIT, "coalescing", async {
        let idp = JwksEndpoint::start(&jwks(&[(Algorithm::ES256, Some("k1"))])).await;
        let auth = Arc::new(
            JwtAuthenticator::builder()
                .jwks_url(&idp.url)
                .build()
                .unwrap(),
        );
        assert!(auth.prefetch().await);
        idp.set_body(&jwks(&[
            (Algorithm::ES256, Some("k1")),
            (Algorithm::EdDSA, Some("k2")),
        ]));
        // Slow, so every lookup arrives while the one fetch is in flight.
        idp.set_mode(Mode::Slow(Duration::from_millis(300)));
        // Signed first, so every lookup starts within the cooldown that follows the
        // prefetch and waits for the same fetch.
        let tokens: Vec<(bool, String)> = (0..200)
            .map(|i| {
                if i % 2 == 0 {
                    (true, sign(Algorithm::EdDSA, Some("k2"), &format!("v{i}")))
                } else {
                    (
                        false,
                        sign(Algorithm::EdDSA, Some(&format!("random-{i}")), "v"),
                    )
                }
            })
            .collect();
        let mut tasks = Vec::new();
        for (legit, token) in tokens {
            let auth = Arc::clone(&auth);
            tasks.push(tokio::spawn(async move {
                (legit, auth.verify(&token).await.is_ok())
            }));
        }
        for task in tasks {
            let (legit, ok) = task.await.unwrap();
            assert_eq!(legit, ok, "legit {legit}, accepted {ok}");
        }
        println!(
            "FIGURE coalescing: 200 concurrent lookups of unknown kids (100 rotated, 100 random) \
             -> {} fetch beyond the prefetch",
            idp.hits() - 1
        );
        assert_eq!(idp.hits(), 2);
    })
    .await;
}

/// A stale set keeps serving known keys while one background refresh runs; the refresh
/// then replaces the set (a removed key stops working, a new one works without a fetch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_set_is_served_during_one_background_refresh() {
    bounded(LIMIT, "stale while revalidate", async {
        let idp = JwksEndpoint::start(&jwks(&[(Algorithm::ES256, Some("k1"))])).await;
        let auth = Arc::new(
            JwtAuthenticator::builder()
                .jwks_url(&idp.url)
                .jwks_max_age(Duration::from_millis(200))
                .jwks_refetch_cooldown(Duration::from_millis(100))
                .build()
                .unwrap(),
        );
        assert!(auth.prefetch().await);
        idp.set_body(&jwks(&[(Algorithm::EdDSA, Some("k2"))]));
        idp.set_mode(Mode::Hang);
        tokio::time::sleep(Duration::from_millis(250)).await; // past max-age
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..100 {
            let auth = Arc::clone(&auth);
            tasks.push(tokio::spawn(async move {
                auth.verify(&sign(Algorithm::ES256, Some("k1"), &format!("v{i}")))
                    .await
                    .is_ok()
            }));
        }
        for task in tasks {
            assert!(task.await.unwrap(), "a known key was refused");
        }
        let served_in = started.elapsed();
        idp.wait_hits(2, LIMIT).await;
        assert_eq!(idp.hanging(), 1, "one refresh, hanging");
        assert_eq!(idp.hits(), 2, "one refresh for 100 requests on a stale set");
        println!(
            "FIGURE stale set: 100 concurrent tokens under a known kid on a stale set, with its \
             one refresh hanging: all accepted in {:.0} ms (bound 2 s)",
            served_in.as_secs_f64() * 1e3
        );
        assert!(served_in < Duration::from_secs(2));
        // The provider answers again: the hung fetch times out (10 s), the next one
        // brings the new set.
        idp.set_mode(Mode::Serve);
        let deadline = Instant::now() + Duration::from_secs(30);
        while auth
            .verify(&sign(Algorithm::EdDSA, Some("k2"), "late"))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the refresh never landed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            auth.verify(&sign(Algorithm::ES256, Some("k1"), "removed"))
                .await
                .is_err(),
            "a key removed from the JWKS still verifies after a refresh"
        );
        assert!(
            auth.jwks_fetch_failures() >= 1,
            "the hung fetch was not counted"
        );
    })
    .await;
}

/// `Cache-Control: max-age` decides when a set goes stale, within the configured bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_control_max_age_is_honoured() {
    bounded(LIMIT, "cache-control", async {
        let doc = jwks(&[(Algorithm::ES256, Some("k1"))]);
        let with_header = JwksEndpoint::start(&doc).await;
        with_header.set_cache_control(Some("public, max-age=1"));
        let without = JwksEndpoint::start(&doc).await;
        let build = |url: &str| {
            JwtAuthenticator::builder()
                .jwks_url(url)
                .jwks_min_age(Duration::ZERO)
                .build()
                .unwrap()
        };
        let (a, b) = (build(&with_header.url), build(&without.url));
        assert!(a.prefetch().await && b.prefetch().await);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        for i in 0..3 {
            let t = sign(Algorithm::ES256, Some("k1"), &format!("v{i}"));
            assert!(a.verify(&t).await.is_ok() && b.verify(&t).await.is_ok());
        }
        with_header.wait_hits(2, Duration::from_secs(5)).await;
        // Without the header the set is fresh for max_age (10 minutes): no fetch.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(without.hits(), 1);
        assert_eq!(with_header.hits(), 2, "one refresh");
    })
    .await;
}

/// An identity provider whose JWKS holds one key without a `kid`: tokens with or
/// without a `kid` verify without refetching, and a rotation of that key is picked up on
/// the first token signed with the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kidless_single_key_sets_verify_and_rotate() {
    bounded(LIMIT, "kid-less", async {
        let idp = JwksEndpoint::start(&jwks(&[(Algorithm::ES256, None)])).await;
        let auth = JwtAuthenticator::builder()
            .jwks_url(&idp.url)
            .build()
            .unwrap();
        assert!(auth.prefetch().await);
        for i in 0..20 {
            let kid = (i % 2 == 0).then_some("some-kid");
            let t = sign(Algorithm::ES256, kid, &format!("v{i}"));
            assert!(auth.verify(&t).await.is_ok(), "token {i}");
        }
        assert_eq!(idp.hits(), 1, "no refetch for kid-less keys");
        // Rotation to a new kid-less key.
        idp.set_body(&jwks(&[(Algorithm::EdDSA, None)]));
        let t = sign(Algorithm::EdDSA, None, "after-rotation");
        assert!(
            auth.verify(&t).await.is_ok(),
            "rotated kid-less key refused"
        );
        assert_eq!(idp.hits(), 2);
        let old = sign(Algorithm::ES256, None, "old-key");
        assert!(
            auth.verify(&old).await.is_err(),
            "the retired key still verifies"
        );
    })
    .await;
}

/// A failing provider: the last good set stays in use, failures are counted, fetches
/// back off, and the provider's recovery is picked up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_keeps_the_last_good_set() {
    bounded(LIMIT, "failing provider", async {
        let idp = JwksEndpoint::start(&jwks(&[(Algorithm::ES256, Some("k1"))])).await;
        let auth = JwtAuthenticator::builder()
            .jwks_url(&idp.url)
            .jwks_max_age(Duration::from_millis(100))
            .jwks_min_age(Duration::ZERO)
            .build()
            .unwrap();
        assert!(auth.prefetch().await);
        idp.set_mode(Mode::Fail);
        let started = Instant::now();
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(4) {
            i += 1;
            let t = sign(Algorithm::ES256, Some("k1"), &format!("v{i}"));
            assert!(
                auth.verify(&t).await.is_ok(),
                "known key refused while failing"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let failed = auth.jwks_fetch_failures();
        // Backoff 1, 2 s after the first failures: at most 4 fetches started in 4 s.
        println!(
            "FIGURE failing provider: {i} tokens under a known kid accepted in 4 s while every \
             fetch failed; {failed} failed fetches (backoff bound 4)"
        );
        assert!((1..=4).contains(&failed), "{failed} failures");
        idp.set_mode(Mode::Serve);
        idp.set_body(&jwks(&[(Algorithm::EdDSA, Some("k2"))]));
        let deadline = Instant::now() + Duration::from_secs(20);
        while auth
            .verify(&sign(Algorithm::EdDSA, Some("k2"), "back"))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "recovery never picked up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}

/// Lambda mode: the request that starts the refresh of a stale set waits for it when
/// the provider answers as usual, and only about one good fetch's time when it hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_in_request_waits_at_most_about_one_good_fetch() {
    bounded(LIMIT, "refresh in request", async {
        let idp = JwksEndpoint::start(&jwks(&[(Algorithm::ES256, Some("k1"))])).await;
        let auth = JwtAuthenticator::builder()
            .jwks_url(&idp.url)
            .jwks_max_age(Duration::from_millis(100))
            .jwks_min_age(Duration::ZERO)
            .jwks_refetch_cooldown(Duration::ZERO)
            .jwks_refresh_in_request(true)
            .build()
            .unwrap();
        // The good fetches take ≈ 150 ms, so the budget is ≈ 350 ms.
        idp.set_mode(Mode::Slow(Duration::from_millis(150)));
        assert!(auth.prefetch().await);
        idp.set_body(&jwks(&[
            (Algorithm::ES256, Some("k1")),
            (Algorithm::EdDSA, Some("k2")),
        ]));
        tokio::time::sleep(Duration::from_millis(150)).await; // stale
        assert!(
            auth.verify(&sign(Algorithm::ES256, Some("k1"), "a"))
                .await
                .is_ok()
        );
        assert_eq!(idp.hits(), 2);
        // The refresh finished inside that request: k2 is known without another fetch.
        assert!(
            auth.verify(&sign(Algorithm::EdDSA, Some("k2"), "b"))
                .await
                .is_ok()
        );
        assert_eq!(idp.hits(), 2);
        idp.set_mode(Mode::Hang);
        tokio::time::sleep(Duration::from_millis(150)).await; // stale again
        let started = Instant::now();
        assert!(
            auth.verify(&sign(Algorithm::ES256, Some("k1"), "c"))
                .await
                .is_ok()
        );
        let waited = started.elapsed();
        assert_eq!(idp.hits(), 3);
        println!(
            "FIGURE refresh in request: the request starting a refresh against a hanging \
             provider waited {:.0} ms (last good fetch ≈ 150 ms; budget 2x + 50 ms, at most 1 s; \
             bound 1.5 s)",
            waited.as_secs_f64() * 1e3
        );
        assert!(waited < Duration::from_millis(1500), "{waited:?}");
        assert!(
            waited >= Duration::from_millis(150),
            "did not wait: {waited:?}"
        );
    })
    .await;
}

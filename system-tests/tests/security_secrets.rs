//! Security suite, secrets hygiene: the real server runs with known secrets through every
//! error path (bad tokens, bad ids and epochs, lease errors, bodies, the lease store down,
//! bad settings at start-up), in text and JSON log formats at LOG_LEVEL=trace, and every
//! byte it prints, every error response body and every response header is searched for
//! the master key, salt, JWT secret, derived keys and tokens in hex, base64 and raw form.
#![allow(clippy::unwrap_used)]

mod common;
use common::server;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use blindcast_keys_core::{ContentId, KeyDeriver, MasterKey, Salt};
use server::{
    BIN, JWT_SECRET, MASTER_HEX, PgCluster, SALT_HEX, bounded, client, server_env, start, token,
};

/// Every form a secret could leak in.
fn forms(name: &str, raw: &[u8], out: &mut Vec<(String, Vec<u8>)>) {
    let hex = hex::encode(raw);
    for (form, bytes) in [
        ("raw", raw.to_vec()),
        ("hex", hex.clone().into_bytes()),
        ("HEX", hex.to_uppercase().into_bytes()),
        ("base64", STANDARD.encode(raw).into_bytes()),
        ("base64url", URL_SAFE_NO_PAD.encode(raw).into_bytes()),
    ] {
        // Raw forms shorter than 8 bytes would match by chance.
        if bytes.len() >= 8 {
            out.push((format!("{name} ({form})"), bytes));
        }
    }
    // Half of the hex form: a truncated log line still counts.
    if hex.len() >= 32 {
        out.push((
            format!("{name} (first half, hex)"),
            hex.as_bytes()[..hex.len() / 2].to_vec(),
        ));
    }
}

fn secrets(tokens: &[String], extra: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    forms("master key", &hex::decode(MASTER_HEX).unwrap(), &mut out);
    forms("salt", &hex::decode(SALT_HEX).unwrap(), &mut out);
    forms("JWT secret", JWT_SECRET.as_bytes(), &mut out);
    let deriver = KeyDeriver::new(
        &MasterKey::from_hex(MASTER_HEX).unwrap(),
        &Salt::from_hex(SALT_HEX).unwrap(),
    );
    for content in ["movie-1", "movie-2", "leases"] {
        let id: ContentId = content.parse().unwrap();
        for epoch in [None, Some(0), Some(7)] {
            forms(
                &format!("derived key {content}/{epoch:?}"),
                deriver.key(&id, epoch).as_bytes(),
                &mut out,
            );
        }
    }
    for t in tokens {
        out.push((format!("token {t:.24}"), t.as_bytes().to_vec()));
        if let Some((_, sig)) = t.rsplit_once('.')
            && sig.len() >= 16
        {
            out.push((
                format!("token signature {sig:.16}"),
                sig.as_bytes().to_vec(),
            ));
        }
    }
    for (name, value) in extra {
        out.push(((*name).to_owned(), value.as_bytes().to_vec()));
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One response: status, every header, and the body unless it is a key (the one place a
/// derived key belongs).
async fn capture(
    r: reqwest::Response,
    seen: &mut Vec<u8>,
    statuses: &mut BTreeMap<u16, usize>,
) -> (u16, Vec<u8>) {
    let status = r.status().as_u16();
    *statuses.entry(status).or_default() += 1;
    for (k, v) in r.headers() {
        seen.extend_from_slice(k.as_str().as_bytes());
        seen.extend_from_slice(b": ");
        seen.extend_from_slice(v.as_bytes());
        seen.push(b'\n');
    }
    let is_key = status == 200
        && r.headers()
            .get("content-type")
            .is_some_and(|v| v == "application/octet-stream");
    let body = r.bytes().await.unwrap().to_vec();
    if !is_key {
        seen.extend_from_slice(&body);
        seen.push(b'\n');
    }
    (status, body)
}

/// Drives one server through every error path; returns the tokens it used and the
/// response bytes it saw.
async fn exercise(
    base: &str,
    cluster: &PgCluster,
    statuses: &mut BTreeMap<u16, usize>,
) -> (Vec<String>, Vec<u8>) {
    let http = client(Duration::from_secs(15));
    let mut seen = Vec::new();
    let viewer = blindcast_lease_testkit::unique_name("hygiene");
    let good = token(&viewer);
    let expired = blindcast_keys_axum::auth::mint_hs256(
        JWT_SECRET.as_bytes(),
        &viewer,
        Duration::ZERO,
        [("exp".to_owned(), serde_json::json!(1))]
            .into_iter()
            .collect(),
    )
    .unwrap();
    // A character in the middle of the signature changed: the last one may only carry
    // padding bits, or already be the replacement, and leave the token valid.
    let garbled = {
        let at = good.len() - 10;
        let swapped = if &good[at..=at] == "A" { "B" } else { "A" };
        format!("{}{swapped}{}", &good[..at], &good[at + 1..])
    };
    assert_ne!(garbled, good);
    let none = format!("eyJhbGciOiJub25lIn0.{}.", good.split('.').nth(1).unwrap());
    let tokens = vec![good.clone(), expired.clone(), garbled.clone(), none.clone()];

    macro_rules! go {
        ($req:expr) => {
            capture($req.send().await.unwrap(), &mut seen, statuses).await
        };
    }
    // Bad tokens, in every carrier.
    for t in [&expired, &garbled, &none] {
        go!(http.get(format!("{base}/keys/movie-1")).bearer_auth(t));
        go!(http.get(format!("{base}/keys/movie-1?token={t}")));
        go!(http
            .get(format!("{base}/keys/movie-1"))
            .header("cookie", format!("bc={t}")));
        go!(http
            .post(format!("{base}/keys/leases"))
            .bearer_auth(t)
            .header("content-type", "application/json")
            .body(r#"{"contentId":"movie-1"}"#));
    }
    go!(http.get(format!("{base}/keys/movie-1")).header(
        "authorization",
        format!("Basic {}", STANDARD.encode(JWT_SECRET))
    ));
    // Bad ids and epochs, with a good token.
    for path in [
        "..%2F..%2Fetc",
        "%00",
        "a".repeat(200).as_str(),
        "movie-1/-1",
        "movie-1/99999999999999999999",
        "movie-1/%FF",
    ] {
        go!(http.get(format!("{base}/keys/{path}?token={good}")));
    }
    // Lease errors.
    let (status, body) = go!(http
        .post(format!("{base}/keys/leases"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .header("idempotency-key", "k1")
        .body(r#"{"contentId":"movie-1"}"#));
    assert_eq!(
        status,
        201,
        "lease create: {}",
        String::from_utf8_lossy(&body)
    );
    let lease: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let lease = lease["leaseId"].as_str().unwrap().to_owned();
    go!(http
        .post(format!("{base}/keys/leases"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .header("idempotency-key", "k1")
        .body(r#"{"contentId":"movie-2"}"#));
    go!(http
        .post(format!("{base}/keys/leases"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .body(r#"{"contentId":"movie-2"}"#));
    go!(http
        .post(format!("{base}/keys/leases"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .body(r#"{"contentId":"movie-2"}"#));
    go!(http.get(format!("{base}/keys/movie-1")).bearer_auth(&good));
    go!(http
        .get(format!("{base}/keys/movie-2"))
        .bearer_auth(&good)
        .header("x-blindcast-lease", &lease));
    go!(http
        .get(format!("{base}/keys/movie-1"))
        .bearer_auth(token("other"))
        .header("x-blindcast-lease", &lease));
    go!(http.get(format!("{base}/keys/movie-1/7?token={good}&lease={lease}")));
    go!(http
        .get(format!("{base}/keys/movie-1"))
        .bearer_auth(&good)
        .header("x-blindcast-lease", &lease));
    go!(http
        .post(format!("{base}/keys/leases/renew"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .body(r#"{"leaseId":"nope"}"#));
    go!(http
        .post(format!("{base}/keys/leases/renew"))
        .bearer_auth(&good)
        .header("content-type", "text/plain")
        .body("x"));
    go!(http
        .post(format!("{base}/keys/leases/renew"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .body("x".repeat(10_000)));
    go!(http
        .post(format!("{base}/keys/leases/renew"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .body("{"));
    go!(http
        .delete(format!("{base}/keys/leases/{lease}"))
        .bearer_auth(token("other")));
    go!(http.put(format!("{base}/keys/movie-1")).bearer_auth(&good));
    go!(http.get(format!("{base}/nope?token={good}")));
    // The lease store down: every lease-dependent request fails closed.
    cluster.kill_immediate();
    go!(http
        .get(format!("{base}/keys/movie-1"))
        .bearer_auth(&good)
        .header("x-blindcast-lease", &lease));
    go!(http.get(format!("{base}/keys/movie-1/7?token={good}&lease={lease}")));
    go!(http
        .post(format!("{base}/keys/leases"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .body(r#"{"contentId":"movie-1"}"#));
    go!(http
        .post(format!("{base}/keys/leases/renew"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .body(format!(r#"{{"leaseId":"{lease}"}}"#)));
    go!(http
        .delete(format!("{base}/keys/leases/{lease}"))
        .bearer_auth(&good));
    go!(http.get(format!("{base}/readyz")));
    cluster.restart();
    (tokens, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_or_responses() {
    let cluster = tokio::task::spawn_blocking(PgCluster::start).await.unwrap();
    let mut tokens = Vec::new();
    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    let mut statuses = BTreeMap::<u16, usize>::new();
    bounded(Duration::from_secs(120), "secrets hygiene", async {
        for format in ["text", "json"] {
            let mut srv = start(&[
                ("LEASE_STORE", &cluster.url),
                ("LOG_FORMAT", format),
                ("LOG_LEVEL", "trace"),
                ("MAX_LEASES_PER_VIEWER", "2"),
                ("METRICS", "true"),
                ("JWT_COOKIE", "bc"),
            ]);
            let (used, seen) = exercise(&srv.base, &cluster, &mut statuses).await;
            tokens.extend(used);
            haystacks.push((format!("responses ({format} server)"), seen));
            // Metrics are output too.
            let metrics = reqwest::get(format!("{}/metrics", srv.base))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            haystacks.push((format!("metrics ({format})"), metrics.to_vec()));
            srv.kill9();
            haystacks.push((format!("server output ({format} logs)"), srv.output.bytes()));
        }
    })
    .await;

    // Bad settings at start-up: each exits 2 with one line, which must not echo the value.
    let pg_password = "pgPassw0rd-9f3c51e07ab2";
    let jwks_password = "jwksPassw0rd-5d7e1a9c";
    let dir = tempfile::tempdir().unwrap();
    let master_file = dir.path().join("master");
    std::fs::write(&master_file, MASTER_HEX).unwrap();
    let bad_settings: Vec<(&str, String)> = vec![
        ("MASTER_KEY", format!("{MASTER_HEX}zz")),
        ("MASTER_KEY", MASTER_HEX[..40].to_owned()),
        ("SALT", format!("{SALT_HEX}g")),
        ("JWT_SECRET", JWT_SECRET[..20].to_owned()),
        (
            "LEASE_STORE",
            format!("postgres://blindcast:{pg_password}@127.0.0.1:1/db?connect_timeout=2"),
        ),
        (
            "LEASE_STORE",
            format!("postgres://blindcast:{pg_password}@127.0.0.1:1/db?sslmode=bogus"),
        ),
        ("LEASE_STORE", format!("redis://:{pg_password}@127.0.0.1")),
        ("LEASE_STORE", "sqlite:/nonexistent/dir/leases.db".into()),
        ("JWT_SECRET_FILE", "/nonexistent/secret".into()),
        ("MASTER_KEY_FILE", master_file.display().to_string()),
        ("BIND", format!("{JWT_SECRET}:80")),
    ];
    let mut startup_failures = 0;
    for (name, value) in &bad_settings {
        for format in ["text", "json"] {
            let mut env = server_env(&[("LOG_FORMAT", format), ("LOG_LEVEL", "trace")]);
            env.insert((*name).to_owned(), value.clone());
            let out = Command::new(BIN)
                .env_clear()
                .envs(&env)
                .arg("serve")
                .output()
                .unwrap();
            if out.status.code() == Some(2) {
                startup_failures += 1;
            }
            let mut all = out.stdout;
            all.extend_from_slice(&out.stderr);
            haystacks.push((format!("start-up with bad {name} ({format})"), all));
        }
    }
    // A JWKS URL with credentials that cannot be fetched: the server starts and warns.
    let mut srv = start(&[
        ("JWT_SECRET", ""),
        (
            "JWT_JWKS_URL",
            &format!("http://jwks:{jwks_password}@127.0.0.1:1/jwks.json"),
        ),
        ("LOG_LEVEL", "trace"),
        ("LOG_FORMAT", "text"),
    ]);
    let r = reqwest::get(format!("{}/keys/movie-1?token={}", srv.base, tokens[0]))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    srv.kill9();
    haystacks.push(("JWKS URL with credentials".into(), srv.output.bytes()));

    let needles = secrets(
        &tokens,
        &[
            ("PostgreSQL password", pg_password),
            ("JWKS password", jwks_password),
            ("JWT secret prefix", &JWT_SECRET[..20]),
            ("master key prefix", &MASTER_HEX[..40]),
        ],
    );
    let mut found = Vec::new();
    for (where_, hay) in &haystacks {
        for (what, needle) in &needles {
            if find(hay, needle) {
                found.push(format!("{what} in {where_}"));
            }
        }
    }
    let bytes: usize = haystacks.iter().map(|(_, h)| h.len()).sum();
    println!(
        "FIGURE secrets hygiene: {} occurrences of {} secret forms (master key, salt, JWT secret, \
         9 derived keys, {} tokens; hex/HEX/base64/base64url/raw) in {bytes} bytes of output from {} sources \
         (trace logs text+json, response headers and error bodies, metrics, {startup_failures} failed start-ups); \
         statuses exercised {statuses:?}",
        found.len(),
        needles.len(),
        tokens.len(),
        haystacks.len()
    );
    assert!(
        statuses.contains_key(&503) && statuses.contains_key(&401) && statuses.contains_key(&409)
    );
    assert_eq!(
        startup_failures,
        2 * bad_settings.len(),
        "a bad setting did not stop the server"
    );
    assert!(found.is_empty(), "{found:#?}");
    // The counts SECURITY.md quotes, and enough output that the search means something.
    assert_eq!(
        (needles.len(), haystacks.len(), startup_failures),
        (90, 29, 22),
        "update SECURITY.md"
    );
    assert!(bytes > 10_000, "only {bytes} bytes of output searched");
}

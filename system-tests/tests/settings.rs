//! Every setting of the shared list, with its bad example, against the real binary:
//! `blindcast-keys serve` exits with code 2 and one line on stderr naming the setting.
//! Settings of Lambda alone are refused too, whatever their value.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use blindcast_keys_axum::settings::{JWT_KEY_SOURCES, SECRET_SETTINGS, SETTINGS, Setting};
use common::server::{BIN, JWT_SECRET, MASTER_HEX, SALT_HEX};

/// The base every walk starts from: a server that would start, on a free port.
fn base() -> BTreeMap<&'static str, &'static str> {
    [
        ("MASTER_KEY", MASTER_HEX),
        ("SALT", SALT_HEX),
        ("JWT_SECRET", JWT_SECRET),
        ("BIND", "127.0.0.1:0"),
    ]
    .into_iter()
    .collect()
}

/// The base, the settings the bad example needs to be read at all, then the example. A
/// key or secret given another way replaces the base's.
fn walk_env(setting: &Setting) -> BTreeMap<&'static str, &'static str> {
    let mut env = base();
    for (name, value) in setting
        .example_with
        .iter()
        .copied()
        .chain([(setting.name, setting.bad_example)])
    {
        if JWT_KEY_SOURCES.contains(&name) {
            env.remove("JWT_SECRET");
        }
        if let Some(inline) = name.strip_suffix("_FILE")
            && SECRET_SETTINGS.contains(&inline)
        {
            env.remove(inline);
        }
        env.insert(name, value);
    }
    env
}

/// Runs `serve` with `env` alone; a server that starts anyway is killed after 20 s.
fn serve(env: &BTreeMap<&str, &str>) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .env_clear()
        .envs(env)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The base alone starts (so each refusal below comes from the setting walked).
fn assert_base_starts() {
    use std::io::BufRead as _;
    let mut child = Command::new(BIN)
        .env_clear()
        .envs(base())
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let listening = line.contains("listening");
        seen.push(line);
        if listening {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.last().is_some_and(|l| l.contains("listening")),
        "the base must start: {seen:?}"
    );
}

#[test]
fn every_setting_with_its_bad_example_exits_2_naming_it() {
    assert_base_starts();
    let mut walked = 0;
    for setting in SETTINGS {
        let env = walk_env(setting);
        let (code, stderr) = serve(&env);
        let shown = format!("{}={:?}", setting.name, setting.bad_example);
        assert_eq!(code, Some(2), "{shown}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{shown}: {stderr}");
        let prefix = format!("blindcast-keys: error: {}: ", setting.name);
        assert!(stderr.starts_with(&prefix), "{shown}: {stderr}");
        walked += 1;
    }
    assert_eq!(walked, SETTINGS.len());
}

/// The settings that used to be read and ignored, or to turn a protection off, each by
/// itself on the base.
#[test]
fn settings_that_would_mean_nothing_stop_the_server() {
    for (extra, setting, says) in [
        (
            &[("LOG_LEVEL", "info,[[[bad")][..],
            "LOG_LEVEL",
            "log filter",
        ),
        (
            &[("MAX_LEASES_PER_VIEWER", "2")],
            "MAX_LEASES_PER_VIEWER",
            "LEASE_STORE",
        ),
        (&[("LEASE_TTL", "5m")], "LEASE_TTL", "LEASE_STORE"),
        (&[("PURGE_INTERVAL", "5s")], "PURGE_INTERVAL", "LEASE_STORE"),
        (&[("MAX_BODY_BYTES", "0")], "MAX_BODY_BYTES", "at least"),
        (&[("JWT_ISSUER", " , ")], "JWT_ISSUER", "lists nothing"),
        (&[("JWT_AUDIENCE", " , ")], "JWT_AUDIENCE", "lists nothing"),
        (&[("CORS_ORIGINS", " , ")], "CORS_ORIGINS", "no origins"),
        (&[("S3_PREFIX", "hls/")], "S3_PREFIX", "S3_BUCKET"),
        // A per-version name no lookup would find: the environment is listed.
        (
            &[(
                "MASTER_KEY_V02",
                "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
            )],
            "MASTER_KEY_V02",
            "leading zeros",
        ),
        (
            &[("SALT_V100_FILE", "/x")],
            "SALT_V100_FILE",
            "versions 2 to 99",
        ),
        (
            &[("TRUST_GATEWAY_AUTHORIZER", "true")],
            "TRUST_GATEWAY_AUTHORIZER",
            "Lambda",
        ),
        (
            &[
                ("JWT_SECRET", ""),
                ("ALLOW_ANONYMOUS", "true"),
                ("JWT_LEEWAY", "soon"),
            ],
            "JWT_LEEWAY",
            "ALLOW_ANONYMOUS",
        ),
        (
            &[
                ("JWT_SECRET", ""),
                ("ALLOW_ANONYMOUS", "true"),
                ("JWT_CACHE_SIZE", "-5"),
            ],
            "JWT_CACHE_SIZE",
            "ALLOW_ANONYMOUS",
        ),
    ] {
        let mut env = base();
        for (k, v) in extra {
            env.remove(k);
            if !v.is_empty() {
                env.insert(k, v);
            }
        }
        let (code, stderr) = serve(&env);
        assert_eq!(code, Some(2), "{extra:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{extra:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("blindcast-keys: error: {setting}: "))
                && stderr.contains(says),
            "{extra:?}: {stderr}"
        );
    }
}

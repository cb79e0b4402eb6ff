//! The `blindcast-keys` command as a user runs it: real processes, real files, and
//! `openssl kdf` as the independent check of the keys it prints.

mod common;

use std::process::{Command, Output};

use common::server::{BIN, MASTER_HEX as MASTER_KEY, SALT_HEX as SALT, expected_key};
const SECRETS: [(&str, &str); 2] = [("MASTER_KEY", MASTER_KEY), ("SALT", SALT)];

fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    // Only the settings given: none of the many key settings leaks in from outside.
    cmd.args(args).env_clear();
    cmd.envs(env.iter().copied());
    cmd.output().expect("blindcast-keys runs")
}

fn derive(args: &[&str]) -> Output {
    let mut all = vec!["derive"];
    all.extend_from_slice(args);
    cli(&all, &SECRETS)
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// Asserts exit code 2 and exactly one line on stderr; returns that line.
fn usage_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "expected exit 2, stderr: {err}");
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
    err
}

/// The key `openssl kdf` derives (not the workspace's code), in hex as `derive` prints it.
fn openssl_hex(content: &str, epoch: Option<u64>) -> String {
    hex::encode(expected_key(content, epoch))
}

#[test]
fn derive_matches_openssl_for_content_and_epoch_keys() {
    assert_eq!(
        stdout(&derive(&["movie-1"])).trim(),
        openssl_hex("movie-1", None)
    );
    assert_eq!(
        stdout(&derive(&["movie-1", "--epoch", "17"])).trim(),
        openssl_hex("movie-1", Some(17))
    );
    assert_eq!(
        stdout(&derive(&["movie-1", "--epoch", "18446744073709551615"])).trim(),
        openssl_hex("movie-1", Some(u64::MAX))
    );
}

#[test]
fn derive_formats_agree() {
    let hex = stdout(&derive(&["movie-1", "--format", "hex"]));
    let raw = derive(&["movie-1", "--format", "raw"]);
    assert!(raw.status.success());
    assert_eq!(raw.stdout.len(), 16, "raw is exactly 16 bytes");
    assert_eq!(format!("{}\n", hex::encode(&raw.stdout)), hex);
    let b64 = stdout(&derive(&["movie-1", "--format", "base64"]));
    assert_eq!(b64.trim().len(), 24);
}

#[test]
fn secrets_can_come_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mk, salt) = (dir.path().join("mk"), dir.path().join("salt"));
    std::fs::write(&mk, format!("  {}\n", MASTER_KEY.to_uppercase())).expect("write");
    std::fs::write(&salt, SALT).expect("write");
    let (mk, salt) = (mk.to_str().expect("utf-8"), salt.to_str().expect("utf-8"));
    let by_flag = cli(
        &[
            "derive",
            "movie-1",
            "--master-key-file",
            mk,
            "--salt-file",
            salt,
        ],
        &[],
    );
    let by_env = cli(
        &["derive", "movie-1"],
        &[("MASTER_KEY_FILE", mk), ("SALT_FILE", salt)],
    );
    let inline = stdout(&derive(&["movie-1"]));
    assert_eq!(stdout(&by_flag), inline);
    assert_eq!(stdout(&by_env), inline);
}

#[test]
fn invalid_content_ids_exit_2_with_one_line() {
    let long = "a".repeat(129);
    for id in [
        "a/b",
        "..",
        ".",
        "",
        long.as_str(),
        "caf\u{e9}",
        "a b",
        "%2e%2e",
    ] {
        let err = usage_error(&derive(&[id]));
        assert!(err.contains("content id"), "{id:?}: {err}");
    }
}

#[test]
fn invalid_epochs_exit_2_with_one_line() {
    for epoch in ["01", "-1", "18446744073709551616", "+1", "1e3", " 1", ""] {
        let err = usage_error(&derive(&["movie-1", "--epoch", epoch]));
        assert!(err.contains("--epoch"), "{epoch:?}: {err}");
    }
}

#[test]
fn invalid_secrets_exit_2_naming_the_setting_without_the_value() {
    let short = &MASTER_KEY[..62];
    let odd = &MASTER_KEY[..63];
    let not_hex = "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let cases = [
        ("MASTER_KEY", short),
        ("MASTER_KEY", odd),
        ("MASTER_KEY", not_hex),
        ("SALT", "abcdabcd"),
        ("SALT", "xyzxyzxyz"),
    ];
    for (setting, value) in cases {
        let env = if setting == "MASTER_KEY" {
            [("MASTER_KEY", value), ("SALT", SALT)]
        } else {
            [("MASTER_KEY", MASTER_KEY), ("SALT", value)]
        };
        let err = usage_error(&cli(&["derive", "movie-1"], &env));
        assert!(err.contains(&format!("{setting}:")), "{err}");
        assert!(!err.contains(value), "the error echoes the secret: {err}");
    }
    let err = usage_error(&cli(&["derive", "movie-1"], &[("SALT", SALT)]));
    assert!(err.contains("MASTER_KEY"), "{err}");
}

#[test]
fn gen_secrets_prints_fresh_valid_secrets() {
    let first = stdout(&cli(&["gen-secrets"], &[]));
    let second = stdout(&cli(&["gen-secrets"], &[]));
    assert_ne!(first, second);
    let vars: Vec<(&str, &str)> = first
        .lines()
        .map(|l| l.split_once('=').expect("NAME=hex"))
        .collect();
    assert_eq!(vars.len(), 2);
    assert_eq!((vars[0].0, vars[0].1.len()), ("MASTER_KEY", 64));
    assert_eq!((vars[1].0, vars[1].1.len()), ("SALT", 32));
    // What it prints is accepted as configuration.
    stdout(&cli(&["derive", "x"], &vars));
}

#[cfg(unix)]
#[test]
fn keyinfo_writes_a_private_key_file_and_an_ffmpeg_document() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("movie-1.key");
    std::fs::write(&key_path, b"old").expect("pre-existing file");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let key_file = key_path.to_str().expect("utf-8");
    let uri = "https://keys.example.com/keys/movie-1/3";
    let iv = "000102030405060708090A0B0C0D0E0F";
    let keyinfo = |extra: &[&str]| {
        let mut args = vec![
            "keyinfo",
            "movie-1",
            "--key-uri",
            uri,
            "--key-file",
            key_file,
        ];
        args.extend_from_slice(extra);
        cli(&args, &SECRETS)
    };
    let doc = stdout(&keyinfo(&["--epoch", "3", "--iv", iv]));
    let lines: Vec<&str> = doc.lines().collect();
    assert_eq!(lines, [uri, key_file, "000102030405060708090a0b0c0d0e0f"]);
    let bytes = std::fs::read(&key_path).expect("key file");
    assert_eq!(hex::encode(&bytes), openssl_hex("movie-1", Some(3)));
    let mode = std::fs::metadata(&key_path)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode, 0o600,
        "the key file is private even if it existed before"
    );

    // The default IV is random; "none" omits the line; anything else is refused.
    let random = stdout(&keyinfo(&[]));
    assert_eq!(random.lines().nth(2).map(str::len), Some(32));
    assert_ne!(random, stdout(&keyinfo(&[])));
    assert_eq!(stdout(&keyinfo(&["--iv", "none"])).lines().count(), 2);
    assert!(usage_error(&keyinfo(&["--iv", "123"])).contains("--iv"));
    let bad_uri = cli(
        &["keyinfo", "m", "--key-uri", "a\nb", "--key-file", key_file],
        &SECRETS,
    );
    assert!(usage_error(&bad_uri).contains("--key-uri"));
}

// ---------------------------------------------------------------------------------------
// Key versions.

const MASTER_V2: &str = "3a8e0f6d2c91b7e54f0d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f";
const SALT_V2: &str = "c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8";

/// Versions 1 and 2, 2 primary (a deployment after its first rotation), plus `extra`.
fn rotated(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![
        ("MASTER_KEY", MASTER_KEY),
        ("SALT", SALT),
        ("MASTER_KEY_V2", MASTER_V2),
        ("SALT_V2", SALT_V2),
        ("KEY_VERSION_PRIMARY", "2"),
    ];
    env.extend_from_slice(extra);
    env
}

fn openssl_hex_of(master: &str, salt: &str, kv: u16, content: &str, epoch: Option<u64>) -> String {
    hex::encode(common::openssl_hkdf::openssl_key_of_version(
        master, salt, kv, content, epoch,
    ))
}

#[test]
fn derive_defaults_to_the_primary_version_and_takes_any_active_one() {
    let env = rotated(&[]);
    let derive = |args: &[&str]| {
        let mut all = vec!["derive"];
        all.extend_from_slice(args);
        cli(&all, &env)
    };
    let v2 = openssl_hex_of(MASTER_V2, SALT_V2, 2, "movie-1", Some(17));
    assert_eq!(stdout(&derive(&["movie-1", "--epoch", "17"])).trim(), v2);
    assert_eq!(
        stdout(&derive(&["movie-1", "--epoch", "17", "--version", "2"])).trim(),
        v2
    );
    assert_eq!(
        stdout(&derive(&["movie-1", "--version", "1"])).trim(),
        openssl_hex("movie-1", None)
    );
    // Version 1 alone (today's settings): the same keys as before versions existed.
    assert_eq!(
        stdout(&cli(&["derive", "movie-1", "--version", "1"], &SECRETS)).trim(),
        openssl_hex("movie-1", None)
    );
    for (version, says) in [
        ("3", "not configured"),
        ("02", "leading zeros"),
        ("0", "does not exist"),
        ("-1", "decimal"),
        ("70000", "larger"),
    ] {
        let err = usage_error(&derive(&["movie-1", "--version", version]));
        assert!(
            err.contains("--version") && err.contains(says),
            "{version}: {err}"
        );
    }
    let retired = rotated(&[("KEY_VERSIONS_RETIRED", "5")]);
    let err = usage_error(&cli(&["derive", "m", "--version", "5"], &retired));
    assert!(err.contains("retired"), "{err}");
    // The settings' own rules hold here too: several versions need a primary.
    let mut no_primary = rotated(&[]);
    no_primary.retain(|(k, _)| *k != "KEY_VERSION_PRIMARY");
    let err = usage_error(&cli(&["derive", "m"], &no_primary));
    assert!(
        err.starts_with("blindcast-keys: error: KEY_VERSION_PRIMARY:"),
        "{err}"
    );
    assert!(
        !err.contains(MASTER_V2) && !err.contains(MASTER_KEY),
        "{err}"
    );
}

#[test]
fn keyinfo_writes_key_uris_that_name_the_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("k.key");
    let key_file = key_path.to_str().expect("utf-8");
    let keyinfo = |uri: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "keyinfo",
            "movie-1",
            "--key-uri",
            uri,
            "--key-file",
            key_file,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--iv", "none"]);
        cli(&args, env)
    };
    let uri = "https://keys.example.com/keys/movie-1/4";
    let env = rotated(&[]);
    let doc = stdout(&keyinfo(uri, &["--epoch", "4"], &env));
    assert_eq!(doc, format!("{uri}?kv=2\n{key_file}\n"));
    assert_eq!(
        hex::encode(std::fs::read(&key_path).expect("key file")),
        openssl_hex_of(MASTER_V2, SALT_V2, 2, "movie-1", Some(4))
    );
    // Version 1, by flag or as the only version: the URI is left as given.
    let doc = stdout(&keyinfo(uri, &["--epoch", "4", "--version", "1"], &env));
    assert_eq!(doc.lines().next(), Some(uri));
    assert_eq!(
        hex::encode(std::fs::read(&key_path).expect("key file")),
        openssl_hex("movie-1", Some(4))
    );
    assert_eq!(
        stdout(&keyinfo(uri, &[], &SECRETS)).lines().next(),
        Some(uri)
    );
    // Other query parameters stay; a URI that already names a version is refused.
    let doc = stdout(&keyinfo(&format!("{uri}?tenant=a"), &[], &env));
    assert_eq!(
        doc.lines().next(),
        Some(format!("{uri}?tenant=a&kv=2").as_str())
    );
    let err = usage_error(&keyinfo(&format!("{uri}?kv=2"), &[], &env));
    assert!(err.contains("--key-uri") && err.contains("kv"), "{err}");
}

#[test]
fn gen_secrets_adds_a_key_version() {
    let added = stdout(&cli(&["gen-secrets", "--version", "3"], &[]));
    let vars: Vec<(&str, &str)> = added
        .lines()
        .map(|l| l.split_once('=').expect("NAME=hex"))
        .collect();
    assert_eq!(vars.len(), 2);
    assert_eq!((vars[0].0, vars[0].1.len()), ("MASTER_KEY_V3", 64));
    assert_eq!((vars[1].0, vars[1].1.len()), ("SALT_V3", 32));
    // Next to the existing version, made primary, it derives version 3's keys.
    let mut env: Vec<(&str, &str)> = SECRETS.to_vec();
    env.extend(vars.iter().copied());
    env.push(("KEY_VERSION_PRIMARY", "3"));
    assert_eq!(
        stdout(&cli(&["derive", "m", "--epoch", "1"], &env)).trim(),
        openssl_hex_of(vars[0].1, vars[1].1, 3, "m", Some(1))
    );
    // Version 1 is today's two lines.
    let first = stdout(&cli(&["gen-secrets", "--version", "1"], &[]));
    let names: Vec<&str> = first
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["MASTER_KEY", "SALT"]);
    for bad in ["0", "02", "100", "x"] {
        let err = usage_error(&cli(&["gen-secrets", "--version", bad], &[]));
        assert!(err.contains("--version"), "{bad}: {err}");
    }
}

//! The test vectors published in `SPEC.md`, checked against this crate and against two
//! implementations that are not this crate: `openssl kdf` and a standard-library Python
//! HKDF (`tests/hkdf_reference.py`). The table is parsed from the published document
//! itself, so the document, the code and the references cannot drift apart. Two tables:
//! key version 1 (`| # | MASTER_KEY | SALT | contentId | epoch | key |`) and key versions 2
//! and later (the same with a `kv` column after `#`).

use std::path::Path;
use std::process::Command;

use blindcast_keys_core::{ContentId, KeyDeriver, KeyVersion, MasterKey, Salt, parse_epoch};

struct Vector {
    number: String,
    version: u16,
    master_key: String,
    salt: String,
    content_id: String,
    epoch: Option<u64>,
    key: String,
}

fn spec_path() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/SPEC.md"))
}

fn vectors() -> Vec<Vector> {
    let spec = std::fs::read_to_string(spec_path()).expect("SPEC.md is readable");
    let vectors: Vec<Vector> = spec
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains('`'))
        .map(|line| {
            let mut cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let unquote = |s: &str| s.trim_matches('`').to_owned();
            let version = match cells.len() {
                6 => 1,
                7 => unquote(cells.remove(1))
                    .parse()
                    .unwrap_or_else(|e| panic!("kv of {line}: {e}")),
                _ => panic!("malformed vector row: {line}"),
            };
            Vector {
                number: cells[0].to_owned(),
                version,
                master_key: unquote(cells[1]),
                salt: unquote(cells[2]),
                content_id: unquote(cells[3]),
                epoch: (cells[4] != "-").then(|| parse_epoch(&unquote(cells[4])).expect("epoch")),
                key: unquote(cells[5]),
            }
        })
        .collect();
    assert!(
        vectors.len() >= 8,
        "SPEC.md must publish at least 8 vectors"
    );
    vectors
}

/// The `info` string, written from the document's formulas, not from the crate.
fn info(v: &Vector) -> String {
    let prefix = match v.version {
        1 => "blindcast/v1/".to_owned(),
        n => format!("blindcast/v1/kv/{n}/"),
    };
    match v.epoch {
        None => format!("{prefix}content/{}", v.content_id),
        Some(e) => format!("{prefix}epoch/{}/{e}", v.content_id),
    }
}

/// Runs an external reference, failing with an install hint if it is missing.
fn run(program: &str, args: &[&str], install: &str) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}): this test needs it as an independent reference; {install}")
    });
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn crate_reproduces_every_published_vector() {
    for v in vectors() {
        let deriver = KeyDeriver::with_version(
            &MasterKey::from_hex(&v.master_key).expect("vector master key"),
            &Salt::from_hex(&v.salt).expect("vector salt"),
            KeyVersion::new(v.version).expect("vector version"),
        );
        let id = ContentId::new(v.content_id.as_str()).expect("vector content id");
        let key = deriver.key(&id, v.epoch);
        assert_eq!(key.to_hex().as_str(), v.key, "vector {}", v.number);
    }
}

#[test]
fn openssl_reproduces_every_published_vector() {
    for v in vectors() {
        let info = info(&v);
        let out = run(
            "openssl",
            &[
                "kdf",
                "-keylen",
                "16",
                "-kdfopt",
                "digest:SHA256",
                "-kdfopt",
                &format!("hexkey:{}", v.master_key),
                "-kdfopt",
                &format!("hexsalt:{}", v.salt),
                "-kdfopt",
                &format!("info:{info}"),
                "HKDF",
            ],
            "install OpenSSL 3 (apt-get install openssl)",
        );
        let hex = out.trim().replace(':', "").to_ascii_lowercase();
        assert_eq!(hex, v.key, "openssl disagrees with vector {}", v.number);
    }
}

#[test]
fn python_reference_reproduces_every_published_vector() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hkdf_reference.py");
    let spec = spec_path().to_str().expect("utf-8 path");
    let out = run(
        "python3",
        &[script, spec],
        "install Python 3 (apt-get install python3)",
    );
    // Every row the Rust parser found, the reference checked: none skipped.
    let expected = format!("{} vectors match", vectors().len());
    assert!(out.contains(&expected), "{out}");
}

#[test]
fn versions_two_and_three_are_published_with_content_and_epoch_keys() {
    let vectors = vectors();
    for version in [2, 3] {
        for epoch in [false, true] {
            assert!(
                vectors
                    .iter()
                    .any(|v| v.version == version && v.epoch.is_some() == epoch),
                "SPEC.md has no version-{version} vector with epoch={epoch}"
            );
        }
    }
}

/// The document's claim that the same master key and salt give different keys under
/// different versions, checked on its own table: at least one later-version vector shares
/// secrets, content id and epoch with a version-1 vector, and every such pair differs.
#[test]
fn same_secrets_under_another_version_give_another_key() {
    let vectors = vectors();
    let mut pairs = 0;
    for later in vectors.iter().filter(|v| v.version > 1) {
        for v1 in vectors.iter().filter(|v| {
            v.version == 1
                && v.master_key == later.master_key
                && v.salt == later.salt
                && v.content_id == later.content_id
                && v.epoch == later.epoch
        }) {
            pairs += 1;
            assert_ne!(
                later.key, v1.key,
                "vectors {} and {} share a key",
                later.number, v1.number
            );
        }
    }
    assert!(
        pairs >= 4,
        "only {pairs} later-version vectors reuse version-1 secrets"
    );
    // And no two vectors of the whole document share a key.
    let mut keys: Vec<&str> = vectors.iter().map(|v| v.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), vectors.len(), "two vectors share a key");
}

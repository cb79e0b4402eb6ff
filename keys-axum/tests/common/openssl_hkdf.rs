//! Expected keys from `openssl kdf` (HKDF-SHA256 with the `info` strings of SPEC.md), not
//! from this workspace's code: served bytes are checked against an independent
//! implementation, so a bug shared by the server and a test helper cannot hide.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

type Cache = Mutex<HashMap<(String, String, u16, String, Option<u64>), Vec<u8>>>;

/// The 16-byte key of `content` (and `epoch`) for this master key and salt (hex).
pub fn openssl_key(master_hex: &str, salt_hex: &str, content: &str, epoch: Option<u64>) -> Vec<u8> {
    openssl_key_of_version(master_hex, salt_hex, 1, content, epoch)
}

/// The same under key version `kv` (SPEC.md, "Key versions": `kv/N/` after
/// `blindcast/v1/` for N >= 2).
pub fn openssl_key_of_version(
    master_hex: &str,
    salt_hex: &str,
    kv: u16,
    content: &str,
    epoch: Option<u64>,
) -> Vec<u8> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let id = (
        master_hex.to_owned(),
        salt_hex.to_owned(),
        kv,
        content.to_owned(),
        epoch,
    );
    if let Some(key) = cache.lock().unwrap().get(&id) {
        return key.clone();
    }
    let version = if kv == 1 {
        String::new()
    } else {
        format!("kv/{kv}/")
    };
    let info = match epoch {
        None => format!("blindcast/v1/{version}content/{content}"),
        Some(e) => format!("blindcast/v1/{version}epoch/{content}/{e}"),
    };
    let out = Command::new("openssl")
        .args(["kdf", "-keylen", "16", "-kdfopt", "digest:SHA256"])
        .args(["-kdfopt", &format!("hexkey:{master_hex}")])
        .args(["-kdfopt", &format!("hexsalt:{salt_hex}")])
        .args(["-kdfopt", &format!("info:{info}"), "HKDF"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): expected keys come from `openssl kdf`; apt-get install openssl")
        });
    assert!(
        out.status.success(),
        "openssl kdf failed (OpenSSL 3 is needed): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hex: String = String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    let key: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(key.len(), 16, "openssl printed {hex:?}");
    cache.lock().unwrap().insert(id, key.clone());
    key
}

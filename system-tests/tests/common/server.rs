//! The real `blindcast-keys serve` binary on loopback, for the security suite: start,
//! capture every byte it prints, `kill -9`, restart; and throwaway PostgreSQL clusters that
//! a test may kill and restart.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `blindcast-keys` binary under test: this crate's copy of it (`src/bin`), which is
/// `blindcast_keys::main` and nothing else, so cargo builds it before the tests run.
pub const BIN: &str = env!("CARGO_BIN_EXE_blindcast-keys-under-test");
/// Random-looking secrets, so a match of their raw bytes in output is never a coincidence.
pub const MASTER_HEX: &str = "9f3c51e07ab26d48c1f0e9375b8a2d64e3c7190fb5d2a86e4f1c0b7d92a6e853";
pub const SALT_HEX: &str = "5d7e1a9c3b2f4e6081d3c5a7e9f1b2d4";
pub const JWT_SECRET: &str = "S3cr3t-jwt-Kq7vX2mP9wL4zR8tY1nB6cF0hJ5dG";
/// `LOG_LEVEL` for tests that make many requests: warnings only, plus the "listening" line
/// that [`start`] waits for.
pub const QUIET: &str = "warn,blindcast_keys::tcp=info";

#[allow(unused_imports)] // Not every test file needs a deadline.
pub use super::deadline::bounded;

/// The key a correct server serves for `content` (and `epoch`) with [`MASTER_HEX`] and
/// [`SALT_HEX`], computed by `openssl kdf`, not by the workspace's code.
pub fn expected_key(content: &str, epoch: Option<u64>) -> Vec<u8> {
    super::openssl_hkdf::openssl_key(MASTER_HEX, SALT_HEX, content, epoch)
}

/// Everything a server printed, stdout and stderr interleaved by line.
#[derive(Clone, Default)]
pub struct Output(Arc<Mutex<Vec<u8>>>);

impl Output {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
    fn push(&self, line: &[u8]) {
        let mut out = self.0.lock().unwrap();
        out.extend_from_slice(line);
    }
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub base: String,
    pub output: Output,
    pub env: BTreeMap<String, String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment every test server starts from; `extra` overrides it (an empty value
/// removes the variable).
pub fn server_env(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("MASTER_KEY", MASTER_HEX),
        ("SALT", SALT_HEX),
        ("JWT_SECRET", JWT_SECRET),
        ("BIND", "127.0.0.1:0"),
        ("LOG_FORMAT", "json"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        if v.is_empty() {
            env.remove(*k);
        } else {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    env
}

/// Starts `blindcast-keys serve` and waits (at most 20 s) for its "listening" line.
pub fn start(extra: &[(&str, &str)]) -> Server {
    start_with(server_env(extra), &[])
}

/// Like [`start`], with a full environment and extra variables that only the process
/// sees (LD_PRELOAD for libfaketime, say).
pub fn start_with(env: BTreeMap<String, String>, process_only: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .envs(&env)
        .envs(process_only.iter().copied());
    cmd.arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let output = Output::default();
    let stdout = child.stdout.take().unwrap();
    let out = output.clone();
    std::thread::spawn(move || {
        let mut stdout = stdout;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.push(&buf[..n]);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let out = output.clone();
    // Keeps draining the logs so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        let mut sent = false;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            out.push(&line);
            if !sent && let Some(addr) = listening_addr(&String::from_utf8_lossy(&line)) {
                let _ = tx.send(addr);
                sent = true;
            }
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(addr) => addr,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "server did not start within 20 s; output:\n{}",
                output.text()
            );
        }
    };
    Server {
        child,
        base: format!("http://{addr}"),
        addr,
        output,
        env,
    }
}

/// The address of a "listening" log line, text or JSON.
fn listening_addr(line: &str) -> Option<String> {
    if !line.contains("listening") {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
        return v["addr"].as_str().map(str::to_owned);
    }
    let rest = &line[line.find("addr=")? + 5..];
    Some(rest.split_whitespace().next()?.to_owned())
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// A value of `/proc/PID/status` in kB (`VmHWM`, `VmRSS`).
    pub fn proc_status_kb(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    /// Open TCP sockets of the process (its fds that are sockets).
    pub fn open_sockets(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        std::fs::read_link(e.path())
                            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
                    })
                    .count()
            })
            .unwrap_or(0)
    }
}

/// An HS256 token of the test servers' secret, valid for an hour.
pub fn token(sub: &str) -> String {
    token_with(sub, &[])
}

/// Like [`token`], with these extra claims (`iss`, `role`, ...).
pub fn token_with(sub: &str, claims: &[(&str, serde_json::Value)]) -> String {
    let extra = claims
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    blindcast_keys_axum::auth::mint_hs256(
        JWT_SECRET.as_bytes(),
        sub,
        Duration::from_secs(3600),
        extra,
    )
    .unwrap()
}

/// An HTTP client with room for many simultaneous connections and a hard timeout.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(timeout)
        .build()
        .unwrap()
}

/// The repository's `scripts/` directory.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("scripts")
}

/// A throwaway PostgreSQL cluster of this test alone (scripts/postgres.sh), which it may
/// kill and restart. Stopped and removed on drop.
pub struct PgCluster {
    pub dir: PathBuf,
    pub url: String,
    pub port: u16,
}

impl PgCluster {
    pub fn start() -> Self {
        let dir =
            std::env::temp_dir().join(blindcast_lease_testkit::unique_name("blindcast-sec-pg"));
        let out = Command::new(scripts_dir().join("postgres.sh"))
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/postgres.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let port = url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next()?.parse().ok())
            .unwrap();
        Self { dir, url, port }
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| {
                let mut v: Vec<PathBuf> = d
                    .filter_map(Result::ok)
                    .map(|e| e.path().join("bin/pg_ctl"))
                    .filter(|p| p.exists())
                    .collect();
                v.sort();
                v.pop()
            })
            .unwrap_or_else(|| PathBuf::from("pg_ctl"));
        let data = self.dir.join("data");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        cmd.arg("-D").arg(data).args(args).output().unwrap()
    }

    /// `pg_ctl stop -m immediate`: every backend is killed at once, no clean shutdown.
    pub fn kill_immediate(&self) {
        let out = self.pg_ctl(&["-m", "immediate", "-w", "-t", "20", "stop"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn restart(&self) {
        let log = self.dir.join("log");
        let port = format!("-p {}", self.port);
        let out = self.pg_ctl(&[
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-t",
            "30",
            "start",
            "-o",
            &port,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new(scripts_dir().join("postgres.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The server's `/metrics` text.
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> String {
    http.get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of `series` (a name, with its labels if any: `x_total{outcome="ok"}`) in a
/// `/metrics` text; `None` when no line has it.
pub fn series_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// One series of the server's `/metrics`.
pub async fn metric(http: &reqwest::Client, base: &str, series: &str) -> Option<f64> {
    series_value(&metrics_text(http, base).await, series)
}

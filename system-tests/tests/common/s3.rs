//! A real S3-compatible server on loopback that checks SigV4 signatures: `s3s-fs`, on a
//! free port, over a temporary directory, with known credentials. Never skipped: a missing `s3s-fs` fails the test
//! with the command that installs it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const INSTALL: &str = "cargo install s3s-fs@0.14.1 --features binary --locked";
pub const ACCESS_KEY: &str = "AKIABLINDCASTTEST01";
/// Random-looking, so a match of it in any output is never a coincidence.
pub const SECRET_KEY: &str = "q8Zr4WvN2xK7pT1mB9cY5hJ3dL6fG0sA+uE/oI8n";
pub const BUCKET: &str = "media";
pub const REGION: &str = "us-east-1";

pub struct S3Server {
    child: Child,
    pub endpoint: String,
    pub root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `s3s-fs` from `PATH` or `$CARGO_HOME/bin`.
fn binary() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_home.map(|h| h.join("bin")));
    for dir in candidates {
        let path = dir.join("s3s-fs");
        if path.is_file() {
            return path;
        }
    }
    panic!("s3s-fs is missing: run `{INSTALL}`");
}

impl S3Server {
    /// Starts `s3s-fs` with bucket [`BUCKET`] and waits (at most 20 s) until it accepts
    /// connections.
    pub fn start() -> Self {
        let bin = binary();
        let root = tempfile::tempdir().unwrap();
        // s3s-fs keeps each bucket as a directory of its root.
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(root.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run s3s-fs ({e}): run `{INSTALL}`"));
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Self {
                        child,
                        endpoint: format!("http://{addr}"),
                        root,
                    };
                }
                // Lost the port to someone else: try another.
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("s3s-fs did not start on 127.0.0.1");
    }

    /// Where s3s-fs keeps the object `key` of [`BUCKET`].
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }

    /// The environment that configures the key server's presigning for this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("S3_BUCKET", BUCKET.to_owned()),
            ("S3_REGION", REGION.to_owned()),
            ("S3_ENDPOINT", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ]
    }
}

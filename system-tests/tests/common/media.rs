//! Media helpers shared by the player and publisher-flow tests: packaging encrypted HLS
//! with `examples/hls/package.sh`, and ffmpeg as the player (per-frame hashes).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::timeout;

use super::server::{BIN, MASTER_HEX, SALT_HEX};

/// The repository root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Fails (never skips) when ffmpeg is missing.
pub fn require_ffmpeg() {
    let ok = std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "install ffmpeg (apt-get install ffmpeg)");
}

/// Runs `examples/hls/package.sh OUT KEY_SERVER CONTENT 12` with the test secrets: derives
/// the key with `blindcast-keys keyinfo` and encrypts a generated video with ffmpeg.
pub async fn package(out: &Path, key_server: &str, content: &str) {
    package_with(
        out,
        key_server,
        content,
        &[("MASTER_KEY", MASTER_HEX), ("SALT", SALT_HEX)],
    )
    .await;
}

/// Like [`package`], with the key settings in `secrets` (several key versions, say) and
/// nothing else from this process's environment.
pub async fn package_with(out: &Path, key_server: &str, content: &str, secrets: &[(&str, &str)]) {
    let run = Command::new("bash")
        .arg(workspace().join("examples/hls/package.sh"))
        .arg(out)
        .arg(key_server)
        .args([content, "12"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(secrets.iter().copied())
        .env("BLINDCAST_KEYS", BIN)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let done = timeout(Duration::from_secs(90), run)
        .await
        .expect("package.sh took over 90 s")
        .unwrap();
    assert!(
        done.status.success(),
        "package.sh failed: {}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// What ffmpeg decoded.
pub struct Decoded {
    pub success: bool,
    pub hashes: Vec<String>,
    pub stderr: String,
}

/// Decodes every video frame of `input` with ffmpeg and returns the per-frame MD5s
/// (`framemd5`), with `headers` sent on its HTTP requests (key requests included).
pub async fn framemd5(input: &str, headers: Option<&str>) -> Decoded {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-protocol_whitelist", "file,http,tcp,crypto,data"]);
    if let Some(headers) = headers {
        cmd.arg("-headers").arg(headers);
    }
    cmd.args(["-i", input, "-map", "0:v", "-f", "framemd5", "-"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("ffmpeg took over 60 s")
        .unwrap();
    // Lines are `stream, dts, pts, duration, size, hash`; timestamps differ between the
    // source and the HLS remux, so only the decoded pictures' hashes are compared.
    let hashes = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.rsplit(',').next().unwrap().trim().to_owned())
        .collect();
    Decoded {
        success: out.status.success(),
        hashes,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

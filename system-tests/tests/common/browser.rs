//! What the browser tests need: Node.js, the npm packages pinned in `examples/player`, and
//! Debian's Chromium. A missing one fails the test with the command that installs it.

use std::path::{Path, PathBuf};

use crate::common::media::workspace;

/// `examples/player`: the pages, `e2e.mjs`, `browser.mjs` and their npm packages.
pub fn player_dir() -> PathBuf {
    workspace().join("examples/player")
}

/// Node.js answers `node --version`.
pub fn require_node() {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(node, "node is missing: install Node.js 20 or newer");
}

/// Node.js, Chromium, playwright-core and each of `packages` (paths under
/// `examples/player/node_modules/`).
pub fn require_browser(packages: &[&str]) {
    require_node();
    let player = player_dir();
    for package in packages.iter().chain(&["playwright-core/package.json"]) {
        let path = Path::new("node_modules").join(package);
        assert!(
            player.join(&path).exists(),
            "{} is missing: run `npm ci --prefix examples/player`",
            path.display()
        );
    }
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: apt-get install chromium"
    );
}

/// Runs `node ARGS` in `dir` (stdin closed, killed if the test stops waiting) and returns
/// its output; more than `limit` fails the test naming `what`.
pub async fn node(
    dir: &Path,
    args: &[&std::ffi::OsStr],
    limit: std::time::Duration,
    what: &str,
) -> std::process::Output {
    let run = tokio::process::Command::new("node")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("{what} took over {} s", limit.as_secs()))
        .unwrap()
}

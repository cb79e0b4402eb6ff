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

#!/usr/bin/env bash
# Plays the encrypted demo in your own browser: packages a generated video, starts a key
# server (JWT auth, SQLite leases, CORS for the page's origin) and serves the three player
# pages (hls.js, Shaka Player, Video.js) on another port, then prints their URLs with a
# fresh token. Ctrl-C stops both servers.
#
#   examples/player/demo.sh            # page on 127.0.0.1:8080, key server on 127.0.0.1:8081
#   PAGE_PORT=9000 KEY_PORT=9001 examples/player/demo.sh
#
# Needs cargo, ffmpeg, openssl, python3 and node/npm (for the players from npm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
page_port=${PAGE_PORT:-8080}
key_port=${KEY_PORT:-8081}
page="http://127.0.0.1:$page_port"
key_server="http://127.0.0.1:$key_port"

[ -f "$here/node_modules/shaka-player/dist/shaka-player.compiled.js" ] || npm ci --prefix "$here" --no-audit --no-fund
cargo build -q --manifest-path "$root/Cargo.toml" -p blindcast-keys --bin blindcast-keys
keys=${BLINDCAST_KEYS:-$root/target/debug/blindcast-keys}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Throwaway secrets: this demo's keys exist only while it runs.
MASTER_KEY=$(openssl rand -hex 32)
SALT=$(openssl rand -hex 16)
JWT_SECRET=$(openssl rand -hex 32)
export MASTER_KEY SALT JWT_SECRET

BLINDCAST_KEYS=$keys "$root/examples/hls/package.sh" "$work/www/media" "$key_server"
for f in index.html shaka.html videojs.html page.js page.css player-hlsjs.js player-shaka.js \
  player-videojs.js node_modules; do ln -s "$here/$f" "$work/www/$f"; done

CORS_ORIGINS=$page LEASE_STORE="sqlite:$work/leases.db" BIND="127.0.0.1:$key_port" \
  "$keys" serve &
pids+=($!)
python3 -m http.server "$page_port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
pids+=($!)

token=$("$keys" token --sub demo-viewer --ttl 1h)
params="token=$token&keyServer=$key_server&src=media/rotating/index.m3u8"
url="$page/index.html#$params"
sleep 1
cat <<EOF

Open in a browser (rotating keys; src=media/single/index.m3u8 for one content key):

  hls.js        $url
  Shaka Player  $page/shaka.html#$params
  Video.js      $page/videojs.html#$params

Or check it headlessly:

  node $here/e2e.mjs --mode allowed --key-server $key_server --page '$url' --screenshot /tmp/player.png

Ctrl-C stops the servers.
EOF
wait

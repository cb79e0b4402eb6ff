#!/usr/bin/env bash
# Server CPU time per request, for the "what dominates" part of BENCHMARKS.md: the bare
# axum ceiling against `blindcast-keys serve` (HS256), with the audit log on (LOG_LEVEL=info,
# the default) and off (LOG_LEVEL=warn). Each server gets one `wrk -t1 -c64 -d10s`; the
# figure is (utime + stime of the server process) / requests answered. Twice each.
#
#   benches/http/cpu-per-request.sh      # after `benches/http/run.sh` built the binaries
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=target/release
export MASTER_KEY=$(printf '0b%.0s' $(seq 1 32)) SALT=$(printf '5a%.0s' $(seq 1 16))
S=bench-secret-of-at-least-thirty-two-bytes!
HS=$(JWT_SECRET=$S $BIN/bench-tool mint HS256 env viewer-1 86400)
TCK=$(getconf CLK_TCK)
measure() { # name pid url [wrk args...]
  local name=$1 pid=$2 url=$3; shift 3
  local a=$(awk '{print $14+$15}' /proc/$pid/stat)
  local out=$(wrk -t1 -c64 -d10s "$@" $url)
  local b=$(awk '{print $14+$15}' /proc/$pid/stat)
  local reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  echo "$name rps=$rps server_cpu_us_per_req=$(awk -v a="$a" -v b="$b" -v t="$TCK" -v r="$reqs" 'BEGIN { printf "%.2f", (b - a) / t * 1e6 / r }')"
}
$BIN/bench-bare-axum 127.0.0.1:18097 >/dev/null & B=$!
env BIND=127.0.0.1:18098 LOG_LEVEL=info LOG_FORMAT=text JWT_SECRET=$S $BIN/blindcast-keys serve >/dev/null 2>/dev/null & K=$!
env BIND=127.0.0.1:18099 LOG_LEVEL=warn LOG_FORMAT=text JWT_SECRET=$S $BIN/blindcast-keys serve >/dev/null 2>/dev/null & Q=$!
sleep 0.5
for _ in 1 2; do
measure bare $B http://127.0.0.1:18097/key
measure keys-hs256 $K http://127.0.0.1:18098/keys/movie-1 -H "Authorization: Bearer $HS"
measure keys-hs256-noaudit $Q http://127.0.0.1:18099/keys/movie-1 -H "Authorization: Bearer $HS"
done
kill $B $K $Q; wait 2>/dev/null || true

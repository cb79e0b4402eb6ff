#!/usr/bin/env bash
# Side-by-side load of the key route: one master key against a 3-version keyring
# (versions 1, 2, 3; primary 3), alternating servers run by run so drift of the machine
# hits both alike. Each run: wrk -t1 -c64 -d$DURATION on GET /keys/movie-1 (HS256 token),
# with ?kv=3 on the keyring server (the primary, the newest derivation) and, as a third
# series, ?kv=1 on it. Prints each run and the medians.
#
#   benches/http/keyring-ab.sh          # REPS=3 DURATION=10s
# Needs the release binaries (cargo build --release -p blindcast-keys -p blindcast-benches).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/target/release
DURATION=${DURATION:-10s}
REPS=${REPS:-3}
PORT=18092
hex() { printf "$1%.0s" $(seq 1 "$2"); }
export JWT_SECRET=bench-secret-of-at-least-thirty-two-bytes!
TOKEN=$("$BIN/bench-tool" mint HS256 env viewer-1 86400)
BASE=(MASTER_KEY="$(hex 0b 32)" SALT="$(hex 5a 16)" JWT_SECRET="$JWT_SECRET" BIND=127.0.0.1:$PORT LOG_LEVEL=info LOG_FORMAT=text)
RING=(MASTER_KEY_V2="$(hex 1c 32)" SALT_V2="$(hex 6b 16)" MASTER_KEY_V3="$(hex 2d 32)" SALT_V3="$(hex 7c 16)" KEY_VERSION_PRIMARY=3)
run() { # name path env...
    local name=$1 path=$2; shift 2
    env -i PATH="$PATH" "$@" "$BIN/blindcast-keys" serve >/dev/null 2>/tmp/keyring-ab-$name.log &
    local pid=$!
    for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path") == 200 ]] ||
        { echo "keyring-ab: $name did not answer 200" >&2; kill $pid; exit 1; }
    wrk -t1 -c64 -d"$DURATION" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path" |
        awk '/Requests\/sec/ { print $2 }'
    kill $pid; wait $pid 2>/dev/null || true
}
declare -A all
for i in $(seq 1 "$REPS"); do
    a=$(run single /keys/movie-1 "${BASE[@]}")
    b=$(run keyring3-kv3 "/keys/movie-1?kv=3" "${BASE[@]}" "${RING[@]}")
    c=$(run keyring3-kv1 "/keys/movie-1?kv=1" "${BASE[@]}" "${RING[@]}")
    echo "run $i: single $a, keyring3 kv=3 $b, keyring3 kv=1 $c req/s (load $(cut -d' ' -f1 /proc/loadavg))"
    all[single]+="$a "; all[kv3]+="$b "; all[kv1]+="$c "
done
med() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "medians: single $(echo "${all[single]}" | med), keyring3 kv=3 $(echo "${all[kv3]}" | med), keyring3 kv=1 $(echo "${all[kv1]}" | med) req/s"

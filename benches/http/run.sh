#!/usr/bin/env bash
# The load benchmark of Blindcast Keys: one command, one run, every figure of the HTTP,
# lease and Lambda tables of BENCHMARKS.md.
#
#   benches/http/run.sh                 # full run (~10 minutes), writes the report
#   DURATION=3s REPS=1 benches/http/run.sh   # quick smoke run
#
# What it measures, all on 127.0.0.1 with the same wrk settings (wrk -t$THREADS -c$CONNS
# -d$DURATION --latency, $REPS repetitions, median reported):
#   1. nginx (Debian nginx-light) serving a 16-byte static file;
#   2. a bare axum server answering 16 static bytes (`bench-bare-axum`);
#   3. `blindcast-keys serve` (release build), GET /keys/{id}: HS256, RS256, ES256 tokens;
#      HS256 + SQLite lease check; HS256 + PostgreSQL lease check without and with the
#      lease-check cache (queries per key request counted), two cached instances sharing
#      the database (aggregate); and the epoch-key
#      route over 100,000 distinct content ids (benches/http/epoch.lua);
# each with req/s, the ratio to (1) and (2), p99 latency and the server's peak RSS
# (VmHWM of the server process; nginx: master + workers);
#   4. lease creates/s with 1 and 8 concurrent clients: the SQLite store against the same
#      transaction through rusqlite directly, the PostgreSQL store against pgbench running
#      benches/pgbench/lease_create.sql (`bench-tool lease-load`, $LEASE_SECONDS each,
#      $REPS repetitions, median);
#      then the criterion benches of every store operation (lease_sqlite, lease_postgres);
#   5. Lambda: `bootstrap` process start to first answered invocation (median of 10, the
#      harness of keys-lambda/tests/runtime_api.rs) and the zipped package size.
#
# Needs: wrk, nginx (apt-get install nginx-light wrk), pgbench and PostgreSQL 15
# (scripts/postgres.sh), zip, cargo. Runs as root or as a user allowed to run these.
# Environment: DURATION (10s), REPS (3), CONNS (64), THREADS (1), LEASE_SECONDS (5),
# OUT (benches/results/http-run.md), SKIP_BUILD=1 to reuse the release binaries,
# SKIP_LAMBDA=1, SKIP_LEASES=1, SKIP_CRITERION=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-10s}
REPS=${REPS:-3}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
LEASE_SECONDS=${LEASE_SECONDS:-5}
OUT=${OUT:-$ROOT/benches/results/http-run.md}
FIX=$ROOT/keys-axum/tests/fixtures
BIN=$ROOT/target/release
P_NGINX=18080 P_BARE=18081 P_KEYS=18082

for tool in wrk nginx pgbench zip cargo; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/blindcast-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
PGDIR=$WORK/pg
cleanup() {
    for pid in "${PIDS[@]:-}"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done
    [[ -f $WORK/nginx.pid ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [[ -d $PGDIR ]] && scripts/postgres.sh stop "$PGDIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT
log() { echo "== $*" >&2; }

# ---------------------------------------------------------------- build
if [[ -z ${SKIP_BUILD:-} ]]; then
    log "building release binaries"
    cargo build --release --quiet -p blindcast-keys --bin blindcast-keys
    cargo build --release --quiet -p blindcast-benches --bins
    [[ -n ${SKIP_LAMBDA:-} ]] || cargo build --release --quiet -p blindcast-keys-lambda --bin bootstrap
fi

# ---------------------------------------------------------------- helpers
wait_port() { # port
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "run.sh: nothing listens on port $1" >&2; return 1
}

# Peak RSS in KiB of a list of pids (summed).
peak_rss() {
    local total=0 kb
    for pid in "$@"; do
        kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# wrk output → "req_per_s p99_ms non2xx errors"
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v
        }
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { err = $0 }
        END { printf "%s %.3f %d %s\n", rps, p99, bad + 0, (err == "" ? "none" : "socket-errors") }
    ' "$1"
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

RESULTS=$WORK/results.tsv   # name rps p99 rss_kib non2xx
: >"$RESULTS"

# load NAME PORT PATH PIDS... (extra wrk args in WRK_EXTRA array)
load() {
    local name=$1 port=$2 path=$3; shift 3
    local pids=("$@") rps_list=() p99_list=() bad=0 i
    log "load: $name ($REPS x wrk -t$THREADS -c$CONNS -d$DURATION)"
    for i in $(seq 1 "$REPS"); do
        wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${WRK_EXTRA[@]}" \
            "http://127.0.0.1:$port$path" >"$WORK/wrk-$name-$i.txt" 2>&1
        read -r rps p99 non2xx errs < <(parse_wrk "$WORK/wrk-$name-$i.txt")
        rps_list+=("$rps"); p99_list+=("$p99"); bad=$((bad + non2xx))
        echo "   rep $i: $rps req/s, p99 $p99 ms, non-2xx $non2xx, $errs, load $(cut -d' ' -f1 /proc/loadavg)" >&2
        cat "$WORK/wrk-$name-$i.txt" >>"$WORK/raw-wrk.txt"
    done
    local rps p99
    rps=$(printf '%s\n' "${rps_list[@]}" | median)
    p99=$(printf '%s\n' "${p99_list[@]}" | median)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rps" "$p99" "$(peak_rss "${pids[@]}")" "$bad" \
        "$(printf '%s/' "${rps_list[@]}")" >>"$RESULTS"
}

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 0. criterion
# Derivation (derive.rs) and JWT verification (jwt.rs), short settings; the medians are
# read from target/criterion/*/new/estimates.json.
CRIT=$WORK/criterion.tsv
: >"$CRIT"
if [[ -z ${SKIP_CRITERION:-} ]]; then
    log "criterion: derive, jwt"
    for bench in derive jwt; do
        cargo bench --quiet -p blindcast-benches --bench "$bench" -- \
            --warm-up-time 1 --measurement-time 3 --noplot >"$WORK/criterion-$bench.txt" 2>&1
    done
    for f in "$ROOT"/target/criterion/{derive,jwt}/*/new/estimates.json; do
        id=${f#"$ROOT/target/criterion/"}; id=${id%/new/estimates.json}
        ns=$(sed 's/.*"median":{"confidence_interval":{[^}]*},"point_estimate":\([0-9.e+-]*\).*/\1/' "$f")
        printf '%s\t%s\n' "$id" "$ns" >>"$CRIT"
    done
fi

# ---------------------------------------------------------------- 1. nginx
mkdir -p "$WORK/www"
printf '0123456789abcdef' >"$WORK/www/key"
cat >"$WORK/nginx.conf" <<EOF
# Debian's nginx.conf defaults (worker_processes auto, sendfile, tcp_nopush, access log
# on), without the things a static key file does not use; keepalive_requests raised so
# wrk's connections are not closed every 1,000 requests (favours nginx).
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    default_type application/octet-stream;
    access_log $WORK/nginx-access.log;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
    uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
    server {
        listen 127.0.0.1:$P_NGINX;
        root $WORK/www;
        location / { add_header Cache-Control no-store; }
    }
}
EOF
mkdir -p "$WORK/tmp"
nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" 2>/dev/null || nginx -c "$WORK/nginx.conf"
wait_port $P_NGINX
[[ $(curl -s "http://127.0.0.1:$P_NGINX/key") == 0123456789abcdef ]] || { echo "nginx answers wrong" >&2; exit 1; }
NGINX_PIDS=($(pgrep -P "$(cat "$WORK/nginx.pid")") "$(cat "$WORK/nginx.pid")")
WRK_EXTRA=()
load nginx $P_NGINX /key "${NGINX_PIDS[@]}"
kill "$(cat "$WORK/nginx.pid")"; sleep 0.3

# ---------------------------------------------------------------- 2. bare axum
"$BIN/bench-bare-axum" "127.0.0.1:$P_BARE" >/dev/null &
BARE=$!; PIDS+=("$BARE")
wait_port $P_BARE
load bare-axum $P_BARE /key "$BARE"
kill "$BARE"; wait "$BARE" 2>/dev/null || true

# ---------------------------------------------------------------- 3. blindcast-keys serve
export MASTER_KEY=$(printf '0b%.0s' $(seq 1 32))
export SALT=$(printf '5a%.0s' $(seq 1 16))
export JWT_SECRET=bench-secret-of-at-least-thirty-two-bytes!
HS=$("$BIN/bench-tool" mint HS256 env viewer-1 86400)
RS=$("$BIN/bench-tool" mint RS256 "$FIX/rsa-private.pem" viewer-1 86400)
ES=$("$BIN/bench-tool" mint ES256 "$FIX/ec-private.pem" viewer-1 86400)

# serve NAME [VAR=VALUE...]: starts blindcast-keys serve with the base settings (no JWT
# source: the caller adds one; LEASE_TTL only with a lease store, which the server
# refuses otherwise) and records the pid in KEYS.
serve() {
    local name=$1; shift
    env -u JWT_SECRET MASTER_KEY="$MASTER_KEY" SALT="$SALT" BIND=127.0.0.1:$P_KEYS \
        LOG_LEVEL=info LOG_FORMAT=text "$@" \
        "$BIN/blindcast-keys" serve >/dev/null 2>"$WORK/serve-$name.log" &
    KEYS=$!; PIDS+=("$KEYS")
    wait_port $P_KEYS
}
stop_serve() { kill "$KEYS"; wait "$KEYS" 2>/dev/null || true; }
check_key() { # token [extra curl args]
    local token=$1; shift
    local n
    n=$(curl -s -o /dev/null -w '%{http_code}:%{size_download}' -H "Authorization: Bearer $token" "$@" \
        "http://127.0.0.1:$P_KEYS/keys/movie-1")
    [[ $n == 200:16 ]] || { echo "run.sh: key request answered $n" >&2; exit 1; }
}
create_lease() { # token
    curl -sf -X POST -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d '{"contentId":"movie-1"}' "http://127.0.0.1:$P_KEYS/keys/leases" |
        sed -n 's/.*"leaseId":"\([^"]*\)".*/\1/p'
}

serve hs256 JWT_SECRET="$JWT_SECRET"
check_key "$HS"
WRK_EXTRA=(-H "Authorization: Bearer $HS")
load keys-hs256 $P_KEYS /keys/movie-1 "$KEYS"
stop_serve

serve rs256 JWT_PUBLIC_KEY_FILE="$FIX/rsa-public.pem"
check_key "$RS"
WRK_EXTRA=(-H "Authorization: Bearer $RS")
load keys-rs256 $P_KEYS /keys/movie-1 "$KEYS"
stop_serve

serve es256 JWT_PUBLIC_KEY_FILE="$FIX/ec-public.pem"
check_key "$ES"
WRK_EXTRA=(-H "Authorization: Bearer $ES")
load keys-es256 $P_KEYS /keys/movie-1 "$KEYS"
stop_serve

serve sqlite JWT_SECRET="$JWT_SECRET" LEASE_STORE="sqlite:$WORK/leases.db" LEASE_TTL=1h
LEASE=$(create_lease "$HS")
check_key "$HS" -H "X-Blindcast-Lease: $LEASE"
WRK_EXTRA=(-H "Authorization: Bearer $HS" -H "X-Blindcast-Lease: $LEASE")
load keys-hs256-sqlite $P_KEYS /keys/movie-1 "$KEYS"
stop_serve

log "starting PostgreSQL"
PGURL=$(scripts/postgres.sh start "$PGDIR")
PGURL_PLAIN=${PGURL%%\?*}
PG_POSTMASTER=$(head -1 "$(find "$PGDIR" -name postmaster.pid | head -1)")
# Transactions committed in the database so far (queries of the store, the cache's
# listener heartbeats, and this query itself).
pg_xacts() {
    psql -XAtq "$PGURL_PLAIN" -c "select xact_commit from pg_stat_database where datname = current_database()"
}
# A counter of the server's /metrics on PORT.
metric() { # port name
    curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
# The PostgreSQL lease check without the lease-check cache: every key request a query.
serve postgres-uncached JWT_SECRET="$JWT_SECRET" LEASE_STORE="$PGURL" LEASE_TTL=1h LEASE_CACHE=false
LEASE=$(create_lease "$HS")
check_key "$HS" -H "X-Blindcast-Lease: $LEASE"
WRK_EXTRA=(-H "Authorization: Bearer $HS" -H "X-Blindcast-Lease: $LEASE")
load keys-hs256-postgres-uncached $P_KEYS /keys/movie-1 "$KEYS"
stop_serve
# With the cache (the server's default): queries per key request counted by the
# database (committed transactions) and by the store (cache misses), over all repetitions.
serve postgres JWT_SECRET="$JWT_SECRET" LEASE_STORE="$PGURL" LEASE_TTL=1h METRICS=true
LEASE=$(create_lease "$HS")
check_key "$HS" -H "X-Blindcast-Lease: $LEASE"
WRK_EXTRA=(-H "Authorization: Bearer $HS" -H "X-Blindcast-Lease: $LEASE")
XACT0=$(pg_xacts); ISSUED0=$(metric $P_KEYS blindcast_keys_issued_total)
MISSES0=$(metric $P_KEYS blindcast_lease_cache_misses_total)
load keys-hs256-postgres $P_KEYS /keys/movie-1 "$KEYS"
XACT1=$(pg_xacts); ISSUED1=$(metric $P_KEYS blindcast_keys_issued_total)
MISSES1=$(metric $P_KEYS blindcast_lease_cache_misses_total)
HITS1=$(metric $P_KEYS blindcast_lease_cache_hits_total)
PG_KEYS=$((ISSUED1 - ISSUED0))
PG_QUERY_LINE=$(awk -v x=$((XACT1 - XACT0)) -v m=$((MISSES1 - MISSES0)) -v k=$PG_KEYS -v h="$HITS1" -v d="$DURATION" -v r="$REPS" \
    'BEGIN { printf "%d keys served in %d x %s: %d database transactions (%.6f per key), %d cache misses (%.6f per key); %d cache hits in all", k, r, d, x, (k ? x / k : 0), m, (k ? m / k : 0), h }')
PG_RSS=$(peak_rss $(pgrep -P "$PG_POSTMASTER") "$PG_POSTMASTER")
stop_serve
# Two instances sharing the database, each with its cache; one wrk per instance, run at
# the same time with half the connections each; the row is their summed req/s.
P_KEYS2=$((P_KEYS + 10))
serve postgres-a JWT_SECRET="$JWT_SECRET" LEASE_STORE="$PGURL" LEASE_TTL=1h
KEYS_A=$KEYS
env -u JWT_SECRET MASTER_KEY="$MASTER_KEY" SALT="$SALT" BIND=127.0.0.1:$P_KEYS2 \
    LOG_LEVEL=info LOG_FORMAT=text JWT_SECRET="$JWT_SECRET" LEASE_STORE="$PGURL" LEASE_TTL=1h \
    "$BIN/blindcast-keys" serve >/dev/null 2>"$WORK/serve-postgres-b.log" &
KEYS_B=$!; PIDS+=("$KEYS_B")
wait_port $P_KEYS2
LEASE=$(create_lease "$HS")
check_key "$HS" -H "X-Blindcast-Lease: $LEASE"
log "load: keys-hs256-postgres-2-instances ($REPS x 2 wrk -t$THREADS -c$((CONNS / 2)) -d$DURATION at once)"
TWO_LIST=()
for i in $(seq 1 "$REPS"); do
    WRKS=()
    for p in $P_KEYS $P_KEYS2; do
        wrk -t"$THREADS" -c$((CONNS / 2)) -d"$DURATION" --latency -H "Authorization: Bearer $HS" \
            -H "X-Blindcast-Lease: $LEASE" "http://127.0.0.1:$p/keys/movie-1" >"$WORK/wrk-two-$p-$i.txt" 2>&1 &
        WRKS+=($!)
    done
    wait "${WRKS[@]}"
    read -r rps_a p99_a bad_a _ < <(parse_wrk "$WORK/wrk-two-$P_KEYS-$i.txt")
    read -r rps_b p99_b bad_b _ < <(parse_wrk "$WORK/wrk-two-$P_KEYS2-$i.txt")
    TWO_LIST+=("$(awk -v a="$rps_a" -v b="$rps_b" 'BEGIN { printf "%.2f", a + b }')")
    TWO_P99=$(awk -v a="$p99_a" -v b="$p99_b" 'BEGIN { print (a > b ? a : b) }')
    TWO_BAD=$((${TWO_BAD:-0} + bad_a + bad_b))
    echo "   rep $i: $rps_a + $rps_b req/s, p99 $p99_a / $p99_b ms, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
printf '%s\t%s\t%s\t%s\t%s\t%s\n' keys-hs256-postgres-2-instances "$(printf '%s\n' "${TWO_LIST[@]}" | median)" \
    "$TWO_P99" "$(peak_rss "$KEYS_A" "$KEYS_B")" "$TWO_BAD" "$(printf '%s/' "${TWO_LIST[@]}")" >>"$RESULTS"
kill "$KEYS_B"; wait "$KEYS_B" 2>/dev/null || true
stop_serve

serve epoch JWT_SECRET="$JWT_SECRET"
WRK_EXTRA=(-H "Authorization: Bearer $HS" -s "$ROOT/benches/http/epoch.lua")
load keys-hs256-epoch-100k-ids $P_KEYS /keys/title-1/1000 "$KEYS"
AUDIT_LINES=$(grep -c 'blindcast_keys::audit' "$WORK/serve-epoch.log" || true)
stop_serve

# ---------------------------------------------------------------- 4. lease creates
LEASES=$WORK/leases.tsv  # what clients ops_per_s p99_ms
: >"$LEASES"
lease_run() { # name clients command...
    local name=$1 clients=$2; shift 2
    local list=() p99s=() i line
    log "lease creates: $name, $clients client(s)"
    for i in $(seq 1 "$REPS"); do
        line=$("$@")
        echo "   rep $i: $line, load $(cut -d' ' -f1 /proc/loadavg)" >&2
        list+=("$(sed -n 's/.*ops_per_s=\([0-9.]*\).*/\1/p' <<<"$line")")
        p99s+=("$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")")
    done
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$clients" "$(printf '%s\n' "${list[@]}" | median)" \
        "$(printf '%s\n' "${p99s[@]}" | median)" "$(printf '%s/' "${list[@]}")" >>"$LEASES"
}
pgbench_line() { # clients → same format as bench-tool
    local out
    out=$(pgbench -n -M prepared -f benches/pgbench/lease_create.sql -c "$1" -j "$(( $1 < 2 ? 1 : 2 ))" \
        -T "$LEASE_SECONDS" -r "$PGURL_PLAIN" 2>&1)
    local tps lat
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
    echo "ops_per_s=$tps p99_ms=n/a (avg ${lat} ms)"
}
if [[ -z ${SKIP_LEASES:-} ]]; then
    for c in 1 8; do
        rm -f "$WORK"/lease-store*.db*
        lease_run sqlite-store $c "$BIN/bench-tool" lease-load "sqlite:$WORK/lease-store-$c.db" $c "$LEASE_SECONDS"
        lease_run sqlite-direct $c "$BIN/bench-tool" lease-load "sqlite-direct:$WORK/lease-direct-$c.db" $c "$LEASE_SECONDS"
    done
    # The store creates the bench_pg_ tables pgbench writes to.
    for c in 1 8; do
        lease_run postgres-store $c "$BIN/bench-tool" lease-load "$PGURL" $c "$LEASE_SECONDS"
        lease_run postgres-pgbench $c pgbench_line $c
    done
fi
# Criterion: every store operation (create, renew, check) with 1 and 8 clients, for
# SQLite (synchronous FULL and NORMAL) and PostgreSQL; short settings. ops/s is the
# benchmark's element throughput (benchmark.json) over its median time per iteration.
LEASE_CRIT=$WORK/lease-criterion.tsv
: >"$LEASE_CRIT"
if [[ -z ${SKIP_CRITERION:-} ]]; then
    log "criterion: lease_sqlite, lease_postgres"
    rm -rf "$ROOT"/target/criterion/lease_{sqlite_full,sqlite_normal,postgres}
    cargo bench --quiet -p blindcast-benches --bench lease_sqlite -- \
        --warm-up-time 1 --measurement-time 3 --noplot >"$WORK/criterion-lease_sqlite.txt" 2>&1
    BLINDCAST_TEST_DATABASE_URL=$PGURL cargo bench --quiet -p blindcast-benches --bench lease_postgres -- \
        --warm-up-time 1 --measurement-time 3 --noplot >"$WORK/criterion-lease_postgres.txt" 2>&1
    for f in "$ROOT"/target/criterion/lease_{sqlite_full,sqlite_normal,postgres}/*/*/new/estimates.json; do
        [[ -f $f ]] || continue
        id=${f#"$ROOT/target/criterion/"}; id=${id%/new/estimates.json}
        ns=$(sed 's/.*"median":{"confidence_interval":{[^}]*},"point_estimate":\([0-9.e+-]*\).*/\1/' "$f")
        elems=$(sed -n 's/.*"throughput":{"Elements":\([0-9]*\)}.*/\1/p' "${f%estimates.json}benchmark.json")
        printf '%s\t%s\t%s\n' "$id" "$ns" "${elems:-1}" >>"$LEASE_CRIT"
    done
fi
scripts/postgres.sh stop "$PGDIR" >/dev/null 2>&1 || true

# ---------------------------------------------------------------- 5. Lambda
LAMBDA_LINE="skipped"; ZIP_BYTES=0; ZIP_STRIPPED=0
if [[ -z ${SKIP_LAMBDA:-} ]]; then
    log "Lambda cold start (keys-lambda/tests/runtime_api.rs, release)"
    LAMBDA_LINE=$(cargo test --quiet -p blindcast-keys-lambda --release --test runtime_api \
        cold_start -- --nocapture 2>&1 | grep 'cold start' || echo "failed")
    cp "$BIN/bootstrap" "$WORK/bootstrap"
    (cd "$WORK" && zip -q -9 bootstrap.zip bootstrap)
    ZIP_BYTES=$(stat -c %s "$WORK/bootstrap.zip")
    mkdir -p "$WORK/stripped"
    strip -o "$WORK/stripped/bootstrap" "$BIN/bootstrap"
    (cd "$WORK/stripped" && zip -q -9 bootstrap.zip bootstrap)
    ZIP_STRIPPED=$(stat -c %s "$WORK/stripped/bootstrap.zip")
fi

# ---------------------------------------------------------------- report
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
NGINX_RPS=$(awk -F'\t' '$1 == "nginx" {print $2}' "$RESULTS")
BARE_RPS=$(awk -F'\t' '$1 == "bare-axum" {print $2}' "$RESULTS")
HS_RPS=$(awk -F'\t' '$1 == "keys-hs256" {print $2}' "$RESULTS")
{
    echo "# Load benchmark run ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "Produced by \`benches/http/run.sh\` (DURATION=$DURATION REPS=$REPS CONNS=$CONNS THREADS=$THREADS"
    echo "LEASE_SECONDS=$LEASE_SECONDS). Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1),"
    echo "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), $(uname -sr), $(rustc --version),"
    echo "$(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(pgbench --version)."
    echo "Load average (1/5/15 min) at start: $LOADAVG_START; at end: $LOADAVG_END."
    echo
    if [[ -s $CRIT ]]; then
        echo "## Criterion (median ns per operation; warm-up 1 s, 3 s measurement)"
        echo
        echo "| bench | ns | × floor |"
        echo "|---|---:|---:|"
        awk -F'\t' '{ id[NR] = $1; ns[NR] = $2; if ($1 ~ /floor/) floor = $2 }
            END { for (i = 1; i <= NR; i++) {
                    f = (id[i] ~ /^derive/ && floor > 0) ? sprintf("%.2f", ns[i] / floor) : ""
                    printf "| %s | %.1f | %s |\n", id[i], ns[i], f } }' "$CRIT"
        echo
    fi
    echo "## HTTP: wrk -t$THREADS -c$CONNS -d$DURATION, median of $REPS"
    echo
    echo "| server / route | req/s | × nginx | × bare axum | × HS256 key | p99 ms | peak RSS MiB | runs (req/s) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' -v n="$NGINX_RPS" -v b="$BARE_RPS" -v h="$HS_RPS" '{
        bad = ($5 > 0) ? sprintf(" (%d non-2xx!)", $5) : ""
        printf "| %s%s | %.0f | %.2f | %.2f | %.2f | %.2f | %.1f | %s |\n", $1, bad, $2, $2 / n, $2 / b, $2 / h, $3, $4 / 1024, $6
    }' "$RESULTS"
    echo
    echo "PostgreSQL server processes' peak RSS during the PostgreSQL lease-check load: $((${PG_RSS:-0} / 1024)) MiB (summed VmHWM, shared buffers counted per process)."
    echo "PostgreSQL queries per key request with the lease-check cache (keys-hs256-postgres): ${PG_QUERY_LINE:-not measured}."
    echo "keys-hs256-postgres-2-instances: two servers sharing the database, one wrk each at the same time (-c$((CONNS / 2)) each); req/s summed, p99 the larger, RSS summed."
    echo "Audit events logged during the epoch-route load: ${AUDIT_LINES:-0} (one per key)."
    echo
    if [[ -s $LEASES ]]; then
        echo "## Lease creates/s: $LEASE_SECONDS s per run after 1 s warm-up, median of $REPS"
        echo
        echo "| what | clients | creates/s | × reference | p99 ms | runs |"
        echo "|---|---:|---:|---:|---:|---|"
        awk -F'\t' '
            { name[NR] = $1; cl[NR] = $2; ops[NR] = $3; p99[NR] = $4; runs[NR] = $5
              if ($1 ~ /direct|pgbench/) { ref[substr($1, 1, index($1, "-") - 1), $2] = $3 } }
            END {
                # SQLite commits one writer at a time: its reference is the better of the
                # direct transaction with 1 and with N connections.
                for (i = 1; i <= NR; i++) {
                    db = substr(name[i], 1, index(name[i], "-") - 1)
                    r = ref[db, cl[i]]
                    if (db == "sqlite" && ref[db, 1] > r) r = ref[db, 1]
                    printf "| %s | %d | %.0f | %.2f | %s | %s |\n", name[i], cl[i], ops[i], (r > 0 ? ops[i] / r : 0), p99[i], runs[i]
                }
            }' "$LEASES"
        echo
    fi
    if [[ -s $LEASE_CRIT ]]; then
        echo "## Lease store operations (criterion, median; warm-up 1 s, 3 s measurement)"
        echo
        echo "| bench | ops/s | µs per operation per client |"
        echo "|---|---:|---:|"
        awk -F'\t' '{
            split($1, p, "/"); clients = p[3]
            ops = $3 * 1e9 / $2
            printf "| %s | %.0f | %.1f |\n", $1, ops, clients * 1e6 / ops
        }' "$LEASE_CRIT"
        echo
    fi
    echo "## Lambda"
    echo
    echo "- $LAMBDA_LINE"
    echo "- \`bootstrap\` zipped (deflate -9): $ZIP_BYTES bytes; stripped and zipped: $ZIP_STRIPPED bytes."
} >"$OUT"
cp "$WORK/raw-wrk.txt" "${OUT%.md}-wrk.txt" 2>/dev/null || true
cat "$OUT"

#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for the tests and benchmarks.
#
#   scripts/postgres.sh start DIR   create a cluster in DIR, start it on 127.0.0.1 (first
#                                   free port from 55432 up), create database
#                                   blindcast_test, print its URL (the only stdout line)
#   scripts/postgres.sh start-tls DIR   the same, but fails unless TLS is on (openssl
#                                   is needed): for the tests of the TLS modes
#   scripts/postgres.sh stop DIR    stop the cluster fast and remove DIR
#
# Runs as root (the server runs as the `postgres` user via runuser: initdb refuses root)
# or as an ordinary user (runs directly). TLS is on with a self-signed certificate when
# openssl is available, so `sslmode=require` can be tested; plain connections still work.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start DIR | start-tls DIR | stop DIR"; }

find_bin() {
    local name=$1 dir
    if command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
        return 0
    fi
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$dir" && -x "$dir/$name" ]]; then
        echo "$dir/$name"
        return 0
    fi
    return 1
}

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_free() {
    # Free when nothing accepts a TCP connection on it.
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A test CA and a server certificate it signed (localhost, 127.0.0.1), so tests can use
# sslmode=require and sslmode=verify-full with sslrootcert=DATA/blindcast-test-ca.crt.
make_certs() {
    local data=$1 ext
    ext=$(mktemp)
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
        "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$ext"
    openssl req -new -x509 -days 30 -nodes -subj "/CN=blindcast test CA" \
        -keyout "$data/blindcast-test-ca.key" -out "$data/blindcast-test-ca.crt" &&
        openssl req -new -nodes -subj "/CN=localhost" \
            -keyout "$data/server.key" -out "$data/server.csr" &&
        openssl x509 -req -in "$data/server.csr" -CA "$data/blindcast-test-ca.crt" \
            -CAkey "$data/blindcast-test-ca.key" -CAcreateserial -days 30 \
            -extfile "$ext" -out "$data/server.crt"
    local rc=$?
    rm -f "$ext"
    [[ $rc -eq 0 ]] || return 1
    chmod 600 "$data/server.key" "$data/blindcast-test-ca.key"
    chmod 644 "$data/blindcast-test-ca.crt"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$data"/server.* "$data"/blindcast-test-ca.*
    fi
}

start() {
    local dir=$1 tls=${2:-optional} initdb pg_ctl psql port
    initdb=$(find_bin initdb) || die "PostgreSQL is not installed (apt-get install postgresql)"
    pg_ctl=$(dirname "$initdb")/pg_ctl
    [[ -x "$pg_ctl" ]] || die "PostgreSQL is not installed (apt-get install postgresql): no pg_ctl beside $initdb"
    psql=$(dirname "$initdb")/psql
    [[ -x "$psql" ]] || psql=$(command -v psql) || die "PostgreSQL is not installed (apt-get install postgresql): no psql"
    if [[ -e "$dir/data" ]]; then
        die "$dir/data already exists (stop it first: $0 stop $dir)"
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user to run the server as (apt-get install postgresql)"
        chown postgres: "$dir"
    fi
    as_pg "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
        || die "initdb failed: see $dir/initdb.log"
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "max_connections = 400"
    } >>"$dir/data/postgresql.conf"
    if command -v openssl >/dev/null 2>&1 && make_certs "$dir/data" >"$dir/openssl.log" 2>&1; then
        echo "ssl = on" >>"$dir/data/postgresql.conf"
    elif [[ $tls == required ]]; then
        command -v openssl >/dev/null 2>&1 || die "TLS needs openssl (apt-get install openssl)"
        die "could not make the test certificates: see $dir/openssl.log"
    fi
    for ((port = 55432; port < 55532; port++)); do
        port_free "$port" || continue
        if as_pg "$pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 start -o "-p $port" >/dev/null 2>&1; then
            as_pg "$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
                -c "CREATE DATABASE blindcast_test" >/dev/null \
                || die "could not create database blindcast_test (see $dir/log)"
            echo "postgres://postgres@127.0.0.1:$port/blindcast_test"
            return 0
        fi
        # Lost a race for the port, or the server failed: the log tells which.
        grep -q "could not bind\|Address already in use" "$dir/log" 2>/dev/null || die "server failed to start: see $dir/log"
    done
    die "no free port in 55432-55531"
}

stop() {
    local dir=$1 initdb pg_ctl
    [[ -d "$dir" ]] || return 0
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        initdb=$(find_bin initdb) || die "PostgreSQL is not installed (apt-get install postgresql)"
        pg_ctl=$(dirname "$initdb")/pg_ctl
        as_pg "$pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

[[ $# -eq 2 ]] || usage
case $1 in
    start) start "$2" ;;
    start-tls) start "$2" required ;;
    stop) stop "$2" ;;
    *) usage ;;
esac

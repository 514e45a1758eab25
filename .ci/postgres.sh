#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests of distributed search (tests/test_search.py).
#
# Installs Debian's postgresql package when it is missing, creates a cluster in
# a temporary folder, starts it on 127.0.0.1 (port NETC_PG_PORT, default 54329),
# creates a database, and prints the URL the tests read:
#
#     export NETC_TEST_POSTGRES_URL=postgresql://netc:netc@127.0.0.1:54329/netc_test
#
# Use it as:  eval "$(bash .ci/postgres.sh)"   (everything else goes to stderr)
# Stop it with:  bash .ci/postgres.sh stop
set -euo pipefail

PORT="${NETC_PG_PORT:-54329}"
DATA="${NETC_PG_DATA:-/tmp/netc-postgres-$PORT}"
USER_NAME=netc
DB=netc_test

log() { echo "postgres.sh: $*" >&2; }

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$dir" ] && echo "$dir"
}

run_as_postgres() {
    # initdb and postgres refuse to run as root
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/bash -c "$*"
    else
        bash -c "$*"
    fi
}

if [ "${1:-}" = "stop" ]; then
    BIN=$(bindir) || true
    if [ -n "${BIN:-}" ] && [ -f "$DATA/postmaster.pid" ]; then
        run_as_postgres "'$BIN/pg_ctl' -D '$DATA' -m fast stop" >&2 || true
    fi
    exit 0
fi

if [ -z "$(bindir)" ]; then
    log "installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
BIN=$(bindir)

if [ ! -f "$DATA/PG_VERSION" ]; then
    log "creating a cluster in $DATA"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
    PWFILE=$(mktemp)
    echo "$USER_NAME" > "$PWFILE"
    chmod 644 "$PWFILE"
    run_as_postgres "'$BIN/initdb' -D '$DATA' -U '$USER_NAME' --pwfile='$PWFILE' -A scram-sha-256 -E UTF8" >&2
    rm -f "$PWFILE"
fi

if ! run_as_postgres "'$BIN/pg_ctl' -D '$DATA' status" >/dev/null 2>&1; then
    log "starting the server on 127.0.0.1:$PORT"
    run_as_postgres "'$BIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -t 60 \
        -o \"-h 127.0.0.1 -p $PORT -k '$DATA' -c max_connections=200 -c fsync=off\" start" >&2
fi

export PGPASSWORD="$USER_NAME"
if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -qc "CREATE DATABASE $DB" >&2
fi
log "ready"
echo "export NETC_TEST_POSTGRES_URL=postgresql://$USER_NAME:$USER_NAME@127.0.0.1:$PORT/$DB"

#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests and benchmarks of the PostgreSQL backend, on loopback only.
#   scripts/pg.sh start   start it (idempotent) and print its URL: postgres://idv@127.0.0.1:PORT/postgres
#   scripts/pg.sh url     print the URL of the running cluster
#   scripts/pg.sh createdb  start it if needed, create a new empty database and print its URL
#   scripts/pg.sh stop    stop it
# The cluster lives in target/pg (IDV_PG_DIR to move it), port 54329 unless IDV_PG_PORT says otherwise. initdb
# refuses to run as root, so as root the cluster belongs to the postgres user. It is tuned for tests (fsync stays
# on: the crash tests rely on acknowledged commits being durable) and trusts local connections.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${IDV_PG_DIR:-$root/target/pg}"
port="${IDV_PG_PORT:-54329}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -x "$bin/initdb" ]] || { echo "pg.sh: no PostgreSQL server found; run scripts/setup-system.sh" >&2; exit 1; }
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
url="postgres://idv@127.0.0.1:$port/postgres"
case "${1:-start}" in
start)
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        mkdir -p "$dir"
        [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
        as_owner "$bin/initdb" -D "$dir/data" -U idv -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=128MB" \
            start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    echo "$url"
    ;;
url) echo "$url" ;;
createdb)
    "$0" start >/dev/null
    name="idv_$(date +%s)_$RANDOM"
    "$bin/psql" -q "$url" -c "CREATE DATABASE $name" >/dev/null
    echo "${url%/*}/$name"
    ;;
stop) as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true ;;
*) echo "usage: scripts/pg.sh start|url|createdb|stop" >&2; exit 2 ;;
esac

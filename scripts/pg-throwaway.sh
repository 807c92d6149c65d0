#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback, trust auth, for tests and the demo.
# Usage: scripts/pg-throwaway.sh start DIR [PORT] | stop DIR   (no PORT: the first free one from 54329)
# Prints the DSN on start.
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail

action=${1:?usage: pg-throwaway.sh start DIR PORT | stop DIR}
dir=${2:?missing DIR}
port=${3:-$("$(dirname "$0")/free-port.sh" 54329)}

pg_bin() {
    local name=$1
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    [[ -n "$found" ]] || { echo "pg-throwaway: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
    echo "$found/$name"
}

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "$action" in
start)
    initdb=$(pg_bin initdb)
    pg_ctl=$(pg_bin pg_ctl)
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
    if [[ ! -f "$dir/PG_VERSION" ]]; then
        as_owner "$initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
            || { cat "$dir.initdb.log" >&2; exit 1; }
    fi
    as_owner "$pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=200" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    pg_ctl=$(pg_bin pg_ctl)
    as_owner "$pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: pg-throwaway.sh start DIR PORT | stop DIR" >&2; exit 2;;
esac

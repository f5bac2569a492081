#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: `start STATE_DIR` runs initdb and pg_ctl
# (as the postgres user when run as root: initdb refuses root) in a new temp dir, on a
# free 127.0.0.1 port, with fsync off (test data only), and writes the admin URL to
# STATE_DIR/url; `stop STATE_DIR` stops it and removes its files (idempotent);
# `pause STATE_DIR` stops the server keeping its data and `resume STATE_DIR` starts it
# again on the same port (outage tests).
set -euo pipefail

command=${1:?usage: postgres_server.sh start|stop STATE_DIR}
state=${2:?usage: postgres_server.sh start|stop STATE_DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x "$bin/initdb" ]] || { echo "postgres_server: no PostgreSQL server installed (scripts/install_deps.sh)" >&2; exit 1; }

as_postgres() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
  [[ -f "$state/root" ]] || return 0
  local root
  root=$(cat "$state/root")
  as_postgres "$bin/pg_ctl" -D "$root/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$root"
  rm -f "$state/root" "$state/url" "$state/port"
}

start_server() {
  local root port
  root=$(cat "$state/root")
  port=$(cat "$state/port")
  as_postgres "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$root -c fsync=off -c max_connections=200" \
    start >/dev/null
}

case $command in
  pause) as_postgres "$bin/pg_ctl" -D "$(cat "$state/root")/data" -m fast -w stop >/dev/null ;;
  resume) start_server ;;
  start)
    stop
    mkdir -p "$state"
    root=$(mktemp -d /tmp/mg-postgres.XXXXXX)
    ((EUID == 0)) && chown postgres: "$root"
    echo "$root" >"$state/root"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$bin/initdb" -D "$root/data" -U postgres --auth=trust -E UTF8 --no-sync >"$root/initdb.log"
    echo "$port" >"$state/port"
    start_server
    echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$state/url"
    echo "postgres_server: $(cat "$state/url") (data in $root)"
    ;;
  stop) stop ;;
  *) echo "usage: postgres_server.sh start|stop|pause|resume STATE_DIR" >&2; exit 2 ;;
esac

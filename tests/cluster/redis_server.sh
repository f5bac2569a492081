#!/usr/bin/env bash
# A throwaway redis-server for the tests: `start STATE_DIR` runs one on a free 127.0.0.1
# port in a new temp dir (no persistence: test data only) and writes its URL to
# STATE_DIR/url; `stop STATE_DIR` stops it and removes its files (idempotent);
# `pause STATE_DIR` stops it and `resume STATE_DIR` starts it again on the same port
# (outage tests; what it held is gone, as after a crash without persistence).
set -euo pipefail

command=${1:?usage: redis_server.sh start|stop|pause|resume STATE_DIR}
state=${2:?usage: redis_server.sh start|stop|pause|resume STATE_DIR}
command -v redis-server >/dev/null || { echo "redis_server: redis-server is not installed (scripts/install_deps.sh)" >&2; exit 1; }

start_server() {
  local root port
  root=$(cat "$state/root")
  port=$(cat "$state/port")
  redis-server --bind 127.0.0.1 --port "$port" --dir "$root" --save '' --appendonly no \
    --daemonize yes --pidfile "$root/redis.pid" --logfile "$root/redis.log" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "redis_server: redis-server did not answer on port $port" >&2
  return 1
}

halt() {
  local root
  root=$(cat "$state/root")
  [[ -f "$root/redis.pid" ]] || return 0
  local pid
  pid=$(cat "$root/redis.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  rm -f "$root/redis.pid"
}

case $command in
  start)
    [[ -f "$state/root" ]] && { halt; rm -rf "$(cat "$state/root")"; }
    mkdir -p "$state"
    root=$(mktemp -d /tmp/mg-redis.XXXXXX)
    echo "$root" >"$state/root"
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' >"$state/port"
    start_server
    echo "redis://127.0.0.1:$(cat "$state/port")/0" >"$state/url"
    echo "redis_server: $(cat "$state/url")"
    ;;
  stop)
    [[ -f "$state/root" ]] || exit 0
    halt
    rm -rf "$(cat "$state/root")"
    rm -f "$state/root" "$state/url" "$state/port"
    ;;
  pause) halt ;;
  resume) start_server ;;
  *) echo "usage: redis_server.sh start|stop|pause|resume STATE_DIR" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Resident memory per open keep-alive connection that has carried a request, each build's
# server in turn (connection_memory.py; ROUNDS measurements on the same server, the first
# one including the allocator's growth).
# usage: bench/gateway/connection_memory.sh BUILD_DIR [BUILD_DIR...]  (CONNECTIONS=2000 ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/../.."
((${#@})) || { echo "usage: $0 BUILD_DIR [BUILD_DIR...]" >&2; exit 2; }
connections=${CONNECTIONS:-2000} rounds=${ROUNDS:-2}
# shellcheck source=work_dir.sh
source bench/gateway/work_dir.sh
for build in "$@"; do
  data=$work/data-${#pids[@]}
  "$build/gateway/modelgate" init --data-dir "$data" >/dev/null
  serve_data "$build" "$data"
  echo "== $build"
  for _ in $(seq 1 "$rounds"); do
    /usr/bin/python3 bench/gateway/connection_memory.py "$port" "${pids[-1]}" "$connections"
  done
  kill "${pids[-1]}"
done

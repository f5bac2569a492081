#!/usr/bin/env bash
# What a shadow costs the callers, over HTTPS with wrk (docs/evaluation.md "Shadow"): the
# Fashion-MNIST MLP (batch-1 KServe JSON, default config, access log off) with its shadow
# off, copying 10 % and copying 100 % of requests to an identical version 2 — alternated,
# ROUNDS rounds, at two loads: 1 connection (the server mostly idle between requests) and
# 64 connections (both cores saturated). Prints each run's req/s, p50, p99 and what the
# shadow ran and dropped during it.
# usage: bench/gateway/shadow_latency.sh [BUILD_DIR] [SECONDS_PER_RUN] [ROUNDS] [CONNECTIONS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
duration=${2:-10}
rounds=${3:-3}
loads=("${@:4}")
((${#loads[@]})) || loads=(1 64)

command -v wrk >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}
cmake --build "$build" --target modelgate mg_cpu >/dev/null

# shellcheck source=work_dir.sh
source bench/gateway/work_dir.sh
modelgate=$build/gateway/modelgate
data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
key=$(cat "$data/admin.key")
"$modelgate" import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx --promote >/dev/null
"$modelgate" import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx >/dev/null # version 2

printf 'access_log = "off"\n' >"$work/modelgate.toml"
"$modelgate" serve --data-dir "$data" --config "$work/modelgate.toml" --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --plugin-dir "$build/plugins" >"$work/serve.log" 2>&1 &
pids+=($!)
port=$(https_port_of "$work/serve.log")
mg=https://127.0.0.1:$port

admin() { curl -sk -X "$1" -H "Authorization: Bearer $key" "$mg/admin/v1/models/fashion-mlp/shadow" ${2:+-d "$2"}; }
shadow() {
  case $1 in
    off) admin DELETE >/dev/null ;;
    *) admin PUT "{\"version\": 2, \"share\": $1}" >/dev/null ;;
  esac
}
# The comparison's "requests dropped" so far (0 0 when no shadow is set).
shadow_counts() {
  admin GET | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["comparison"] or {}
print(c.get("requests", 0), c.get("dropped", 0))'
}

run() {
  local connections=$1 mode=$2 before after line
  shadow "$mode"
  sleep 0.5
  before=$(shadow_counts)
  line=$(BODY=examples/requests/fashion-mlp.json KEY="$key" \
    wrk -t"$((connections < 2 ? 1 : 2))" -c"$connections" -d"${duration}s" \
    -s bench/gateway/post.lua "$mg/v2/models/fashion-mlp/infer" | grep '^RESULT')
  sleep 1  # the copies still waiting run
  after=$(shadow_counts)
  read -r ran0 dropped0 <<<"$before"
  read -r ran1 dropped1 <<<"$after"
  # A new shadow (off → on) starts counting again: the version was loaded anew.
  ((ran1 < ran0)) && ran0=0 dropped0=0
  echo "c=$connections shadow=$mode ${line#RESULT } shadow_ran=$((ran1 - ran0)) shadow_dropped=$((dropped1 - dropped0))"
}

echo "wrk over TLS, ${duration}s per run, $rounds rounds alternated; $(nproc) cores, $(date -u +%F)"
for round in $(seq 1 "$rounds"); do
  for connections in "${loads[@]}"; do
    for mode in off 0.1 1; do run "$connections" "$mode"; done
  done
done

#!/usr/bin/env bash
# One replica in cluster mode (registry in PostgreSQL, limits in Redis: one EVALSHA per
# request) against the embedded mode (SQLite, in-process limits), same data, same key,
# alternating in one run: MLP batch-1 JSON over TLS with wrk (2 threads, 64 connections),
# then the same at 1 connection for the admit step's added p50 latency, then Redis's own
# INFO commandstats for the round trips per request. The key has a rate limit and its
# tenant a quota, so every step of the admit path runs in both modes.
# MG_BENCH_NO_REDIS=1: the replica without Redis (PostgreSQL alone). MG_BENCH_ALT_BINARY=PATH:
# each round also runs the cluster mode with that modelgate binary (a same-run A/B).
# usage: bench/gateway/cluster_overhead.sh [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
rounds=${2:-3}
cmake --build build --target modelgate mgctl mg_cpu >/dev/null

work=$(mktemp -d)
pid=
trap 'if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  tests/cluster/redis_server.sh stop "$work/redis" >/dev/null 2>&1 || true
  tests/cluster/postgres_server.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"' EXIT
tests/cluster/postgres_server.sh start "$work/pg" >/dev/null
tests/cluster/redis_server.sh start "$work/redis" >/dev/null
pg=$(cat "$work/pg/url") redis=$(cat "$work/redis/url")

data=$work/data
build/gateway/modelgate init --data-dir "$data" >/dev/null
admin=$(cat "$data/admin.key")
build/gateway/modelgate import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx \
  --config '{"max_batch_size": 64, "instances": 2}' --promote >/dev/null

binary=build/gateway/modelgate
serve() {  # serve [FLAGS…]: starts the server on $data or the replica dir, sets pid and port
  local log=$work/serve.log
  : >"$log"
  "$binary" serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --plugin-dir build/plugins --config <(echo 'access_log = "off"') "$@" >"$log" 2>&1 &
  pid=$!
  until grep -q 'listening on' "$log"; do sleep 0.1; done
  port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
}
stop() { kill "$pid"; wait "$pid" || true; pid=; }

serve --data-dir "$data"
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$admin
build/admin/mgctl tenant create bench --quota 1000000000/month >/dev/null
key=$(build/admin/mgctl --json key create --tenant bench --rate 1000000/s |
  sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
stop
# The same registry, copied into PostgreSQL; the replica's own dir holds only its cache.
build/gateway/modelgate migrate-to-postgres --data-dir "$data" --postgres "$pg" >/dev/null
mkdir -p "$work/replica/tls" && cp "$data/tls/"*.pem "$work/replica/tls/"
embedded=(--data-dir "$data")
cluster=(--data-dir "$work/replica" --postgres "$pg" --master-key "$data/master.key")
[[ ${MG_BENCH_NO_REDIS:-0} == 1 ]] || cluster+=(--redis "$redis")

run() {  # run CONNECTIONS MODE_FLAGS…: the RESULT line of one wrk run
  local connections=$1
  shift
  serve "$@"
  BODY=examples/requests/fashion-mlp.json KEY=$key wrk -t"$((connections < 2 ? 1 : 2))" -c"$connections" -d"${duration}s" \
    -s bench/gateway/post.lua "https://127.0.0.1:$port/v2/models/fashion-mlp/infer" | grep '^RESULT'
  stop
}
alt() {  # alt CONNECTIONS: the cluster run with the alternative binary, if one is given
  [[ -n ${MG_BENCH_ALT_BINARY:-} ]] || return 0
  binary=$MG_BENCH_ALT_BINARY
  echo "round $r cluster-alt c$1 $(run "$1" "${cluster[@]}")"
  binary=build/gateway/modelgate
}
for r in $(seq 1 "$rounds"); do
  echo "round $r embedded c64 $(run 64 "${embedded[@]}")"
  echo "round $r cluster  c64 $(run 64 "${cluster[@]}")"
  alt 64
done
for r in $(seq 1 "$rounds"); do
  echo "round $r embedded c1  $(run 1 "${embedded[@]}")"
  echo "round $r cluster  c1  $(run 1 "${cluster[@]}")"
  alt 1
done
redis-cli -u "$redis" CONFIG RESETSTAT >/dev/null
out=$(run 64 "${cluster[@]}")
requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out")
stats=$(redis-cli -u "$redis" INFO commandstats)
evalsha=$(sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p' <<<"$stats")
usec=$(sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\),.*/\1/p' <<<"$stats")
# Socket reads Redis made (every client, redis-cli's own included): how many commands
# one write from the replica carries.
reads=$(redis-cli -u "$redis" INFO stats | sed -n 's/^total_reads_processed:\([0-9]*\).*/\1/p')
echo "redis: $requests requests, $evalsha EVALSHA calls from clients ($(awk -v e="$evalsha" -v r="$requests" 'BEGIN { printf "%.3f", e / r }') per request, $usec us each inside Redis), $reads socket reads ($(awk -v e="$evalsha" -v r="$reads" 'BEGIN { printf "%.2f", e / r }') calls per read); all commands incl. the script's:"
grep '^cmdstat' <<<"$stats" | sed 's/^/  /'

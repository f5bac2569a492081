#!/usr/bin/env bash
# gRPC against HTTP on the same server, in the same run: the Fashion-MNIST MLP at batch 1
# imported as a new user does (no scheduling option), the access log on as it ships, 64
# connections (wrk, 2 threads) or 64 calls in flight over 2 HTTP/2 connections (2 threads),
# all on the same 2 cores over TLS. Rows: HTTP KServe v2 JSON, HTTP binary tensor
# extension, gRPC ModelInfer with raw_input_contents sent by two load generators: grpc_load
# (gRPC's own C++ client, as a Triton client would call) and h2load (nghttp2's HTTP/2 load
# generator posting the same framed message: as cheap per call as wrk is for HTTP/1.1, so
# the server, not the client, sets the pace). Every row also gives the server's CPU time
# per request (/proc/PID/stat around the run). Three rounds, alternating; prints every
# RESULT line and the medians.
# usage: bench/grpc/run.sh [BUILD_DIR] [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
duration=${2:-10}
rounds=${3:-3}
cmake --build "$build" --target modelgate mg_cpu grpc_load >/dev/null
# shellcheck source=../gateway/work_dir.sh
source bench/gateway/work_dir.sh

/usr/bin/python3 bench/gateway/make_inputs.py "$work" examples >/dev/null
bench/grpc/make_request.sh "$work"
modelgate=$build/gateway/modelgate
data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
key=$(cat "$data/admin.key")
"$modelgate" import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx --promote >/dev/null
printf 'access_log = "%s"\n' "${MG_ACCESS_LOG:-stdout}" >"$work/modelgate.toml"
"$modelgate" serve --data-dir "$data" --config "$work/modelgate.toml" --listen 127.0.0.1:0 \
  --grpc-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --plugin-dir "$build/plugins" \
  >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
grpc_port=$(sed -n 's/^grpc on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/serve.log")
[[ -n "$port" && -n "$grpc_port" ]] || { cat "$work/serve.log"; exit 1; }

url=https://127.0.0.1:$port/v2/models/fashion-mlp/infer
server_pid=${pids[-1]}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
declare -A rps p99 cpu
run() {  # run NAME: one measurement, its RESULT line kept
  local line before
  before=$(cpu_ticks)
  case $1 in
    http-json) line=$(BODY=examples/requests/fashion-mlp.json KEY=$key \
      wrk -t2 -c64 -d"${duration}s" -s bench/gateway/post.lua "$url" | grep '^RESULT') ;;
    http-binary) line=$(BODY=$work/mlp.bin HEADER_LENGTH=$(cat "$work/mlp.bin.len") \
      CONTENT_TYPE=application/octet-stream KEY=$key \
      wrk -t2 -c64 -d"${duration}s" -s bench/gateway/post.lua "$url" | grep '^RESULT') ;;
    grpc-raw) line=$("$build/bench/grpc_load" "127.0.0.1:$grpc_port" "$data/tls/cert.pem" "$key" \
      "$work/mlp.grpc" 64 "$duration" 2 | grep '^RESULT') ;;
    grpc-raw-h2load) line=$(h2load_run) ;;
  esac
  local requests
  requests=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
  local us
  us=$(awk -v t="$(($(cpu_ticks) - before))" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  echo "$1 ${line#RESULT } server_cpu_us_per_request=$us"
  rps[$1]+="$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line") "
  p99[$1]+="$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line") "
  cpu[$1]+="$us "
}
# h2load: 2 connections of 32 streams; each call's status and time from its log. A call
# answered with a gRPC error still has HTTP status 200, so the server's own count of
# failed inferences is checked after the runs.
h2load_run() {
  rm -f "$work/h2load.log"
  h2load -D "$duration" -c 2 -m 32 -t 2 -d "$work/mlp.grpc.frame" \
    -H 'content-type: application/grpc' -H 'te: trailers' -H "authorization: Bearer $key" \
    --log-file "$work/h2load.log" \
    "https://127.0.0.1:$grpc_port/inference.GRPCInferenceService/ModelInfer" >/dev/null
  local requests bad p99_ms
  requests=$(wc -l <"$work/h2load.log")
  bad=$(awk '$2 != 200' "$work/h2load.log" | wc -l)
  p99_ms=$(awk '{ print $3 / 1000 }' "$work/h2load.log" | sort -g |
    awk -v n="$requests" 'NR == int(n * 0.99) { print }')
  echo "RESULT rps=$((requests / duration)) p99_ms=$p99_ms requests=$requests errors=$bad"
}
rows=(http-json http-binary grpc-raw grpc-raw-h2load)
for _ in $(seq 1 "$rounds"); do
  for name in "${rows[@]}"; do run "$name"; done
done
metrics_port=$(sed -n 's/.*metrics on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
failed=$(curl -s "http://127.0.0.1:$metrics_port/metrics" |
  awk '/^modelgate_inference_requests_total/ && !/outcome="ok"/ { n += $2 } END { print n + 0 }')
echo "inference requests not ok (all rows): $failed"
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo
echo "medians of $rounds, ${duration} s each, 64 in flight, $(nproc) cores, $(date -u +%F):"
for name in "${rows[@]}"; do
  echo "$name: $(median "${rps[$name]}") req/s, p99 $(median "${p99[$name]}") ms," \
    "server CPU $(median "${cpu[$name]}") µs/request"
done
awk -v g="$(median "${rps[grpc-raw]}")" -v h="$(median "${rps[grpc-raw-h2load]}")" \
  -v b="$(median "${rps[http-binary]}")" -v j="$(median "${rps[http-json]}")" \
  'BEGIN { printf "gRPC raw / HTTP binary: %.2f (grpc_load), %.2f (h2load) (target >= 1.0); gRPC raw / HTTP JSON: %.2f, %.2f\n", g / b, h / b, g / j, h / j }'

#!/usr/bin/env bash
# gRPC against HTTP on the same server, in the same run: the Fashion-MNIST MLP at batch 1
# imported as a new user does (no scheduling option), the access log on as it ships, 64
# connections (wrk, 2 threads) or 64 calls in flight over 2 HTTP/2 connections (grpc_load,
# 2 threads), all on the same 2 cores over TLS. Rows: HTTP KServe v2 JSON, HTTP binary
# tensor extension, gRPC ModelInfer with raw_input_contents. Three rounds, alternating;
# prints every RESULT line and the medians.
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
mkdir -p "$work/stubs"
protoc --proto_path=proto --python_out="$work/stubs" proto/grpc_service.proto proto/model_config.proto
/usr/bin/python3 bench/grpc/make_request.py "$work/stubs" examples/requests/fashion-mlp.json \
  "$work/mlp.grpc"
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
declare -A rps p99
run() {  # run NAME: one measurement, its RESULT line kept
  local line
  case $1 in
    http-json) line=$(BODY=examples/requests/fashion-mlp.json KEY=$key \
      wrk -t2 -c64 -d"${duration}s" -s bench/gateway/post.lua "$url" | grep '^RESULT') ;;
    http-binary) line=$(BODY=$work/mlp.bin HEADER_LENGTH=$(cat "$work/mlp.bin.len") \
      CONTENT_TYPE=application/octet-stream KEY=$key \
      wrk -t2 -c64 -d"${duration}s" -s bench/gateway/post.lua "$url" | grep '^RESULT') ;;
    grpc-raw) line=$("$build/bench/grpc_load" "127.0.0.1:$grpc_port" "$data/tls/cert.pem" "$key" \
      "$work/mlp.grpc" 64 "$duration" 2 | grep '^RESULT') ;;
  esac
  echo "$1 ${line#RESULT }"
  rps[$1]+="$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line") "
  p99[$1]+="$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line") "
}
for _ in $(seq 1 "$rounds"); do
  for name in http-json http-binary grpc-raw; do run "$name"; done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo
echo "medians of $rounds, ${duration} s each, 64 in flight, $(nproc) cores, $(date -u +%F):"
for name in http-json http-binary grpc-raw; do
  echo "$name: $(median "${rps[$name]}") req/s, p99 $(median "${p99[$name]}") ms"
done
awk -v g="$(median "${rps[grpc-raw]}")" -v b="$(median "${rps[http-binary]}")" \
  -v j="$(median "${rps[http-json]}")" \
  'BEGIN { printf "gRPC raw / HTTP binary: %.2f (target >= 1.0); gRPC raw / HTTP JSON: %.2f\n", g / b, g / j }'

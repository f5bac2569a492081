#!/usr/bin/env bash
# The CPU backend in a worker process against inline, one server, alternating in one run:
# the seed MLP at batch 1 (KServe v2 JSON over TLS, wrk 2 threads, 64 connections) for
# req/s, and the seed CNN at batch 64 (binary extension, one connection) for latency. The
# same model file is imported twice with "isolation" "inline" and "process"; the order of
# the two alternates each round.
# usage: bench/gateway/worker_overhead.sh [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-8}
rounds=${2:-3}
cmake --build build --target modelgate modelgate-worker mgctl mg_cpu >/dev/null

source bench/gateway/work_dir.sh
data=$work/data
build/gateway/modelgate init --data-dir "$data" >/dev/null
key=$(cat "$data/admin.key")
for isolation in inline process; do
  build/gateway/modelgate import --data-dir "$data" "mlp-$isolation" examples/models/fashion-mlp.onnx \
    --config "{\"max_batch_size\": 64, \"instances\": 2, \"isolation\": \"$isolation\"}" --promote >/dev/null
  build/gateway/modelgate import --data-dir "$data" "cnn-$isolation" examples/models/fashion-cnn.onnx \
    --config "{\"max_batch_size\": 64, \"isolation\": \"$isolation\"}" --promote >/dev/null
done

# The CNN batch: 64 copies of the example image, binary extension.
image=$work/image.bin
head -c 3136 examples/models/fashion-mlp.input.bin >"$image"
header='{"inputs":[{"name":"image","datatype":"FP32","shape":[64,1,28,28],"parameters":{"binary_data_size":200704}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]}'
{
  printf '%s' "$header"
  for _ in $(seq 1 64); do cat "$image"; done
} >"$work/cnn64.bin"

log=$work/serve.log
build/gateway/modelgate serve --data-dir "$data" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --plugin-dir build/plugins --config <(echo 'access_log = "off"') >"$log" 2>&1 &
pid=$!
pids+=("$pid")
until grep -q 'listening on' "$log"; do sleep 0.1; done
port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
[[ $(pgrep -c -P "$pid" -f modelgate-worker) == 2 ]] || { echo "expected 2 workers"; exit 1; }

mlp() {  # mlp ISOLATION: RESULT line, batch 1 JSON at 64 connections
  BODY=examples/requests/fashion-mlp.json KEY=$key wrk -t2 -c64 -d"${duration}s" \
    -s bench/gateway/post.lua "https://127.0.0.1:$port/v2/models/mlp-$1/infer" | grep '^RESULT'
}
cnn() {  # cnn ISOLATION: RESULT line, batch 64 binary at one connection
  BODY=$work/cnn64.bin KEY=$key HEADER_LENGTH=${#header} CONTENT_TYPE=application/octet-stream \
    wrk -t1 -c1 -d"${duration}s" -s bench/gateway/post.lua \
    "https://127.0.0.1:$port/v2/models/cnn-$1/infer" | grep '^RESULT'
}
for r in $(seq 1 "$rounds"); do
  order=(inline process)
  ((r % 2 == 0)) && order=(process inline)
  for isolation in "${order[@]}"; do echo "round $r mlp b1  c64 $isolation $(mlp "$isolation")"; done
  for isolation in "${order[@]}"; do echo "round $r cnn b64 c1  $isolation $(cnn "$isolation")"; done
done
echo "worker resident memory: $(curl -s "http://127.0.0.1:$(sed -n 's/.*metrics on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")/metrics" | grep '^modelgate_worker_resident_bytes' | tr '\n' ' ')"

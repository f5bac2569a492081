#!/usr/bin/env bash
# The gateway under wrk load over TLS (64 connections, 2 threads), with two references
# measured in the same run and the same settings (the speed targets):
#   - the machine's ceiling: Debian's nginx serving a static 200-byte JSON over TLS,
#     keep-alive, 2 workers;
#   - the alternative a user would write: node:https, cluster of 2 workers, the same ONNX
#     MLP on onnxruntime-node behind a bearer-key check, KServe v2 JSON.
# ModelGate: health; MLP batch-1 JSON and binary; CNN batch-1 binary; a wide MLP
# (784→1024→1024→10) with dynamic batching off (max batch 1) and on.
# Installs wrk, nginx, nodejs, python3-onnx (apt, only when missing) and onnxruntime-node
# (npm, into bench/.ort). Prints a table and the exact commands' settings.
# usage: bench/gateway/run.sh [BUILD_DIR] [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${1:-build}
duration=${2:-10}
connections=64
wrk_threads=2

missing=()
for p in wrk nginx python3-onnx python3-numpy; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  systemctl stop nginx 2>/dev/null || true  # the package starts one on port 80
fi
if [[ ! -d bench/.ort/node_modules/onnxruntime-node ]]; then
  mkdir -p bench/.ort
  (cd bench/.ort && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi
cmake --build "$build" --target modelgate mg_cpu >/dev/null

# shellcheck source=work_dir.sh
source bench/gateway/work_dir.sh

/usr/bin/python3 bench/gateway/make_inputs.py "$work" examples
modelgate=$build/gateway/modelgate
data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
key=$(cat "$data/admin.key")
import() { "$modelgate" import --data-dir "$data" "$1" "$2" --config "$3" --promote >/dev/null; }
seed='{"max_batch_size": 64, "instances": 2}'
import fashion-mlp examples/models/fashion-mlp.onnx "$seed"
import fashion-cnn examples/models/fashion-cnn.onnx "$seed"
import wide-unbatched "$work/wide-mlp.onnx" '{"max_batch_size": 1, "instances": 2}'
import wide-batched "$work/wide-mlp.onnx" '{"max_batch_size": 64, "instances": 2, "max_queue_delay_us": 500}'

# Like the nginx below (access_log off), no per-request access log: MG_ACCESS_LOG=stdout
# measures it on.
printf 'access_log = "%s"\n' "${MG_ACCESS_LOG:-off}" >"$work/modelgate.toml"
"$modelgate" serve --data-dir "$data" --config "$work/modelgate.toml" --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --plugin-dir "$build/plugins" >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
mg_port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
[[ -n "$mg_port" ]] || { cat "$work/serve.log"; exit 1; }

# nginx: 2 workers, TLS with the same certificate, a 200-byte JSON body.
nginx_port=$((mg_port + 1))
body=$(printf '{"status":"ready","detail":"%s"}' "$(head -c 170 /dev/zero | tr '\0' x)")
cat >"$work/nginx.conf" <<EOT
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $data/tls/cert.pem;
    ssl_certificate_key $data/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { default_type application/json; return 200 '$body'; }
  }
}
EOT
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)

node_port=$((mg_port + 2))
NODE_PATH=$root/bench/.ort/node_modules node bench/gateway/node_kserve_server.js "$node_port" \
  examples/models/fashion-mlp.onnx "$data/tls/cert.pem" "$data/tls/key.pem" "$key" 2 \
  >"$work/node.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q 'node listening' "$work/node.log" && break; sleep 0.1; done
grep -q 'node listening' "$work/node.log" || { cat "$work/node.log"; exit 1; }
sleep 1

# measure NAME URL [ENV...]: one wrk run; the RESULT line of the Lua script.
results=()
measure() {
  local name=$1 url=$2
  shift 2
  local script=bench/gateway/get.lua
  [[ $# -gt 0 ]] && script=bench/gateway/post.lua
  local line
  line=$(env "$@" wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" -s "$script" "$url" |
    grep '^RESULT')
  results+=("$name ${line#RESULT }")
  echo "$name ${line#RESULT }"
}
mg=https://127.0.0.1:$mg_port
mlp_json=examples/requests/fashion-mlp.json
measure nginx-static "https://127.0.0.1:$nginx_port/"
measure modelgate-health "$mg/v2/health/ready"
measure node-mlp-json "https://127.0.0.1:$node_port/v2/models/fashion-mlp/infer" BODY=$mlp_json KEY="$key"
measure modelgate-mlp-json "$mg/v2/models/fashion-mlp/infer" BODY=$mlp_json KEY="$key"
measure modelgate-mlp-binary "$mg/v2/models/fashion-mlp/infer" BODY="$work/mlp.bin" KEY="$key" \
  HEADER_LENGTH="$(cat "$work/mlp.bin.len")" CONTENT_TYPE=application/octet-stream
measure modelgate-cnn-binary "$mg/v2/models/fashion-cnn/infer" BODY="$work/cnn.bin" KEY="$key" \
  HEADER_LENGTH="$(cat "$work/cnn.bin.len")" CONTENT_TYPE=application/octet-stream
measure modelgate-wide-unbatched "$mg/v2/models/wide-unbatched/infer" BODY="$work/wide.json" KEY="$key"
measure modelgate-wide-batched "$mg/v2/models/wide-batched/infer" BODY="$work/wide.json" KEY="$key"

rps() { for r in "${results[@]}"; do [[ $r == "$1 "* ]] && sed 's/.*rps=\([0-9]*\).*/\1/' <<<"$r"; done; }
ratio() { awk -v a="$(rps "$1")" -v b="$(rps "$2")" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "wrk -t$wrk_threads -c$connections -d${duration}s over TLS; $(nproc) cores, $(date -u +%F)"
echo "health / nginx static:           $(ratio modelgate-health nginx-static)   (target >= 0.80)"
echo "MLP JSON / node MLP JSON:        $(ratio modelgate-mlp-json node-mlp-json)   (target >= 2)"
echo "MLP binary / node MLP JSON:      $(ratio modelgate-mlp-binary node-mlp-json)   (target >= 2.5)"
echo "wide batched / wide unbatched:   $(ratio modelgate-wide-batched modelgate-wide-unbatched)   (target >= 1.5)"

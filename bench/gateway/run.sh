#!/usr/bin/env bash
# The gateway under wrk load over TLS (64 connections, 2 threads, on the same 2 cores), with
# the references measured in the same run and the same settings (the speed targets):
#   - the machine's ceiling: Debian's nginx serving a static 200-byte JSON over TLS,
#     keep-alive, 2 workers, no access log;
#   - the alternative a user would write: bench/gateway/node_kserve_server.js (node:https,
#     cluster of 2 workers, onnxruntime-node with 1 intra-op thread each, bearer check,
#     KServe v2 JSON and binary), serving the same MLP and CNN files.
#   - nginx given each infer request's own bytes (it reads and drops the body and answers the
#     static body): the cost of carrying that request over TLS with no work, against which
#     the script prints how much of it each speed target asks for;
# ModelGate as a new user meets it: models imported without any scheduling option
# ("default"), the access log on as it ships (stdout, here into a file); the MLP and the CNN
# also with {"max_batch_size": 64, "instances": 2} ("tuned"); and a wide MLP (784→1024→1024→10)
# with dynamic batching off (max batch 1) and on.
# Installs wrk, nginx, nodejs, python3-onnx (apt, only when missing) and onnxruntime-node
# (npm, into bench/.ort). Prints each run's RESULT line and the ratios.
# HEALTH_ROUNDS=N adds N rounds of nginx static and ModelGate health measured back to back
# (which goes first alternates), with each round's ratio and their median: the two single
# runs above are a minute apart, and this ratio moves most with the VM's drift.
# usage: bench/gateway/run.sh [BUILD_DIR] [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${1:-build}
duration=${2:-10}
connections=64
wrk_threads=2

# shellcheck source=work_dir.sh
source bench/gateway/work_dir.sh
install_missing wrk nginx python3-onnx python3-numpy
command -v node >/dev/null || install_missing nodejs
command -v npm >/dev/null || install_missing npm
if [[ ! -d bench/.ort/node_modules/onnxruntime-node ]]; then
  mkdir -p bench/.ort
  (cd bench/.ort && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi
cmake --build "$build" --target modelgate mg_cpu system_call_cost >/dev/null

/usr/bin/python3 bench/gateway/make_inputs.py "$work" examples
modelgate=$build/gateway/modelgate
data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
key=$(cat "$data/admin.key")
import() { "$modelgate" import --data-dir "$data" "$@" --promote >/dev/null; }
import fashion-mlp examples/models/fashion-mlp.onnx  # defaults: no scheduling option
import fashion-cnn examples/models/fashion-cnn.onnx
import mlp-tuned examples/models/fashion-mlp.onnx --config '{"max_batch_size": 64, "instances": 2}'
import cnn-tuned examples/models/fashion-cnn.onnx --config '{"max_batch_size": 64, "instances": 2}'
import wide-unbatched "$work/wide-mlp.onnx" --config '{"max_batch_size": 1, "instances": 2}'
import wide-batched "$work/wide-mlp.onnx" --config '{"max_batch_size": 64, "instances": 2, "max_queue_delay_us": 500}'

# The access log as it ships (stdout: one JSON line per request), into a file as a
# service manager would take it; MG_ACCESS_LOG=off measures without it.
printf 'access_log = "%s"\n' "${MG_ACCESS_LOG:-stdout}" >"$work/modelgate.toml"
"$modelgate" serve --data-dir "$data" --config "$work/modelgate.toml" --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --plugin-dir "$build/plugins" >"$work/serve.log" 2>&1 &
pids+=($!)
mg_port=$(https_port_of "$work/serve.log")

# nginx: 2 workers, TLS with the same certificate, a 200-byte JSON body.
nginx_port=$((mg_port + 1))
nginx_static_conf "$work/nginx.conf" "$nginx_port" "$data/tls/cert.pem" "$data/tls/key.pem" 2
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)

node_port=$((mg_port + 2))
NODE_PATH=$root/bench/.ort/node_modules node bench/gateway/node_kserve_server.js "$node_port" \
  "$data/tls/cert.pem" "$data/tls/key.pem" "$key" 2 \
  fashion-mlp=examples/models/fashion-mlp.onnx fashion-cnn=examples/models/fashion-cnn.onnx \
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
  # One second unrecorded first, for every row alike: what is measured is each server as
  # it runs, not its first second after start (a freshly started ModelGate's first CNN
  # batches take longer; bench/RESULTS.md reports that second on its own).
  env "$@" wrk -t"$wrk_threads" -c"$connections" -d1s -s "$script" "$url" >/dev/null
  local line
  line=$(env "$@" wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" -s "$script" "$url" |
    grep '^RESULT')
  results+=("$name ${line#RESULT }")
  echo "$name ${line#RESULT }"
}
mg=https://127.0.0.1:$mg_port
node=https://127.0.0.1:$node_port
mlp_json=examples/requests/fashion-mlp.json
binary() { echo BODY="$work/$1.bin" HEADER_LENGTH="$(cat "$work/$1.bin.len")" CONTENT_TYPE=application/octet-stream; }
# shellcheck disable=SC2046  # binary's words are separate environment assignments
{
  measure nginx-static "https://127.0.0.1:$nginx_port/"
  # nginx given each infer request's bytes (it reads and drops the body, answers the same
  # static 200 bytes): what carrying that request over TLS costs this machine with no work
  measure nginx-mlp-json "https://127.0.0.1:$nginx_port/" BODY=$mlp_json KEY="$key"
  measure nginx-mlp-binary "https://127.0.0.1:$nginx_port/" $(binary mlp) KEY="$key"
  measure nginx-cnn-binary "https://127.0.0.1:$nginx_port/" $(binary cnn) KEY="$key"
  measure modelgate-health "$mg/v2/health/ready"
  measure node-mlp-json "$node/v2/models/fashion-mlp/infer" BODY=$mlp_json KEY="$key"
  measure modelgate-mlp-json "$mg/v2/models/fashion-mlp/infer" BODY=$mlp_json KEY="$key"
  measure modelgate-mlp-json-tuned "$mg/v2/models/mlp-tuned/infer" BODY=$mlp_json KEY="$key"
  measure node-mlp-binary "$node/v2/models/fashion-mlp/infer" $(binary mlp) KEY="$key"
  measure modelgate-mlp-binary "$mg/v2/models/fashion-mlp/infer" $(binary mlp) KEY="$key"
  measure modelgate-mlp-binary-tuned "$mg/v2/models/mlp-tuned/infer" $(binary mlp) KEY="$key"
  measure node-cnn-binary "$node/v2/models/fashion-cnn/infer" $(binary cnn) KEY="$key"
  measure modelgate-cnn-binary "$mg/v2/models/fashion-cnn/infer" $(binary cnn) KEY="$key"
  measure modelgate-cnn-binary-tuned "$mg/v2/models/cnn-tuned/infer" $(binary cnn) KEY="$key"
  measure modelgate-wide-unbatched "$mg/v2/models/wide-unbatched/infer" BODY="$work/wide.json" KEY="$key"
  measure modelgate-wide-batched "$mg/v2/models/wide-batched/infer" BODY="$work/wide.json" KEY="$key"
}

field() { for r in "${results[@]}"; do [[ $r == "$1 "* ]] && sed "s/.* $2=\([0-9.]*\).*/\1/" <<<"$r"; done; }
ratio() { awk -v a="$(field "$1" rps)" -v b="$(field "$2" rps)" 'BEGIN { printf "%.2f", a / b }'; }
p99() { echo "p99 $(field "$1" p99_ms) vs $(field "$2" p99_ms) ms"; }
echo
echo "wrk -t$wrk_threads -c$connections -d${duration}s over TLS; $(nproc) cores, $(date -u +%F); access log ${MG_ACCESS_LOG:-stdout}"
# The ratios move with what entering the kernel costs (hosts differ several times): printed
# so that runs on different hosts can be compared.
"$build/bench/system_call_cost"
echo "health / nginx static:                $(ratio modelgate-health nginx-static)   (target >= 0.9)"
echo "MLP JSON default / node MLP JSON:     $(ratio modelgate-mlp-json node-mlp-json)   (target >= 2.0; $(p99 modelgate-mlp-json node-mlp-json))"
echo "MLP JSON tuned / node MLP JSON:       $(ratio modelgate-mlp-json-tuned node-mlp-json)   ($(p99 modelgate-mlp-json-tuned node-mlp-json))"
echo "MLP binary default / node MLP binary: $(ratio modelgate-mlp-binary node-mlp-binary)   (target >= 2.5; $(p99 modelgate-mlp-binary node-mlp-binary))"
echo "MLP binary tuned / node MLP binary:   $(ratio modelgate-mlp-binary-tuned node-mlp-binary)   ($(p99 modelgate-mlp-binary-tuned node-mlp-binary))"
echo "CNN binary default / node CNN binary: $(ratio modelgate-cnn-binary node-cnn-binary)   (target >= 2.0; $(p99 modelgate-cnn-binary node-cnn-binary))"
echo "CNN binary tuned / node CNN binary:   $(ratio modelgate-cnn-binary-tuned node-cnn-binary)   ($(p99 modelgate-cnn-binary-tuned node-cnn-binary))"
echo "wide batched / wide unbatched:        $(ratio modelgate-wide-batched modelgate-wide-unbatched)"
# ceiling ROW TARGET NODE_ROW NGINX_ROW: the rate a target asks for, as a share of what nginx
# does with the same request bytes and no work at all (above 1: no server could meet it here)
ceiling() {
  awk -v t="$2" -v n="$(field "$3" rps)" -v c="$(field "$4" rps)" -v r="$1" \
    'BEGIN { printf "%-22s %.1f x node = %6.0f req/s = %.2f of nginx with the same bytes (%.0f)\n", r, t, t * n, t * n / c, c }'
}
echo "what each target asks for:"
ceiling "MLP JSON" 2.0 node-mlp-json nginx-mlp-json
ceiling "MLP binary" 2.5 node-mlp-binary nginx-mlp-binary
ceiling "CNN binary" 2.0 node-cnn-binary nginx-cnn-binary
if [[ ${MG_ACCESS_LOG:-stdout} == stdout ]]; then
  echo "answers other than 200 (access log): $(grep -o '"status":[0-9]*,"code":"[a-z_]*"' "$work/serve.log" |
    grep -v '"status":200' | sort | uniq -c | tr '\n' ' ')"
fi
if ((${HEALTH_ROUNDS:-0} > 0)); then
  rps_of() { wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" -s bench/gateway/get.lua "$1" |
    sed -n 's/^RESULT rps=\([0-9]*\).*/\1/p'; }
  round_ratios=()
  for round in $(seq 1 "$HEALTH_ROUNDS"); do
    if ((round % 2)); then
      n=$(rps_of "https://127.0.0.1:$nginx_port/") m=$(rps_of "$mg/v2/health/ready")
    else
      m=$(rps_of "$mg/v2/health/ready") n=$(rps_of "https://127.0.0.1:$nginx_port/")
    fi
    round_ratios+=("$(awk -v a="$m" -v b="$n" 'BEGIN { printf "%.2f", a / b }')")
    echo "health round $round: nginx $n  ModelGate $m  ratio ${round_ratios[-1]}"
  done
  echo "health / nginx static, back to back: median of $HEALTH_ROUNDS rounds" \
    "$(printf '%s\n' "${round_ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')" \
    "(target >= 0.9)"
fi

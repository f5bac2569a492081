#!/usr/bin/env bash
# Same-run A/B of two modelgate builds under wrk over TLS (64 connections, 2 threads): both
# servers run at once on the same seed MLP and CNN (`"max_batch_size": 64, "instances": 2`,
# access log off), and each round measures A then B on each endpoint, so machine drift hits
# both alike (the order alternates per round). Prints each run and, per endpoint, both
# medians and B/A.
# Endpoints: health (/v2/health/ready), MLP batch-1 JSON, MLP batch-1 binary (bearer key);
# "cnn-binary" (the CNN at batch 1, binary, same model config) only when named.
# usage: bench/gateway/ab.sh BUILD_A BUILD_B [ROUNDS] [SECONDS_PER_RUN]
#   e.g. a build of the previous commit in /tmp/before/build against build/
# As a new user meets it (no scheduling option, the access log on as it ships):
#   MODEL_CONFIG= ACCESS_LOG=stdout bench/gateway/ab.sh BUILD_A BUILD_B
# MODEL_CONFIG_A / MODEL_CONFIG_B give one side its own model config (one build, two configs).
# ENDPOINTS="health mlp-json" measures only those; "grpc" (ModelInfer with raw contents by
# bench/grpc/grpc_load, 64 calls over 2 connections) and "grpc-h2load" (the same framed call
# posted by h2load) measure the gRPC listener.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_a=$1 build_b=$2 rounds=${3:-5} duration=${4:-8}
model_config=${MODEL_CONFIG-'{"max_batch_size": 64, "instances": 2}'}
model_config_a=${MODEL_CONFIG_A-$model_config}
model_config_b=${MODEL_CONFIG_B-$model_config}
access_log=${ACCESS_LOG:-off}
# shellcheck source=work_dir.sh
source bench/gateway/work_dir.sh
/usr/bin/python3 bench/gateway/make_inputs.py "$work" examples >/dev/null
if [[ ${ENDPOINTS:-} == *grpc* ]]; then
  [[ -f $build_b/CMakeCache.txt ]] && cmake --build "$build_b" --target grpc_load >/dev/null
  bench/grpc/make_request.sh "$work"
fi

# start NAME BUILD: a server with the MLP; sets port_NAME and key_NAME.
start() {
  local name=$1 build=$2 data=$work/$1
  local out
  out=$("$build/gateway/modelgate" init --data-dir "$data" --json)
  # builds before the admin key file printed the key in init's JSON
  local key
  key=$(cat "$data/admin.key" 2>/dev/null || sed -n 's/.*"admin_key":"\([^"]*\)".*/\1/p' <<<"$out")
  local config=() side_config=model_config_$1
  [[ -n ${!side_config} ]] && config=(--config "${!side_config}")
  "$build/gateway/modelgate" import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx \
    "${config[@]}" --promote >/dev/null
  "$build/gateway/modelgate" import --data-dir "$data" fashion-cnn examples/models/fashion-cnn.onnx \
    "${config[@]}" --promote >/dev/null
  printf 'access_log = "%s"\n' "$access_log" >"$work/$name.toml"
  "$build/gateway/modelgate" serve --data-dir "$data" --config "$work/$name.toml" \
    --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --plugin-dir "$build/plugins" \
    >"$work/$name.log" 2>&1 &  # the access log (stdout) into a file, as a service manager takes it
  pids+=($!)
  local port
  port=$(https_port_of "$work/$name.log")
  printf -v "port_$name" '%s' "$port"
  printf -v "grpc_port_$name" '%s' "$(sed -n 's/^grpc on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/$name.log")"
  printf -v "cert_$name" '%s' "$data/tls/cert.pem"
  printf -v "key_$name" '%s' "$key"
}
start a "$build_a"
start b "$build_b"
sleep 1

# run SIDE ENDPOINT: one wrk run; prints its rps
run() {
  local port_var=port_$1 key_var=key_$1 grpc_var=grpc_port_$1 cert_var=cert_$1
  local base=https://127.0.0.1:${!port_var} key=${!key_var}
  local line
  case $2 in
    grpc) line=$("$build_b/bench/grpc_load" "127.0.0.1:${!grpc_var}" "${!cert_var}" "$key" \
      "$work/mlp.grpc" 64 "$duration" 2 | sed 's/errors=0/non2xx=0 errors=0/') ;;
    grpc-h2load)
      line=$(h2load -D "$duration" -c 2 -m 32 -t 2 -d "$work/mlp.grpc.frame" \
        -H 'content-type: application/grpc' -H 'te: trailers' -H "authorization: Bearer $key" \
        "https://127.0.0.1:${!grpc_var}/inference.GRPCInferenceService/ModelInfer" |
        awk -v d="$duration" '/^requests:/ { printf "RESULT rps=%d non2xx=0 errors=%d\n", $8 / d, $10 }') ;;
    health) line=$(wrk -t2 -c64 -d"${duration}s" -s bench/gateway/get.lua "$base/v2/health/ready") ;;
    mlp-json)
      line=$(BODY=examples/requests/fashion-mlp.json KEY=$key wrk -t2 -c64 -d"${duration}s" \
        -s bench/gateway/post.lua "$base/v2/models/fashion-mlp/infer") ;;
    mlp-binary)
      line=$(BODY=$work/mlp.bin KEY=$key HEADER_LENGTH=$(cat "$work/mlp.bin.len") \
        CONTENT_TYPE=application/octet-stream wrk -t2 -c64 -d"${duration}s" \
        -s bench/gateway/post.lua "$base/v2/models/fashion-mlp/infer") ;;
    cnn-binary)
      line=$(BODY=$work/cnn.bin KEY=$key HEADER_LENGTH=$(cat "$work/cnn.bin.len") \
        CONTENT_TYPE=application/octet-stream wrk -t2 -c64 -d"${duration}s" \
        -s bench/gateway/post.lua "$base/v2/models/fashion-cnn/infer") ;;
  esac
  line=$(grep '^RESULT' <<<"$line")
  [[ $line == *"non2xx=0 errors=0"* ]] || { echo "errors in $1 $2: $line" >&2; exit 1; }
  sed 's/.*rps=\([0-9]*\).*/\1/' <<<"$line"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "A = $build_a, B = $build_b; wrk -t2 -c64 -d${duration}s over TLS, $rounds rounds, $(nproc) cores, $(date -u +%FT%RZ)"
echo "model config: A ${model_config_a:-none (defaults)}, B ${model_config_b:-none (defaults)}; access log: $access_log"
for endpoint in ${ENDPOINTS:-health mlp-json mlp-binary}; do
  : >"$work/$endpoint.a"
  : >"$work/$endpoint.b"
  for round in $(seq 1 "$rounds"); do
    if ((round % 2)); then  # the order alternates, so neither side always goes first
      a=$(run a "$endpoint") b=$(run b "$endpoint")
    else
      b=$(run b "$endpoint") a=$(run a "$endpoint")
    fi
    echo "$a" >>"$work/$endpoint.a"
    echo "$b" >>"$work/$endpoint.b"
    echo "$endpoint round $round: A $a  B $b req/s"
  done
  ma=$(median <"$work/$endpoint.a") mb=$(median <"$work/$endpoint.b")
  awk -v e="$endpoint" -v a="$ma" -v b="$mb" \
    'BEGIN { printf "%-11s median A %7.0f  B %7.0f  B/A %.3f\n", e, a, b, b / a }' | tee -a "$work/summary"
done
echo
cat "$work/summary"

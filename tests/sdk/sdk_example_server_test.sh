#!/usr/bin/env bash
# The out-of-tree example backend (built against the installed SDK by build_example.sh),
# unchanged, served by a real server in process isolation (the default for any plugin but
# cpu): loaded in a modelgate-worker child process, answering over HTTPS; and the gRPC
# client example, built against the installed SDK too, asking the server over gRPC.
# usage: sdk_example_server_test.sh MODELGATE MGCTL EXAMPLE_BUILD_DIR
set -euo pipefail
modelgate=$1 mgctl=$2 example_build=$3
plugins=$(mktemp -d)
source "$(dirname "$0")/../e2e_lib.sh"
trap 'cleanup; rm -rf "$plugins"' EXIT
ln -s "$example_build/libmg_scale.so" "$plugins/"

data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
printf 'any bytes' >"$work/scaler.bin"
"$modelgate" import --data-dir "$data" --backend scale scaler "$work/scaler.bin" \
  --config '{"factor": 2.5}' --promote >/dev/null
start_modelgate "$data" --grpc-listen 127.0.0.1:0 || fail "server did not start"
grpc_port=$(sed -n 's/^grpc on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/serve.log" | tail -1)
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$(cat "$data/admin.key")

expect "backend list: scale, out of process" "$("$mgctl" backend list)" "process"
expect "model show: isolation" "$("$mgctl" model show scaler)" "isolation:          process"
workers=$(pgrep -P "$pid" -f modelgate-worker | wc -l)
((workers == 1)) || fail "expected the model in one worker process, found $workers"
out=$(curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $MG_KEY" -w ' %{http_code}' \
  --data '{"inputs":[{"name":"x","datatype":"FP32","shape":[2,3],"data":[1,2,3,4,5,6]}]}' \
  "$MG_SERVER/v2/models/scaler/infer")
expect "the example answers from its worker" "$out" '"data":[2.5,5,7.5,10,12.5,15]'
expect "status" "$out" " 200"
out=$("$example_build/../grpc_build/grpc_ready" "127.0.0.1:$grpc_port" "$MG_CACERT" "$MG_KEY" scaler)
expect "the installed gRPC client: ready" "$out" '{"ready":true}'
expect "the installed gRPC client: metadata" "$out" '"name":"scaler"'
out=$("$example_build/../grpc_build/grpc_ready" "127.0.0.1:$grpc_port" "$MG_CACERT" mg_bad scaler)
expect "the installed gRPC client: a refusal" "$out" "status 16: invalid_key"
stop_modelgate
echo "sdk example in a server: all checks passed"

#!/usr/bin/env bash
# The gRPC listener end to end: a real server (--grpc-listen on a free port, TLS, a 2 MB
# message limit from its config file), keys made with mgctl, and a real gRPC client
# (grpc_client_test.py: Debian's grpcio, stubs generated here from the tree's proto).
# Then the inference counter must have counted them apart from HTTPS, the Triton HTTP
# extensions answer over TLS, a shadow receives copies of gRPC calls, and the access log
# shows the calls as protocol "grpc".
# usage: grpc_test.sh MODELGATE MGCTL PLUGIN_DIR EXAMPLES_DIR PROTO_DIR
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4 proto=$5
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../e2e_lib.sh
source "$here/../../e2e_lib.sh"

mkdir -p "$work/stubs"
protoc --proto_path="$proto" --python_out="$work/stubs" --grpc_out="$work/stubs" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$proto/grpc_service.proto" \
  "$proto/model_config.proto"

data=$work/data
init_with_mlp "$data"
for model in fashion-cnn text-classifier; do
  "$modelgate" import --data-dir "$data" "$model" "$examples/models/$model.onnx" --promote >/dev/null
done
# The text classifier taking sentences (its vocabulary a file of the version).
"$modelgate" import --data-dir "$data" raw-text "$examples/models/text-classifier.onnx" --promote \
  --file vocabulary="$examples/models/text-vocab.txt" \
  --config '{"max_batch_size": 8, "preprocess": {"tokens": {"type": "text"}}, "postprocess":
            {"probability": {"sigmoid_threshold": 0.5, "labels": ["other", "library"]}}}' \
  >/dev/null
# A model whose batch waits 10 s for 8 requests: calls queue there (the deadline test).
"$modelgate" import --data-dir "$data" waiting "$examples/models/fashion-mlp.onnx" --promote \
  --config '{"max_batch_size": 8, "preferred_batch_sizes": [8], "max_queue_delay_us": 10000000}' \
  >/dev/null
printf '[limits]\ngrpc_message_bytes = 2000000\n' >"$work/serve.toml"
start_modelgate "$data" --grpc-listen 127.0.0.1:0 --config "$work/serve.toml" ||
  fail "server exited during start"
grpc_port=$(sed -n 's/^grpc on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/serve.log" | tail -1)
[[ -n "$grpc_port" ]] || fail "no 'grpc on' line"
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$admin_key
key_of() { "$mgctl" --json key create "$@" | sed -n 's/.*"key":"\([^"]*\)".*/\1/p'; }
"$mgctl" tenant create acme >/dev/null

export MG_STUBS=$work/stubs MG_GRPC_PORT=$grpc_port MG_HTTP_PORT=$port
export MG_REQUEST=$examples/requests/fashion-mlp.json
export MG_TEXT_REQUEST=$examples/requests/text-classifier.json
MG_INFER_KEY=$(key_of --tenant acme --scope infer)
MG_SIGNED_KEY=$(key_of --tenant acme --scope infer --signed-only)
MG_SLOW_KEY=$(key_of --tenant acme --scope infer --rate 0.1/s --burst 1)
MG_OTHER_MODELS_KEY=$(key_of --tenant acme --scope infer --models 'text-*')
export MG_INFER_KEY MG_SIGNED_KEY MG_SLOW_KEY MG_OTHER_MODELS_KEY MG_ADMIN_KEY=$admin_key
before=$(metric 'modelgate_inference_requests_total{model="fashion-mlp",outcome="ok",protocol="grpc",version="1"}')
/usr/bin/python3 "$here/grpc_client_test.py" || fail "gRPC client test"
after=$(metric 'modelgate_inference_requests_total{model="fashion-mlp",outcome="ok",protocol="grpc",version="1"}')
# At least: two unary calls, one signed, one rate-limited key's first, two on a stream.
((${after:-0} - ${before:-0} >= 6)) || fail "inference counter moved from '$before' to '$after'"
echo "ok   gRPC inferences counted ($before -> $after)"
# The client test's two HTTPS inferences of fashion-mlp are counted under protocol="http".
http=$(metric 'modelgate_inference_requests_total{model="fashion-mlp",outcome="ok",protocol="http",version="1"}')
[[ $http == 2 ]] || fail "HTTPS inferences counted: '$http', expected 2"
echo "ok   the protocol label tells them apart"
# Refusals the listener makes itself, before routing, are counted as the router's are:
# the client test's oversized message.
too_large=$(metric 'modelgate_refused_requests_total{code="payload_too_large"}')
((${too_large:-0} >= 1)) || fail "payload_too_large refusals counted: '$too_large'"
echo "ok   a message over the limit is counted as a payload_too_large refusal"

# The listener speaks HTTP/2 only: a TLS client that does not offer h2 is refused in the
# handshake; an HTTP/2 request that is not a gRPC call gets a plain HTTP status.
live_url=https://localhost:$grpc_port/inference.GRPCInferenceService/ServerLive
if curl -sS --http1.1 --cacert "$MG_CACERT" -o /dev/null "$live_url" 2>"$work/alpn.err"; then
  fail "an HTTP/1.1-only client was served by the gRPC listener"
fi
echo "ok   no h2 in ALPN, no connection ($(head -c 80 "$work/alpn.err"))"
expect "not a gRPC call" "$(curl -sS --http2 --cacert "$MG_CACERT" -o /dev/null -w '%{http_code}' \
  -H 'content-type: text/plain' -d hello "$live_url")" "415"
expect "GET is not a gRPC call" "$(curl -sS --http2 --cacert "$MG_CACERT" -o /dev/null \
  -w '%{http_code}' "$live_url")" "405"
# mgctl infer --text over gRPC: the sentence in raw_input_contents, its class by name out.
expect "mgctl infer --text --grpc" "$(MG_KEY=$MG_INFER_KEY "$mgctl" infer raw-text --grpc \
  --grpc-server "127.0.0.1:$grpc_port" --text "GNU C library: shared libraries" --top 1)" \
  ':1:library"]'
# mgctl infer --grpc: the same request file as over HTTPS, the same answer; bearer and signed.
export MG_GRPC_SERVER=127.0.0.1:$grpc_port
over_https=$(MG_KEY=$MG_INFER_KEY "$mgctl" --json infer fashion-mlp --input "$MG_REQUEST")
over_grpc=$(MG_KEY=$MG_INFER_KEY "$mgctl" --json infer fashion-mlp --input "$MG_REQUEST" --grpc)
expect "mgctl infer --grpc" "$over_grpc" '"name":"probabilities"'
/usr/bin/python3 -c '
import json, sys
a, b = (json.loads(x)["outputs"][0]["data"] for x in sys.argv[1:3])
assert len(a) == 10 and all(abs(x - y) < 1e-6 for x, y in zip(a, b)), (a, b)
' "$over_https" "$over_grpc" || fail "mgctl infer --grpc and over HTTPS differ"
echo "ok   mgctl infer --grpc answers as over HTTPS"
signed=$(MG_KEY=$MG_SIGNED_KEY "$mgctl" --signed --json infer fashion-mlp --input "$MG_REQUEST" --grpc)
expect "mgctl --signed infer --grpc" "$signed" '"name":"probabilities"'
refused=$(MG_KEY=$MG_SIGNED_KEY "$mgctl" infer fashion-mlp --input "$MG_REQUEST" --grpc 2>&1 || true)
expect "mgctl infer --grpc refusal" "$refused" "signature_required: "

# A shadow fed by gRPC calls: each copy is handed on once the call's answer is written.
expect "upload v2" "$("$mgctl" model upload fashion-mlp "$examples/models/fashion-mlp.onnx")" \
  "version 2 (registered)"
expect "shadow" "$("$mgctl" model shadow fashion-mlp 2 --share 1)" "version 2 shadows 100.0 % of 'default'"
for _ in $(seq 5); do
  MG_KEY=$MG_INFER_KEY "$mgctl" infer fashion-mlp --input "$MG_REQUEST" --grpc >/dev/null
done
for _ in $(seq 100); do
  shadow=$("$mgctl" model shadow fashion-mlp)
  [[ $shadow == *"copies 5 "* ]] && break
  sleep 0.1
done
expect "the shadow compared every gRPC call" "$shadow" "copies 5  dropped 0  errors 0"
expect "the shadow agrees" "$shadow" "agreement 1.0000"
"$mgctl" model shadow fashion-mlp --remove >/dev/null

# The Triton HTTP extensions over real TLS too (tritonclient.http's calls).
c() { curl -sS --cacert "$MG_CACERT" "$@"; }
as_key() { c -H "Authorization: Bearer $1" "${@:2}"; }
expect "HTTPS config" "$(as_key "$MG_INFER_KEY" "$MG_SERVER/v2/models/fashion-mlp/config")" '"max_batch_size":8'
expect "HTTPS stats" "$(as_key "$MG_INFER_KEY" "$MG_SERVER/v2/models/fashion-mlp/stats")" '"inference_stats"'
expect "HTTPS repository index" \
  "$(as_key "$admin_key" -X POST -d '{}' "$MG_SERVER/v2/repository/index")" '"state":"READY"'
expect "HTTPS unload needs admin" \
  "$(as_key "$MG_INFER_KEY" -X POST "$MG_SERVER/v2/repository/models/fashion-mlp/unload")" '"code":"forbidden"'
expect "HTTPS server metadata" "$(as_key "$MG_INFER_KEY" "$MG_SERVER/v2")" '"model_repository"'
stop_modelgate
expect "access log" "$(grep '"protocol":"grpc"' "$work/serve.log" | grep '"path":"/v2/models/fashion-mlp/infer"')" '"status":200'
expect "access log refusals" "$(grep '"protocol":"grpc"' "$work/serve.log")" '"code":"rate_limited"'
echo "PASS"

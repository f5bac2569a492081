#!/usr/bin/env bash
# Instructions the server executes per request, counted by valgrind's callgrind: the same
# for the same binary and inputs whatever else the machine does, so two builds compare
# exactly where wrk's requests/s move by ±15% between runs on a shared 2-core machine.
# The server runs under callgrind twice, answering N1 and then N2 requests over one
# keep-alive TLS connection (curl); the difference divided by N2 - N1 is one request's
# cost, start-up and shutdown cancelled out. Endpoints: MLP batch-1 JSON and binary.
# usage: bench/gateway/instructions_per_request.sh BUILD [N1] [N2]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1 n1=${2:-200} n2=${3:-1200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 bench/gateway/make_inputs.py "$work" examples >/dev/null
data=$work/data
out=$("$build/gateway/modelgate" init --data-dir "$data" --json)
key=$(cat "$data/admin.key" 2>/dev/null || sed -n 's/.*"admin_key":"\([^"]*\)".*/\1/p' <<<"$out")
"$build/gateway/modelgate" import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx \
  --config '{"max_batch_size": 64, "instances": 2}' --promote >/dev/null
printf 'access_log = "off"\nthreads = 1\n' >"$work/config.toml"

# count KIND N: total instructions of a server run that answered N requests of KIND
count() {
  local kind=$1 n=$2 log=$work/serve.log
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$build/gateway/modelgate" serve --data-dir "$data" --config "$work/config.toml" \
    --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --plugin-dir "$build/plugins" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 1200); do grep -q 'listening on' "$log" && break; sleep 0.1; done
  local port
  port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
  local url=https://127.0.0.1:$port/v2/models/fashion-mlp/infer
  : >"$work/urls"
  for _ in $(seq 1 "$n"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >>"$work/urls"; done
  local args=(-sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $key" -K "$work/urls")
  if [[ $kind == json ]]; then
    curl "${args[@]}" --data-binary @examples/requests/fashion-mlp.json
  else
    curl "${args[@]}" --data-binary @"$work/mlp.bin" -H 'Content-Type: application/octet-stream' \
      -H "Inference-Header-Content-Length: $(cat "$work/mlp.bin.len")"
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  sed -n 's/^summary: \([0-9]*\)/\1/p' "$work/cg.out"
}
for kind in json binary; do
  a=$(count "$kind" "$n1") b=$(count "$kind" "$n2")
  echo "$kind: $(( (b - a) / (n2 - n1) )) instructions per request ($build; $n1 and $n2 requests)"
done

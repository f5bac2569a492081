#!/usr/bin/env bash
# MLP batch-1 JSON inference under wrk with authentication, rate limit, quota and metering
# on (modelgate) and off (modelgate-bench-noauth, built only with -DMG_BENCH_NO_AUTH=ON, in
# build-noauth/), alternating, same settings, same run.
# usage: bench/gateway/auth_overhead.sh [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
rounds=${2:-3}
cmake --build build --target modelgate mg_cpu >/dev/null
cmake -S . -B build-noauth -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMG_BENCH_NO_AUTH=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build-noauth --target modelgate-bench-noauth >/dev/null

work=$(mktemp -d)
pid=
trap 'if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
data=$work/data
build/gateway/modelgate init --data-dir "$data" >/dev/null
key=$(cat "$data/admin.key")
build/gateway/modelgate import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx \
  --config '{"max_batch_size": 64, "instances": 2}' --promote >/dev/null
# The measured key is rate limited (never refused) and its tenant has a quota, so every
# step runs: auth, bucket, quota, metering.
build/gateway/modelgate serve --data-dir "$data" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --plugin-dir build/plugins >"$work/setup.log" 2>&1 &
pid=$!
until grep -q 'listening on' "$work/setup.log"; do sleep 0.1; done
port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/setup.log")
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$key
build/admin/mgctl tenant create bench --quota 1000000000/month >/dev/null
limited=$(build/admin/mgctl --json key create --tenant bench --rate 1000000/s |
  sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
kill "$pid"; wait "$pid" || true

run() {  # run SERVER_BINARY: prints the RESULT line of one wrk run
  "$1" serve --data-dir "$data" --listen 127.0.0.1:0 \
    --metrics-listen 127.0.0.1:0 --plugin-dir build/plugins >"$work/serve.log" 2>&1 &
  pid=$!
  until grep -q 'listening on' "$work/serve.log"; do sleep 0.1; done
  port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
  BODY=examples/requests/fashion-mlp.json KEY=$limited wrk -t2 -c64 -d"${duration}s" \
    -s bench/gateway/post.lua "https://127.0.0.1:$port/v2/models/fashion-mlp/infer" | grep '^RESULT'
  kill "$pid"; wait "$pid" || true
  pid=
}
for r in $(seq 1 "$rounds"); do
  echo "round $r auth-on  $(run build/gateway/modelgate)"
  echo "round $r auth-off $(run build-noauth/gateway/modelgate-bench-noauth)"
done

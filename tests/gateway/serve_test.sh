#!/usr/bin/env bash
# End to end: the real modelgate binary over real TLS, driven with curl.
#   init (twice), import, serve on port 0, health, metadata, JSON inference, errors,
#   plain HTTP refused, 413, keep-alive reuse, Connection: close, SIGTERM exits 0.
# usage: serve_test.sh MODELGATE PLUGIN_DIR EXAMPLES_DIR
set -euo pipefail
modelgate=$1 plugins=$2 examples=$3
work=$(mktemp -d)
pid=
cleanup() {
  [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [[ -f $work/serve.log ]] && sed 's/^/  log: /' "$work/serve.log"; exit 1; }
expect() {  # expect NAME HAYSTACK NEEDLE
  [[ "$2" == *"$3"* ]] || fail "$1: expected '$3' in: ${2:0:400}"
  echo "ok   $1"
}

data=$work/data
out=$("$modelgate" init --data-dir "$data")
expect "init" "$out" "initialised $data"
[[ $(stat -c %a "$data/master.key") == 600 ]] || fail "master key mode"
[[ $(stat -c %a "$data/tls/key.pem") == 600 ]] || fail "TLS key mode"
out=$("$modelgate" init --data-dir "$data")
expect "init again changes nothing" "$out" "already initialised"
for m in fashion-mlp text-classifier; do
  "$modelgate" import --data-dir "$data" "$m" "$examples/models/$m.onnx" \
    --config '{"max_batch_size": 8}' --promote >/dev/null
done

"$modelgate" serve --data-dir "$data" --listen 127.0.0.1:0 --plugin-dir "$plugins" \
  >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do  # wait for the bound address (up to 30 s)
  grep -q 'listening on https://' "$work/serve.log" && break
  kill -0 "$pid" 2>/dev/null || fail "server exited during start"
  sleep 0.1
done
port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
[[ -n "$port" ]] || fail "no listening line"
base=https://localhost:$port
c() { curl -sS --cacert "$data/tls/cert.pem" "$@"; }

expect "health live" "$(c $base/v2/health/live)" '{"live":true}'
expect "health ready" "$(c $base/v2/health/ready)" '{"ready":true}'
expect "metadata" "$(c $base/v2/models/fashion-mlp)" '"shape":[-1,28,28]'
expect "model ready" "$(c $base/v2/models/fashion-mlp/versions/1/ready)" '"ready":true'
out=$(c -H 'Content-Type: application/json' --data @"$examples/requests/fashion-mlp.json" \
  $base/v2/models/fashion-mlp/infer)
expect "infer json" "$out" '"id":"first-test-image"'
expect "infer output" "$out" '"name":"probabilities","datatype":"FP32","shape":[1,10]'
out=$(c --data @"$examples/requests/text-classifier.json" $base/v2/models/text-classifier/infer)
expect "infer int64 tokens" "$out" '"shape":[1,1]'
expect "bad json" "$(c --data '{oops' $base/v2/models/fashion-mlp/infer)" '"code":"bad_request"'
expect "unknown model" "$(c --data '{}' $base/v2/models/nope/infer)" '"code":"model_not_found"'
expect "unknown version" "$(c $base/v2/models/fashion-mlp/versions/9)" '"code":"version_not_found"'
code=$(head -c 70000000 /dev/zero | c -o "$work/big.out" -w '%{http_code}' --data-binary @- \
  $base/v2/models/fashion-mlp/infer)
[[ $code == 413 ]] || fail "huge body: status $code"
expect "413 body" "$(cat "$work/big.out")" '"code":"payload_too_large"'
if curl -sS -m 5 "http://127.0.0.1:$port/v2/health/live" >/dev/null 2>&1; then
  fail "plain HTTP was answered"
fi
echo "ok   plain HTTP refused"
out=$(c -v $base/v2/health/live $base/v2/health/ready 2>&1)
expect "keep-alive reuses the connection" "$out" "Re-using existing connection"
out=$(c -v -H 'Connection: close' $base/v2/health/live 2>&1)
expect "Connection: close honoured" "$out" "< Connection: close"
expect "server still serves" "$(c $base/v2/health/live)" '{"live":true}'

kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGTERM"
wait "$pid" && status=0 || status=$?
pid=
[[ $status == 0 ]] || fail "exit status $status after SIGTERM"
echo "ok   SIGTERM: exit 0"
echo "serve_test: all passed"

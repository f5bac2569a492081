#!/usr/bin/env bash
# The run command itself (scripts/run.sh, README "Run the server"), as a user runs it: on a
# fresh data dir it registers the seed models with their preprocessing, vocabulary and
# labels, serves them, and the README's first inferences answer as the README says — a PNG
# in and "ankle boot" out, a sentence in and "library" out, the tensors as they are; its
# printed mgctl lines work too. SIGTERM stops it. Runs alone (RUN_SERIAL): it checks the
# default build is up to date, as the run command does.
# usage: run_command_test.sh SOURCE_DIR
set -euo pipefail
root=$1
work=$(mktemp -d)
runner=
cleanup() {
  [[ -n "$runner" ]] && kill -TERM "$runner" 2>/dev/null && wait "$runner" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; sed 's/^/  run: /' "$work/run.log" | tail -40; exit 1; }
expect() { [[ "$2" == *"$3"* ]] || fail "$1: expected '$3' in: ${2:0:400}"; echo "ok   $1"; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

port=$(free_port)
grpc_port=$(free_port)
data=$work/data
MG_DATA_DIR=$data MG_LISTEN=127.0.0.1:$port MG_GRPC_LISTEN=127.0.0.1:$grpc_port \
  "$root/scripts/run.sh" >"$work/run.log" 2>&1 &
runner=$!
for _ in $(seq 1 1800); do  # up to 3 minutes: install check, configure, (no-op) build
  grep -q 'ModelGate is serving' "$work/run.log" && break
  kill -0 "$runner" 2>/dev/null || fail "the run command exited"
  sleep 0.1
done
grep -q 'ModelGate is serving' "$work/run.log" || fail "the run command did not start serving"

cd "$root"
infer() {  # infer REQUEST_FILE MODEL: the README's curl line
  curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $(cat "$data/demo.key")" \
    --data @"examples/requests/$1" "https://localhost:$port/v2/models/$2/infer"
}
expect "health" "$(curl -sS --cacert "$data/tls/cert.pem" "https://localhost:$port/v2/health/ready" -w '%{http_code}')" "200"
expect "a PNG in, its class out" "$(infer ankle-boot-png.json fashion-cnn)" '"data":["0.997208:9:ankle boot"]'
expect "a sentence in, its class out" "$(infer text-sentence.json text-classifier)" '"data":["0.949550:1:library"]'
expect "the tensor in, probabilities out" "$(infer fashion-mlp.json fashion-mlp)" '"datatype":"FP32","shape":[1,10]'
expect "the text model's ids" "$(infer text-classifier.json text-classifier)" '"name":"probability"'
expect "a seed model without max_batch_size batches" "$(curl -sS --cacert "$data/tls/cert.pem" \
  -H "Authorization: Bearer $(cat "$data/demo.key")" "https://localhost:$port/v2/models/fashion-cnn/config")" \
  '"max_batch_size":64'
# The mgctl lines it prints.
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$(cat "$data/admin.key")
mgctl=build/admin/mgctl
expect "mgctl infer --image" "$("$mgctl" infer fashion-cnn --image examples/images/ankle-boot.png --top 1)" ':9:ankle boot"]'
expect "mgctl infer --text" \
  "$("$mgctl" infer text-classifier --text "GNU C library: shared libraries" --top 1)" ':1:library"]'
expect "the printed hints name them" "$(cat "$work/run.log")" "infer text-classifier --text"
expect "the text model carries its vocabulary" "$("$mgctl" --json model versions text-classifier)" '"vocabulary":"'
expect "over gRPC too" "$("$mgctl" infer text-classifier --grpc --grpc-server "127.0.0.1:$grpc_port" \
  --text "GNU C library: shared libraries" --top 1)" ':1:library"]'
kill -TERM "$runner"
status=0
wait "$runner" || status=$?
runner=
[[ $status == 0 ]] || fail "exit status $status after SIGTERM"
echo "run_command_test: all passed"

#!/usr/bin/env bash
# Faulty backends against the real server: a plugin whose init fails, a model whose load
# fails, a model whose execute returns errors, one that throws inside execute, and one
# that aborts the process. The server stays up and reports the first four (backend list,
# model state and reason, 500 internal without internals, metrics) while good models keep
# serving. The abort, in a worker process (the default for any plugin but cpu), fails its
# batch with 503 backend_failed and the server carries on (worker_faults_test.sh has the
# rest). The same abort with isolation "inline" takes the server down — documented: nothing
# in-process survives a plugin's abort() or segfault; the service manager restarts it
# (deploy/systemd Restart=on-failure, the k8s Deployment) and the restarted server serves
# again from the same data dir.
# usage: backend_faults_test.sh MODELGATE MGCTL CPU_PLUGIN TEST_PLUGIN_DIR
set -euo pipefail
modelgate=$1 mgctl=$2 cpu_plugin=$3 test_plugins=$4
plugins=$(mktemp -d)
source "$(dirname "$0")/../e2e_lib.sh"
trap 'cleanup; rm -rf "$plugins"' EXIT
ln -s "$cpu_plugin" "$test_plugins/libmg_test_good.so" "$test_plugins/libmg_test_init_fails.so" \
  "$plugins/"

data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
admin_key=$(cat "$data/admin.key")
printf 'TESTMODEL' >"$work/test.model"
import() {  # import NAME CONFIG
  "$modelgate" import --data-dir "$data" --backend test_good "$1" "$work/test.model" \
    --config "$2" --promote >/dev/null
}
import good '{}'
import broken-load '{"fail_load": "weights are corrupted"}'
import failing-exec '{"mode": "fail_execute"}'
import thrower '{"mode": "throw"}'
import crasher '{"mode": "crash"}'
import inline-crasher '{"mode": "crash", "isolation": "inline"}'
# A model on the backend that failed to initialise.
"$modelgate" import --data-dir "$data" --backend test_init_fails orphan "$work/test.model" \
  --promote >/dev/null

start_modelgate "$data" || fail "server did not start"
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$admin_key
m() { "$mgctl" "$@"; }
infer() {  # infer MODEL: prints "STATUS BODY"
  curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $admin_key" \
    -w ' %{http_code}' --data '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}' \
    "$MG_SERVER/v2/models/$1/infer"
}

out=$(m backend list)
expect "backend list: the failed backend and why" "$out" "device not present"
expect "backend list: the good one" "$out" "test_good"
expect "load failure: state and reason" "$(m model show broken-load)" "weights are corrupted"
expect "model on a failed backend is failed" "$(m model show orphan)" "failed"
expect "good model serves" "$(infer good)" '"name":"y","datatype":"FP32","shape":[1,4],"data":[2,4,6,8]'
out=$(infer failing-exec)
expect "execute error: 500 internal" "$out" '"code":"internal"'
expect "execute error: status" "$out" " 500"
[[ "$out" != *"/"*"/"* ]] || fail "a path leaked: $out"
out=$(infer thrower)
expect "exception in execute: 500 internal" "$out" '"code":"internal"'
[[ "$out" != *"exploded"* && "$out" != *"test backend"* ]] || fail "backend internals leaked: $out"
expect "not-ready model: 503" "$(infer broken-load)" '"code":"model_not_ready"'
expect "still serving after the faults" "$(infer good)" " 200"
metrics=$(curl -sS "http://127.0.0.1:$metrics_port/metrics" | grep "^modelgate_")
expect "metrics: failed backend, with what it declared" "$metrics" \
  'modelgate_backend_info{abi="1.0",backend="test_init_fails",state="failed",version="0.0.1-test"} 1'
expect "metrics: failed model" "$metrics" 'modelgate_model_state{model="broken-load",state="failed",version="1"} 1'
expect "metrics: execute errors" "$metrics" 'modelgate_inference_requests_total{model="failing-exec",outcome="internal",protocol="http",version="1"} 1'

# The crash in a worker: that batch fails, the server serves on.
out=$(infer crasher)
expect "abort in a worker: 503 backend_failed" "$out" '"code":"backend_failed"'
expect "abort in a worker: the signal" "$out" "signal 6"
expect "the server survived the worker's abort" "$(infer good)" " 200"

# The crash inline: the request's connection drops and the process dies by SIGABRT.
status=0
infer inline-crasher >/dev/null 2>&1 || status=$?
((status != 0)) || fail "the crashing request got an answer"
wait "$pid" && fail "the server survived abort()" || exit_status=$?
pid=
((exit_status == 134)) || fail "expected death by SIGABRT (134), got $exit_status"
echo "ok   a backend abort() kills the server (exit $exit_status), as documented"
# What the service manager does next: start it again on the same data dir.
start_modelgate "$data" || fail "restart after the crash"
export MG_SERVER=https://localhost:$port
expect "restarted server serves" "$(infer good)" " 200"
expect "restarted: versions intact" "$(m model versions failing-exec)" "ready"
stop_modelgate
echo "backend faults: all checks passed"

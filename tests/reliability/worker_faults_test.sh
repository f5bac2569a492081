#!/usr/bin/env bash
# Backends out of process against the real server: a plugin that segfaults, aborts, calls
# exit, leaks memory to its limit, spins forever, opens a network socket or runs a program
# (the test plugin's magic inputs) serves a model in a worker process while another
# plugin's model is loaded by clients the whole time. Checks: the healthy model answers
# every request; each bad batch gets 503 backend_failed naming the backend and the cause;
# the faulty model is not ready, then serves again; the sandbox refuses the socket and the
# exec; 50 crash cycles leave the server's processes and descriptors where they were;
# metrics count the deaths; restarts stop after the configured failures (model failed).
# A plugin that segfaults in its initialisation is opened at start only in a worker: it
# is listed as failed with the signal, and the server serves the others.
# usage: worker_faults_test.sh MODELGATE MGCTL TEST_PLUGIN_DIR EXACT_LOAD_PY CRASHING_PLUGIN
set -euo pipefail
modelgate=$1 mgctl=$2 test_plugins=$3 exact_load=$4 crashing_plugin=$5
plugins=$(mktemp -d)
source "$(dirname "$0")/../e2e_lib.sh"
loaders=()
trap 'for l in "${loaders[@]}"; do kill "$l" 2>/dev/null || true; done; cleanup; rm -rf "$plugins"' EXIT
ln -s "$test_plugins/libmg_test_good.so" "$test_plugins/libmg_test_faulty.so" "$crashing_plugin" \
  "$plugins/"

data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
admin_key=$(cat "$data/admin.key")
printf 'TESTMODEL' >"$work/test.model"
"$modelgate" import --data-dir "$data" --backend test_good healthy "$work/test.model" \
  --config '{"instances": 2}' --promote >/dev/null
"$modelgate" import --data-dir "$data" --backend test_faulty faulty "$work/test.model" \
  --config '{"instances": 2}' --promote >/dev/null
# One instance: a hung batch holds everything queued behind it.
"$modelgate" import --data-dir "$data" --backend test_faulty single "$work/test.model" \
  --config '{"instances": 1}' --promote >/dev/null
config() {  # config MAX_RESTARTS WINDOW_SECONDS
  cat <<EOF
access_log = "off"
[limits]
inference_timeout_ms = 1000
[backends.test_faulty]
memory_mb = 256
open_files = 256
batch_timeout_ms = 3000
max_restarts = $1
restart_window_seconds = $2
EOF
}
config 1000 1 >"$work/modelgate.toml"
start_modelgate "$data" --config "$work/modelgate.toml" || fail "server did not start"
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$admin_key
body() { echo "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[$1,2,3,4]}]}"; }
infer() {  # infer MODEL FIRST_VALUE: prints "BODY STATUS"
  curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $admin_key" \
    -w ' %{http_code}' --data "$(body "$2")" "$MG_SERVER/v2/models/$1/infer"
}
ready() { curl -s -o /dev/null -w '%{http_code}' --cacert "$data/tls/cert.pem" \
  -H "Authorization: Bearer $admin_key" "$MG_SERVER/v2/models/$1/ready"; }
is_ready() { [[ $(ready "$1") == 200 ]]; }
wait_ready() { wait_until 30 is_ready "$1" || fail "$1 did not become ready again"; }
in_log() { grep -q "$1" "$work/serve.log"; }

expect "backend list: the plugins run out of process" "$("$mgctl" backend list)" "process"
crashed=$("$mgctl" backend list | grep test_init_crashes)
expect "a plugin crashing in backend_init: failed" "$crashed" "failed"
expect "a plugin crashing in backend_init: the signal" "$crashed" "signal 11"
expect "a plugin crashing in backend_init: the server did not open it" "$(cat "$work/serve.log")" \
  "backend 'test_good' 0.0.1-test (ABI 1.0) checked in a worker process"
expect "model show: isolation" "$("$mgctl" model show faulty)" "process"

# Clients on both models for the whole test.
body 1 >"$work/body.json"
stop=$work/stop-load
for model in healthy faulty; do
  python3 "$exact_load" "$MG_SERVER/v2/models/$model/infer" "$admin_key" "$work/body.json" \
    "$data/tls/cert.pem" 600 3 "$stop" >"$work/load-$model.txt" &
  loaders+=($!)
done

under_asan=0
# (Not `ldd | grep -q`: grep leaving early fails ldd with SIGPIPE, and pipefail the test.)
[[ $(ldd "$(dirname "$modelgate")/modelgate-worker") == *libasan* ]] && under_asan=1
check_fault() {  # check_fault MAGIC WHAT EXPECTED_MESSAGE
  local out
  wait_ready faulty
  out=$(infer faulty "$1")
  expect "$2: 503" "$out" " 503"
  expect "$2: backend_failed" "$out" '"code":"backend_failed"'
  expect "$2: names the backend and the cause" "$out" "backend 'test_faulty'"
  expect "$2: cause" "$out" "$3"
  wait_ready faulty
  expect "$2: the faulty model serves again" "$(infer faulty 1)" " 200"
}
check_fault 1001 segfault "signal 11 (Segmentation fault)"
check_fault 1002 abort "signal 6 (Aborted)"
check_fault 1003 exit "exited with status 3"
if ((under_asan)); then
  echo "skip leak to the memory limit: AddressSanitizer's shadow memory rules out RLIMIT_AS"
else
  check_fault 1004 "leak to the 256 MB limit" "signal 11 (Segmentation fault)"
fi
check_fault 1005 "spin forever" "missed its 3000 ms batch deadline"

# A request queued behind a hung batch past its deadline (limits.inference_timeout_ms, 1 s)
# is answered 503 deadline_exceeded once the batch is killed, and never run. It asks for
# an output selection of its own, so it cannot join the hung batch whatever the order.
infer single 1005 >"$work/spin.txt" &
spin=$!
sleep 1  # the spinning batch has started (its deadline is 3 s)
queued=$(curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $admin_key" -w ' %{http_code}' \
  --data '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}],"outputs":[{"name":"y"}]}' \
  "$MG_SERVER/v2/models/single/infer")
wait "$spin"
expect "hung batch: backend_failed" "$(cat "$work/spin.txt")" '"code":"backend_failed"'
expect "queued past its deadline: 503" "$queued" " 503"
expect "queued past its deadline: deadline_exceeded" "$queued" '"code":"deadline_exceeded"'
wait_ready single
expect "after the deadline the model serves" "$(infer single 1)" " 200"

wait_ready faulty
out=$(infer faulty 1006)
expect "network socket: refused, the plugin's error" "$out" " 500"
wait_until 10 in_log "socket: Operation not permitted" || fail "no socket refusal in the log"
out=$(infer faulty 1007)
expect "exec: refused, the plugin's error" "$out" " 500"
wait_until 10 in_log "exec: refused" || fail "no exec refusal in the log"
expect "the worker survived its refusals" "$(infer faulty 1)" " 200"

# 50 crash cycles: no process or descriptor of the server's is left behind. Client TCP
# connections come and go with the load, so they are left out of the count: what a
# worker costs the server is Unix sockets (its lanes, its control) and memfds (the lanes'
# regions). The sockets must not change; the regions are made when a lane first carries
# a batch after a restart, so they are bounded instead: two per lane, 5 lanes in all.
own_fds() {  # own_fds [memfd]: the server's files and Unix sockets, or its memfds
  local unix_inodes fd target inode count=0
  unix_inodes=" $(awk 'NR > 1 { printf "%s ", $7 }' /proc/net/unix) "
  for fd in /proc/"$pid"/fd/*; do
    target=$(readlink "$fd") || continue
    if [[ $target == /memfd:* ]]; then
      [[ ${1:-} == memfd ]] && count=$((count + 1))
      continue
    fi
    [[ ${1:-} == memfd ]] && continue
    if [[ $target == socket:* ]]; then
      inode=${target#socket:[}
      [[ $unix_inodes == *" ${inode%]} "* ]] || continue
    fi
    count=$((count + 1))
  done
  echo "$count"
}
wait_ready faulty
fds_before=$(own_fds)
children_before=$(pgrep -c -P "$pid" || true)
for cycle in $(seq 1 50); do
  wait_ready faulty
  out=$(infer faulty 1001)
  [[ $out == *'"code":"backend_failed"'* ]] || fail "cycle $cycle: $out"
done
wait_ready faulty
expect "after 50 crashes the faulty model serves" "$(infer faulty 1)" " 200"
# Counted once they settle: for up to ~2 s after the last crash the counts can still hold
# one dead worker's lanes (seen: 14 regions and +3 sockets, back to 10 and +0 within 2 s);
# a leak per crash never settles.
for _ in $(seq 1 50); do
  fds_after=$(own_fds)
  memfds_after=$(own_fds memfd)
  ((memfds_after <= 10 && fds_after <= fds_before + 4)) && break
  sleep 0.2
done
children_after=$(pgrep -c -P "$pid" || true)
echo "server: $fds_before -> $fds_after descriptors (files, Unix sockets), $memfds_after memfd regions, $children_before -> $children_after child processes over 50 crash cycles"
((children_after == children_before)) || fail "child processes grew: $children_before -> $children_after"
# A leak per crash would add 50 or more; a few come and go with the server's own work
# (seen: +2 in the ASan build), so the bound allows 4.
((fds_after <= fds_before + 4)) || fail "descriptors grew: $fds_before -> $fds_after"
((memfds_after <= 10)) || fail "memfd regions: $memfds_after, more than two per lane"
((children_after == 3)) || fail "expected one worker per model, found $children_after"

touch "$stop"
for l in "${loaders[@]}"; do wait "$l"; done
loaders=()
healthy=$(cat "$work/load-healthy.txt") faulty=$(cat "$work/load-faulty.txt")
echo "load: healthy $healthy; faulty $faulty"
[[ $healthy =~ ^ok=([0-9]+)\ failed=0$ ]] || fail "the healthy model failed requests: $healthy"
((BASH_REMATCH[1] > 0)) || fail "no healthy requests: $healthy"
[[ $faulty =~ ^ok=([1-9][0-9]*) ]] || fail "the faulty model never served under load: $faulty"

metrics=$(curl -sS "http://127.0.0.1:$metrics_port/metrics")
deaths=$(metric 'modelgate_worker_deaths_total{cause="sigsegv",model="faulty",version="1"}')
((deaths >= 51)) || fail "segfaults counted: $deaths"
expect "metrics: deadline deaths" "$metrics" 'modelgate_worker_deaths_total{cause="deadline",model="faulty",version="1"} 1'
expect "metrics: exits" "$metrics" 'modelgate_worker_deaths_total{cause="exit",model="faulty",version="1"} 1'
restarts=$(metric 'modelgate_worker_restarts_total{model="faulty",version="1"}')
# Five faults that kill (four when the leak is skipped) and the 50 cycles.
((restarts >= 55 - under_asan)) || fail "restarts counted: $restarts"
rss=$(metric 'modelgate_worker_resident_bytes{model="healthy",version="1"}')
((rss > 0)) || fail "no resident memory for the healthy worker"
expect "the log names the request of a failed batch" "$(cat "$work/serve.log")" "answered 503 backend_failed"
stop_modelgate

# Restarts stop after max_restarts failures in the window: the version is failed.
config 2 300 >"$work/modelgate.toml"
start_modelgate "$data" --config "$work/modelgate.toml" || fail "server did not restart"
export MG_SERVER=https://localhost:$port
expect "crash 1" "$(infer faulty 1002)" '"code":"backend_failed"'
wait_ready faulty
expect "crash 2" "$(infer faulty 1002)" '"code":"backend_failed"'
model_failed() { "$mgctl" model show faulty | grep -q failed; }
wait_until 10 model_failed || fail "the version did not become failed: $("$mgctl" model show faulty)"
expect "failed: the reason" "$("$mgctl" model show faulty)" "no more restarts"
expect "failed: not ready" "$(ready faulty)" "503"
health=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$data/tls/cert.pem" "$MG_SERVER/v2/health/ready")
expect "failed: server not ready" "$health" "503"
expect "the healthy model still serves" "$(infer healthy 1)" " 200"
expect "metrics: the failed state" "$(curl -sS "http://127.0.0.1:$metrics_port/metrics")" \
  'modelgate_model_state{model="faulty",state="failed",version="1"} 1'
# An operator loads it again: a fresh worker, restarts counted anew.
expect "load again" "$("$mgctl" model load faulty 1)" "ready"
expect "loaded again: ready" "$(ready faulty)" "200"
expect "loaded again: serves" "$(infer faulty 1)" " 200"
stop_modelgate
echo "worker faults: all checks passed"

#!/usr/bin/env bash
# Overload, short form (bench/reliability/overload.sh is the long one): with at most 4
# requests allowed to wait for a handler thread (32 of them) and a model whose batches
# are held until the test opens a gate, 60 concurrent requests get either their answer or
# an immediate 503 overloaded with Retry-After — nothing else, nothing lost: exactly 36
# held (32 handler threads, 4 queued) and 24 shed — the shed ones are counted in
# modelgate_shed_requests_total, and the server serves normally afterwards. Admin requests
# have their own executor: in the middle of the flood an operator still revokes a key.
# A model in a worker process holds no handler thread while its requests wait: its bound
# is the model's queue (max_queue), beyond which requests are refused the same way.
# Nothing here depends on timing: the gate (the test backend's "gate" mode) holds the
# batches for as long as the test needs.
# usage: overload_test.sh MODELGATE PLUGIN_DIR TEST_PLUGIN_DIR
set -euo pipefail
modelgate=$1 plugins=$2 test_plugins=$3
source "$(dirname "$0")/../e2e_lib.sh"

data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
admin_key=$(cat "$data/admin.key")
gate=$work/gate
printf 'TESTMODEL' >"$work/test.model"
"$modelgate" import --data-dir "$data" --backend test_good gated "$work/test.model" \
  --config '{"max_batch_size": 8, "max_queue_delay_us": 1000, "mode": "gate", "gate_file": "'"$gate"'", "isolation": "inline", "instances": 1}' \
  --promote >/dev/null
# In a worker; its requests send 8 rows, the plugin's largest batch, so each batch holds
# one request: exactly one is held at the gate and 4 wait.
"$modelgate" import --data-dir "$data" --backend test_good gated-worker "$work/test.model" \
  --config '{"max_queue": 4, "instances": 1, "mode": "gate", "gate_file": "'"$gate-worker"'", "isolation": "process"}' \
  --promote >/dev/null
printf '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}' >"$work/request.json"
printf 'access_log = "off"\nthreads = 2\n[limits]\nmax_queued_requests = 4\n' >"$work/config.toml"
start_modelgate "$data" --config "$work/config.toml" --plugin-dir "$test_plugins" ||
  fail "server did not start"
url=https://localhost:$port/v2/models/gated/infer
one() {
  curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $admin_key" \
    -D "$work/h.$1" -o "$work/b.$1" -w '%{http_code}\n' --data @"$work/request.json" "$url"
}
admin() {  # admin METHOD PATH [BODY]: prints the status
  curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $admin_key" -X "$1" \
    -o "$work/admin.out" -w '%{http_code}' ${3:+--data "$3"} "https://localhost:$port/admin/v1$2"
}
[[ $(admin POST /tenants '{"name":"suspect"}') == 201 ]] || fail "tenant: $(cat "$work/admin.out")"
[[ $(admin POST /keys '{"tenant":"suspect"}') == 201 ]] || fail "key: $(cat "$work/admin.out")"
suspect_id=$(sed -n 's/.*"id":"\([a-z0-9]*\)".*/\1/p' "$work/admin.out")
check_a_refusal() {  # check_a_refusal WHAT: the first 503 of the flood says overloaded, retry
  local i
  for i in $(seq 1 60); do
    grep -q '^HTTP/1.1 503' "$work/h.$i" || continue
    grep -qi '^Retry-After: 1' "$work/h.$i" || fail "$1: 503 without Retry-After"
    expect "$1: 503 body" "$(cat "$work/b.$i")" '"code":"overloaded"'
    return
  done
}
export -f one
export work data admin_key url
seq 1 60 | xargs -P 60 -I{} bash -c 'one {}' >"$work/codes" &
flood=$!
# Every request is placed once 24 have been shed: the other 36 are held behind the gate.
shed_so_far() { (($(grep -c '^503$' "$work/codes" || true) >= 24)); }
wait_until 60 shed_so_far || fail "not shed: $(sort "$work/codes" | uniq -c)"
status=$(admin DELETE "/keys/$suspect_id")
[[ $status == 200 ]] || fail "revoking a key during the flood: $status $(cat "$work/admin.out")"
echo "ok   a key revoked in the middle of the flood"
touch "$gate"
wait "$flood"
ok=$(grep -c '^200$' "$work/codes" || true) shed=$(grep -c '^503$' "$work/codes" || true)
echo "60 concurrent requests: $ok answered, $shed shed"
((ok + shed == 60)) || fail "other answers: $(sort "$work/codes" | uniq -c)"
((ok == 36 && shed == 24)) || fail "expected 36 answered (32 handler threads + 4 queued), 24 shed"
check_a_refusal "shed"
metrics=$(curl -sS "http://127.0.0.1:$metrics_port/metrics")
expect "shed counted" "$metrics" "modelgate_shed_requests_total $shed"
[[ $(one after) == 200 ]] || fail "not serving after the overload"
echo "ok   serving normally afterwards"

# The worker-process model: 1 held at its gate + 4 queued (max_queue) answered, 55 refused.
url=https://localhost:$port/v2/models/gated-worker/infer
rows=$(printf '1,2,3,4,%.0s' {1..8})
printf '{"inputs":[{"name":"x","datatype":"FP32","shape":[8,4],"data":[%s]}]}' "${rows%,}" >"$work/request.json"
seq 1 60 | xargs -P 60 -I{} bash -c 'one {}' >"$work/codes" &
flood=$!
refused_so_far() { (($(grep -c '^503$' "$work/codes" || true) >= 55)); }
wait_until 60 refused_so_far || fail "worker model: not refused: $(sort "$work/codes" | uniq -c)"
touch "$gate-worker"
wait "$flood"
ok=$(grep -c '^200$' "$work/codes" || true) refused=$(grep -c '^503$' "$work/codes" || true)
echo "worker model, 60 concurrent requests: $ok answered, $refused refused"
((ok == 5 && refused == 55)) || fail "expected 5 answered (1 held + 4 queued), 55 refused: $(sort "$work/codes" | uniq -c)"
check_a_refusal "worker model"
[[ $(one after-worker) == 200 ]] || fail "worker model: not serving after the overload"
echo "ok   worker model: bounded by its queue, serving normally afterwards"
stop_modelgate
echo "overload: all checks passed"

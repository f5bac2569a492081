#!/usr/bin/env bash
# Overload, short form (bench/reliability/overload.sh is the long one): with at most 4
# requests allowed to wait for a handler thread and a model whose batches take a while,
# 60 concurrent requests get either their answer or an immediate 503 overloaded with
# Retry-After — nothing else, nothing lost — the shed ones are counted in
# modelgate_shed_requests_total, and the server serves normally afterwards. Admin requests
# have their own executor: in the middle of the flood an operator still revokes a key.
# usage: overload_test.sh MODELGATE PLUGIN_DIR EXAMPLES_DIR
set -euo pipefail
modelgate=$1 plugins=$2 examples=$3
source "$(dirname "$0")/../e2e_lib.sh"

data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
admin_key=$(cat "$data/admin.key")
# Batches that wait up to 8 s for 64 rows: requests hold their handler thread (32 of them)
# a while, so 60 requests cannot all be held or queued (4) however slowly they arrive. (With
# 2 s, an ASan server on a loaded machine once took the 60 TLS handshakes slowly enough
# that the first batch ran before the rest arrived, and nothing was shed.)
"$modelgate" import --data-dir "$data" slow-mlp "$examples/models/fashion-mlp.onnx" \
  --config '{"max_batch_size": 64, "preferred_batch_sizes": [64], "max_queue_delay_us": 8000000}' \
  --promote >/dev/null
printf 'access_log = "off"\nthreads = 2\n[limits]\nmax_queued_requests = 4\n' >"$work/config.toml"
start_modelgate "$data" --config "$work/config.toml" || fail "server did not start"
url=https://localhost:$port/v2/models/slow-mlp/infer
one() {
  curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $admin_key" \
    -D "$work/h.$1" -o "$work/b.$1" -w '%{http_code}\n' --data @"$examples/requests/fashion-mlp.json" "$url"
}
admin() {  # admin METHOD PATH [BODY]: prints the status
  curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $admin_key" -X "$1" \
    -o "$work/admin.out" -w '%{http_code}' ${3:+--data "$3"} "https://localhost:$port/admin/v1$2"
}
[[ $(admin POST /tenants '{"name":"suspect"}') == 201 ]] || fail "tenant: $(cat "$work/admin.out")"
[[ $(admin POST /keys '{"tenant":"suspect"}') == 201 ]] || fail "key: $(cat "$work/admin.out")"
suspect_id=$(sed -n 's/.*"id":"\([a-z0-9]*\)".*/\1/p' "$work/admin.out")
export -f one
export work data admin_key url examples
seq 1 60 | xargs -P 60 -I{} bash -c 'one {}' >"$work/codes" &
flood=$!
sleep 2  # the flood holds every handler thread and fills the queue (batches wait 8 s)
status=$(admin DELETE "/keys/$suspect_id")
[[ $status == 200 ]] || fail "revoking a key during the flood: $status $(cat "$work/admin.out")"
echo "ok   a key revoked in the middle of the flood"
wait "$flood"
ok=$(grep -c '^200$' "$work/codes" || true) shed=$(grep -c '^503$' "$work/codes" || true)
echo "60 concurrent requests: $ok answered, $shed shed"
((ok + shed == 60)) || fail "other answers: $(sort "$work/codes" | uniq -c)"
((shed > 0)) || fail "nothing was shed with 4 queued requests allowed"
((ok >= 8)) || fail "too few answered: $ok"
for i in $(seq 1 60); do
  grep -q '^HTTP/1.1 503' "$work/h.$i" || continue
  grep -qi '^Retry-After: 1' "$work/h.$i" || fail "503 without Retry-After"
  expect "503 body" "$(cat "$work/b.$i")" '"code":"overloaded"'
  break
done
metrics=$(curl -sS "http://127.0.0.1:$metrics_port/metrics")
expect "shed counted" "$metrics" "modelgate_shed_requests_total $shed"
[[ $(one after) == 200 ]] || fail "not serving after the overload"
echo "ok   serving normally afterwards"
stop_modelgate
echo "overload: all checks passed"

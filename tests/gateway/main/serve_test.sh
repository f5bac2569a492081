#!/usr/bin/env bash
# End to end: the real modelgate binary over real TLS, driven with curl.
#   init (twice), import, serve on port 0, health, metadata, JSON inference, errors,
#   plain HTTP refused, 413, keep-alive reuse, Connection: close, slow clients cut off by
#   the deadlines while others are served, SIGTERM with requests in flight: all answered,
#   exit 0.
# usage: serve_test.sh MODELGATE PLUGIN_DIR EXAMPLES_DIR
set -euo pipefail
modelgate=$1 plugins=$2 examples=$3
# shellcheck source=../../e2e_lib.sh
source "$(dirname "$0")/../../e2e_lib.sh"

data=$work/data
out=$("$modelgate" init --data-dir "$data")
expect "init" "$out" "initialised $data"
# The first admin key goes to a 0600 file, never to a stdout that is not a terminal (logs).
expect "init names the key file" "$out" "admin key written to $data/admin.key"
[[ "$out" != *"mg_"* ]] || fail "init printed the admin key to a pipe: $out"
admin_key=$(grep -x 'mg_[a-z0-9]\{12\}_[A-Za-z0-9]\{40\}' "$data/admin.key" || true)
[[ -n "$admin_key" ]] || fail "no admin key in $data/admin.key"
[[ $(stat -c %a "$data/admin.key") == 600 ]] || fail "admin key file mode"
# On a terminal (script(1) gives init one), a person sees the key once as well.
tty_out=$(script -qc "'$modelgate' init --data-dir '$work/data-tty'" /dev/null)
expect "init on a terminal shows the key" "$tty_out" "admin key: $(cat "$work/data-tty/admin.key")"
[[ $(stat -c %a "$data/master.key") == 600 ]] || fail "master key mode"
[[ $(stat -c %a "$data/tls/key.pem") == 600 ]] || fail "TLS key mode"
out=$("$modelgate" init --data-dir "$data")
expect "init again changes nothing" "$out" "already initialised"
[[ "$out" != *"admin key"* ]] || fail "a second init printed another admin key"
for m in fashion-mlp text-classifier; do
  "$modelgate" import --data-dir "$data" "$m" "$examples/models/$m.onnx" \
    --config '{"max_batch_size": 8}' --promote >/dev/null
done
# A model whose batches wait up to 3 s for 8 rows: requests to it stay in flight a while.
"$modelgate" import --data-dir "$data" slow-mlp "$examples/models/fashion-mlp.onnx" \
  --config '{"max_batch_size": 8, "preferred_batch_sizes": [8], "max_queue_delay_us": 3000000}' \
  --promote >/dev/null
# No max_batch_size, and the server's [backends.cpu] below keeps such models unbatched.
"$modelgate" import --data-dir "$data" unbatched-mlp "$examples/models/fashion-mlp.onnx" \
  --promote >/dev/null
cat >"$work/config.toml" <<EOT
[limits]
handshake_timeout_seconds = 2
read_timeout_seconds = 2
buffered_body_bytes = 1000000
[backends.cpu]
batch_by_default = false
EOT

start_server() {
  start_modelgate "$data" --config "$work/config.toml" || fail "server exited during start"
  base=https://localhost:$port
  [[ -n "$metrics_port" ]] || fail "no metrics line"
}
start_server
anon() { curl -sS --cacert "$data/tls/cert.pem" "$@"; }
c() { anon -H "Authorization: Bearer $admin_key" "$@"; }
# Series of fixed label sets are exported at 0 before their first event (rate() needs them).
metrics=$(curl -sS "http://127.0.0.1:$metrics_port/metrics")
expect "metrics: auth failures at 0 from the start" "$metrics" \
  'modelgate_auth_failures_total{reason="bad_signature"} 0'
expect "metrics: refusals at 0 from the start" "$metrics" \
  'modelgate_refused_requests_total{code="payload_too_large"} 0'

expect "health live" "$(c $base/v2/health/live)" '{"live":true}'
expect "health needs no key" "$(anon $base/v2/health/ready)" '{"ready":true}'
expect "no key, no model" "$(anon $base/v2/models/fashion-mlp)" '"code":"missing_credentials"'
expect "wrong key" "$(anon -H "Authorization: Bearer $(wrong_key "$admin_key")" $base/v2/models/fashion-mlp)" \
  '"code":"invalid_key"'
expect "health ready" "$(c $base/v2/health/ready)" '{"ready":true}'
expect "metadata" "$(c $base/v2/models/fashion-mlp)" '"shape":[-1,28,28]'
expect "model ready" "$(c $base/v2/models/fashion-mlp/versions/1/ready)" '"ready":true'
expect "a model's max_batch_size holds" "$(c $base/v2/models/fashion-mlp/config)" '"max_batch_size":8'
expect "batch_by_default = false reaches the plugin" "$(c $base/v2/models/unbatched-mlp/config)" \
  '"max_batch_size":0'
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
expect "unknown route" "$(c $base/v3/nothing)" '"code":"not_found"'
# Credentials are checked from the head: a wrong key announcing a 50 MB body is answered
# 401 at once, before a byte of the body is sent (the client here never sends one).
raw() {  # raw SECONDS: the request on stdin over TLS, held open SECONDS; prints the answer
  { cat; sleep "$1"; } | timeout $(($1 + 5)) openssl s_client -quiet -connect "127.0.0.1:$port" \
    -CAfile "$data/tls/cert.pem" 2>/dev/null || true
}
out=$(printf 'POST /v2/models/fashion-mlp/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 50000000\r\n\r\n' \
  "$(wrong_key "$admin_key")" | raw 1)
expect "wrong key refused from the head, body unread" "$out" "HTTP/1.1 401"
expect "wrong key refused from the head: code" "$out" '"code":"invalid_key"'
# Buffered bodies share a budget (1 MB here): while one request holds 900 kB of it (its
# body still coming), another that would pass the budget is answered 503 unread.
# The holder is openssl reading a fifo this script keeps open (fd 7): no process sleeps,
# and killing it closes the connection.
mkfifo "$work/holder.in"
openssl s_client -quiet -connect "127.0.0.1:$port" -CAfile "$data/tls/cert.pem" \
  <"$work/holder.in" >/dev/null 2>&1 &
holder=$!
exec 7>"$work/holder.in"
printf 'POST /v2/models/fashion-mlp/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 900000\r\n\r\n{' \
  "$admin_key" >&7
head -c 200000 /dev/zero | tr '\0' ' ' >"$work/200k.body"
status_is() {  # status_is CODE: the 200 kB request is answered CODE
  [[ $(c -o "$work/budget.out" -w '%{http_code}' --data-binary @"$work/200k.body" \
    $base/v2/models/fashion-mlp/infer) == "$1" ]]
}
# Refused as soon as the holder's head has been read (before it, it would pass: 400).
wait_until 30 status_is 503 || fail "a body past the buffered budget: $(cat "$work/budget.out")"
expect "buffered budget: overloaded" "$(cat "$work/budget.out")" '"code":"overloaded"'
kill "$holder"
wait "$holder" 2>/dev/null || true
exec 7>&-
wait_until 30 status_is 400 || fail "the budget was not given back: $(cat "$work/budget.out")"
echo "ok   buffered-body budget: 503 past it, given back after"
# TLS 1.2 renegotiation is refused (a client-forced handshake costs the server a full one).
out=$( (printf 'R\n'; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 \
  -CAfile "$data/tls/cert.pem" 2>&1 || true)
expect "renegotiation attempted" "$out" "RENEGOTIATING"
expect "renegotiation refused" "$out" "no renegotiation"
# No core dumps: the process holds decrypted models and key material.
expect "core dumps off" "$(grep '^Max core file size' /proc/$pid/limits)" "Max core file size        0                    0"
if curl -sS -m 5 "http://127.0.0.1:$port/v2/health/live" >/dev/null 2>&1; then
  fail "plain HTTP was answered"
fi
echo "ok   plain HTTP refused"
out=$(c -v $base/v2/health/live $base/v2/health/ready 2>&1)
expect "keep-alive reuses the connection" "$out" "Re-using existing connection"
out=$(c -v -H 'Connection: close' $base/v2/health/live 2>&1)
expect "Connection: close honoured" "$out" "< Connection: close"
expect "server still serves" "$(c $base/v2/health/live)" '{"live":true}'

# X-Request-Id is echoed (or made up), and each request is one JSON line in the access log
# (stdout) with its tenant, key id (never the secret), model, status and durations.
out=$(c -D - -H 'X-Request-Id: trace-42' --data @"$examples/requests/fashion-mlp.json" \
  $base/v2/models/fashion-mlp/infer)
expect "request id echoed" "$out" "X-Request-Id: trace-42"
expect "request id made up" "$(c -D - -o /dev/null $base/v2/health/live)" "X-Request-Id: "
logged() { grep -q "\"request_id\":\"$1\"" "$work/serve.log"; }  # written every 200 ms
wait_until 10 logged trace-42 || fail "trace-42 not in the access log"
line=$(grep '"request_id":"trace-42"' "$work/serve.log" || true)
expect "access log line" "$line" '"method":"POST","path":"/v2/models/fashion-mlp/infer","status":200,"code":"ok","tenant":"admin","key_id":"'"${admin_key:3:12}"'"'
expect "access log model" "$line" '"model":"fashion-mlp","version":1,"total_ms":'
expect "access log durations" "$line" '"queue_ms":'
# Refused requests are logged too, with the path as sent (percent-encoding kept).
c -o /dev/null -H 'X-Request-Id: trace-43' "$base/v2/models/a%22b%5C%0A/infer" -d '{}'
wait_until 10 logged trace-43 || fail "trace-43 not in the access log"
line=$(grep '"request_id":"trace-43"' "$work/serve.log" || true)
expect "access log: a 404 with its path as sent" "$line" '"path":"/v2/models/a%22b%5C%0A/infer"'
# Admin calls name who made them.
c -o /dev/null -H 'X-Request-Id: trace-44' "$base/admin/v1/models"
wait_until 10 logged trace-44 || fail "trace-44 not in the access log"
line=$(grep '"request_id":"trace-44"' "$work/serve.log" || true)
expect "access log: admin call with its key id" "$line" \
  '"path":"/admin/v1/models","status":200,"code":"ok","tenant":"admin","key_id":"'"${admin_key:3:12}"'"'
# Uploads refused from their head (never streamed) are logged and answered like the rest.
out=$(anon -D - -H 'X-Request-Id: trace-45' -H "Authorization: Bearer $(wrong_key "$admin_key")" \
  --data-binary @"$examples/models/fashion-mlp.onnx" "$base/admin/v1/models/fashion-mlp/versions")
expect "refused upload: 401" "$out" '"code":"invalid_key"'
expect "refused upload: request id echoed" "$out" "X-Request-Id: trace-45"
out=$(c -D - -H 'X-Request-Id: trace-46' -H 'Content-Encoding: gzip' \
  --data-binary @"$examples/models/fashion-mlp.onnx" "$base/admin/v1/models/fashion-mlp/versions")
expect "refused upload: 415" "$out" '"code":"unsupported_media_type"'
wait_until 10 logged trace-45 || fail "the refused upload trace-45 is not in the access log"
expect "access log: refused upload" "$(grep '"request_id":"trace-45"' "$work/serve.log")" \
  '"path":"/admin/v1/models/fashion-mlp/versions","status":401,"code":"invalid_key"'
wait_until 10 logged trace-46 || fail "the refused upload trace-46 is not in the access log"
expect "access log: refused upload, admin named" "$(grep '"request_id":"trace-46"' "$work/serve.log")" \
  '"status":415,"code":"unsupported_media_type"'
[[ "$(cat "$work/serve.log")" != *"${admin_key:16}"* ]] || fail "a key secret is in the log"

# The metrics listener: plain HTTP, counts what was just served.
metrics=$(curl -sS "http://127.0.0.1:$metrics_port/metrics")
expect "metrics: requests" "$metrics" 'modelgate_inference_requests_total{model="fashion-mlp",outcome="ok",protocol="http",version="1"}'
expect "metrics: errors by code" "$metrics" 'outcome="bad_request"'
expect "metrics: latency histogram" "$metrics" 'modelgate_request_duration_seconds_bucket{model="fashion-mlp"'
expect "metrics: model state" "$metrics" 'modelgate_model_state{model="fashion-mlp",state="ready",version="1"} 1'
expect "metrics: backend" "$metrics" 'modelgate_backend_info{abi="1.0",backend="cpu"'
expect "metrics: auth failures" "$metrics" 'modelgate_auth_failures_total{reason="missing_credentials"}'
expect "metrics: build" "$metrics" 'modelgate_build_info{version="0.1.0"} 1'
expect "metrics: 413s counted" "$metrics" 'modelgate_refused_requests_total{code="payload_too_large"} 1'
expect "metrics: unknown routes counted" "$metrics" 'modelgate_refused_requests_total{code="not_found"} 1'
expect "metrics: queue time" "$metrics" 'modelgate_queue_duration_seconds_count{model="fashion-mlp",version="1"}'
expect "metrics: compute time" "$metrics" 'modelgate_compute_duration_seconds_bucket{model="fashion-mlp"'
expect "metrics: batch size" "$metrics" 'modelgate_batch_size_bucket{model="fashion-mlp"'
expect "metrics: process memory" "$metrics" 'process_resident_memory_bytes '
expect "metrics: process fds" "$metrics" 'process_open_fds '
expect "metrics: tenant requests" "$metrics" 'modelgate_tenant_requests_total{tenant="admin"}'
[[ "$metrics" != *nope* ]] || fail "an unknown model name from a request became a label"
expect "metrics: unknown models counted without a name" "$metrics" \
  'modelgate_inference_requests_total{model="",outcome="model_not_found",protocol="http",version=""} '

# Slow clients: one never finishes its TLS handshake, one sends half a header and stalls.
# The deadlines (2 s here) cut both off, and meanwhile everyone else is served.
start=$SECONDS
exec 3<>/dev/tcp/127.0.0.1/$port  # a TCP connection that never says a word
head -c 2000 /dev/zero >"$work/slow.body"  # sent at 50 bytes/s: 40 s at that pace
c --limit-rate 50 --data-binary @"$work/slow.body" -o /dev/null \
  $base/v2/models/fashion-mlp/infer 2>/dev/null &
slow=$!
expect "served while slow clients hang" "$(c $base/v2/health/live)" '{"live":true}'
wait "$slow" || true
(( SECONDS - start < 15 )) || fail "a stalled request was not cut off by the read deadline"
echo "ok   stalled upload cut off after $((SECONDS - start)) s"
if read -t 15 -u 3 _; then :; fi  # returns at EOF, when the server drops the silent socket
(( SECONDS - start < 18 )) || fail "a silent connection was not dropped"
exec 3<&-
echo "ok   silent connection dropped"

# SIGTERM with requests in flight: three requests wait in slow-mlp's batch queue; the
# server drains them (all answered 200), then exits 0.
inflight=()
for i in 1 2 3; do
  c -o "$work/inflight$i.out" -w '%{http_code}' --data @"$examples/requests/fashion-mlp.json" \
    $base/v2/models/slow-mlp/infer >"$work/inflight$i.code" &
  inflight+=($!)
done
inflight_is() { [[ $(metric modelgate_inflight_requests) == "$1" ]]; }
wait_until 30 inflight_is 3 || fail "the three requests did not reach the server"
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGTERM"
wait "$pid" && status=0 || status=$?
pid=
[[ $status == 0 ]] || fail "exit status $status after SIGTERM"
echo "ok   SIGTERM: exit 0"
wait "${inflight[@]}" || true
for i in 1 2 3; do
  [[ $(cat "$work/inflight$i.code") == 200 ]] || fail "in-flight request $i: status $(cat "$work/inflight$i.code"), $(cat "$work/inflight$i.out" 2>/dev/null)"
done
echo "ok   requests in flight at SIGTERM all answered"

# A restart on the same data dir serves the same models again.
start_server
expect "after a restart" "$(c --data @"$examples/requests/fashion-mlp.json" \
  $base/v2/models/fashion-mlp/infer)" '"model_version":"1"'
stop_modelgate
echo "serve_test: all passed"

#!/usr/bin/env bash
# kill -9 of the server under inference load, then restart on the same data dir:
#   the registry passes PRAGMA integrity_check; no key, model or version is lost; usage
#   lost is at most about one second of traffic (the meter flushes every second); clients
#   saw only connection errors (requests in flight), never a wrong or error answer.
# usage: kill_under_load_test.sh MODELGATE MGCTL PLUGIN_DIR EXAMPLES_DIR POST_LUA
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4 post_lua=$5
source "$(dirname "$0")/../e2e_lib.sh"

data=$work/data
init_with_mlp "$data"
start_modelgate "$data" --config <(echo 'access_log = "off"') || fail "server did not start"
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$admin_key
m() { "$mgctl" "$@"; }
m tenant create acme >/dev/null
for i in 1 2 3; do m key create --tenant acme --scope infer >/dev/null; done
key=$(m --json key create --tenant acme --scope infer | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
m model upload fashion-mlp "$examples/models/fashion-mlp.onnx" >/dev/null  # version 2
m model alias fashion-mlp canary 2 >/dev/null
snapshot() {  # key ids, model versions and aliases, sorted
  {
    m --json key list | grep -o '"id":"[a-z0-9]*"'
    m --json model versions fashion-mlp | grep -o '"version":[0-9]*'
    m model versions fashion-mlp | grep -o 'canary\|default'
  } | sort
}
before=$(snapshot)

# Load: wrk for 8 s; the server is killed 4 s in.
BODY=$examples/requests/fashion-mlp.json KEY=$key \
  wrk -t1 -c8 -d8s -s "$post_lua" "$MG_SERVER/v2/models/fashion-mlp/infer" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
sleep 4
kill -KILL "$pid"
killed_at=$(date +%s.%N)
wait "$pid" 2>/dev/null || true
pid=
wait "$wrk_pid" || true
result=$(grep '^RESULT' "$work/wrk.out") || fail "no wrk result: $(cat "$work/wrk.out")"
echo "wrk: $result"
requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$result")
non2xx=$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$result")
((requests > 100)) || fail "too little load to judge: $requests requests"
((non2xx == 0)) || fail "$non2xx answers were errors: only connection errors are acceptable"
echo "ok   $requests answers before the kill, all 200; the rest were connection errors"

start_modelgate "$data" --config <(echo 'access_log = "off"') || fail "restart after kill -9"
export MG_SERVER=https://localhost:$port
integrity=$(sqlite3 "$data/registry.db" 'PRAGMA integrity_check')
expect "registry integrity after kill -9" "$integrity" "ok"
after=$(snapshot)
[[ "$after" == "$before" ]] || fail "keys or versions changed: before [$before] after [$after]"
echo "ok   every key, version and alias survived ($(wc -l <<<"$after") items)"
metered=$(m usage --tenant acme --format csv | awk -F, 'NR > 1 { n += $6 } END { print n + 0 }')
# Throughput over the 4 s of load; loss in seconds of that throughput.
awk -v answered="$requests" -v metered="$metered" 'BEGIN {
  rate = answered / 4; lost = answered - metered
  printf "usage: %d answered, %d metered, %d lost = %.2f s of traffic (%.0f req/s)\n",
    answered, metered, lost, lost / rate, rate
  # At most the last flush interval (1 s) plus the flush itself; metered may exceed
  # answered by the requests in flight (8 connections) whose answers never arrived.
  exit !(lost / rate <= 1.25 && lost >= -8)
}' || fail "usage loss beyond one second"
echo "ok   usage loss within one second"
stop_modelgate
echo "kill -9 under load: all checks passed"

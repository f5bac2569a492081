#!/usr/bin/env bash
# kill -9 of one replica under load, behind Debian's nginx: the other replica keeps
# serving (nginx retries a dead upstream's connection errors on the other), and the usage
# ledger afterwards holds every 200 response the client saw, none twice: every answered
# request was counted in Redis before its answer left, and the counters reach PostgreSQL
# exactly once whichever replica flushes them (docs/operations.md "Cluster mode", usage).
# The one request the ledger may hold beyond the 200s is one the killed replica had
# computed and counted but whose answer died with it (the client saw it fail): no server
# can know whether an answer reached its client without the client saying so, so the
# bound is the failed requests, and the difference is printed.
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4
# shellcheck source=../e2e_lib.sh
source "$(dirname "$0")/../e2e_lib.sh"
cluster_dir=$(dirname "$0")
# shellcheck source=cluster_lib.sh
source "$cluster_dir/cluster_lib.sh"
request=$examples/requests/fashion-mlp.json

start_balanced_cluster
on a tenant create load >/dev/null
key=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' <<<"$(on a --json key create --tenant load --scope infer)")
wait_until 10 bash -c "[[ \$(curl -sS --cacert '$MG_CACERT' -H 'Authorization: Bearer $key' --data @'$request' -o /dev/null -w '%{http_code}' 'https://localhost:$port_b$infer_path') == 200 ]]" ||
  fail "B does not accept the new key"
# (that probe was one request of the tenant: counted below)

# Not wrk: it abandons a request in flight per connection at its deadline, which the
# server still answers and meters. This client counts every answer it gets.
python3 "$cluster_dir/exact_load.py" "$lb$infer_path" "$key" "$request" "$MG_CACERT" 6 8 \
  >"$work/load.out" &
loader=$!
sleep 2
kill -9 "$pid_a"
wait "$loader"
result=$(cat "$work/load.out")
ok=$(sed -n 's/^ok=\([0-9]*\) .*/\1/p' <<<"$result")
failed=$(sed -n 's/.* failed=\([0-9]*\)$/\1/p' <<<"$result")
seen_ok=$((ok + 1))  # + the probe above
echo "load through nginx while A was killed: $result"
((ok > 100)) || fail "too little load to mean anything: $result"
# After the kill every request gets an answer from B.
for i in $(seq 1 20); do
  status=$(curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $key" --data @"$request" \
    -o /dev/null -w '%{http_code}' "$lb$infer_path")
  [[ $status == 200 ]] || fail "request $i after the kill: $status"
done
seen_ok=$((seen_ok + 20))
kill -0 "$pid_b" || fail "B died"
wait_usage_flushed
ledger=$(ledger_sum b load 'r["requests"] - r["errors"]')
echo "usage ledger: $ledger successful requests; 200 responses seen by the clients: $seen_ok; failed at the kill: $failed; counted but never delivered: $((ledger - seen_ok))"
((ledger >= seen_ok)) || fail "the usage ledger ($ledger) lost some of the $seen_ok 200 responses"
((ledger <= seen_ok + failed)) ||
  fail "the usage ledger ($ledger) counts more than the $seen_ok 200 responses and the $failed failed requests"
echo "PASS failover: B kept serving after kill -9 of A"

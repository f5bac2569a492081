#!/usr/bin/env bash
# kill -9 of one replica under load, behind Debian's nginx: the other replica keeps
# serving (nginx retries a dead upstream's connection errors on the other), and the usage
# ledger afterwards is compared with the 200 responses the client saw. Each replica
# meters usage in memory and adds it to PostgreSQL every second, so the killed replica's
# last second may be missing: the difference is printed and bounded here, not required to
# be zero (docs/operations.md "Cluster mode", usage).
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4 post_lua=$5
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

BODY=$request KEY=$key wrk -t1 -c8 -d6s -s "$post_lua" "$lb$infer_path" >"$work/wrk.out" &
loader=$!
sleep 2
kill -9 "$pid_a"
wait "$loader"
result=$(grep '^RESULT' "$work/wrk.out")
requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$result")
non2xx=$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$result")
errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$result")
seen_ok=$((requests - non2xx + 1))  # + the probe above
echo "load through nginx while A was killed: $result"
((requests > 100)) || fail "too little load to mean anything: $result"
# After the kill every request gets an answer from B.
for i in $(seq 1 20); do
  status=$(curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $key" --data @"$request" \
    -o /dev/null -w '%{http_code}' "$lb$infer_path")
  [[ $status == 200 ]] || fail "request $i after the kill: $status"
done
seen_ok=$((seen_ok + 20))
kill -0 "$pid_b" || fail "B died"
ledger=$(on b --json usage --tenant load | grep -o '"requests":[0-9]*' | cut -d: -f2 | paste -sd+ | bc)
echo "usage ledger: $ledger requests; 200 responses seen by the clients: $seen_ok; failed at the kill: $((non2xx + errors)); missing from the ledger: $((seen_ok - ledger))"
((ledger <= seen_ok)) || fail "the ledger counts more requests ($ledger) than were answered ($seen_ok)"
echo "PASS failover: B kept serving after kill -9 of A"

#!/usr/bin/env bash
# Limits that hold across replicas: two `modelgate serve` replicas on a real PostgreSQL and
# a real Redis, Debian's nginx balancing between them, everything over real TLS on
# 127.0.0.1.
# - a key limited to 50/s, loaded through nginx and directly at the same time, is admitted
#   at 50/s ±10% in total (not 100: each replica alone would admit 50/s);
# - a tenant quota of 1,000, hit by 4 concurrent clients spread over the replicas, gives
#   exactly 1,000 successes;
# - a signed request replayed on the other replica gets replayed_nonce;
# - Redis commands per request, from Redis's own INFO commandstats (printed);
# - Redis stopped: 503 limits_unavailable (the default, closed); Redis back: admitted
#   again, with no restart of the replicas.
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4 post_lua=$5
# shellcheck source=../e2e_lib.sh
source "$(dirname "$0")/../e2e_lib.sh"
cluster_dir=$(dirname "$0")
# shellcheck source=cluster_lib.sh
source "$cluster_dir/cluster_lib.sh"
request=$examples/requests/fashion-mlp.json

start_balanced_cluster

key_of() { sed -n 's/.*"key":"\([^"]*\)".*/\1/p' <<<"$1"; }

# 50/s with a burst of 5, through nginx and straight to B at once, for 4 s each.
fast_key=$(key_of "$(on a --json key create --tenant admin --scope infer --rate 50/s --burst 5)")
redis-cli -u "$redis_url" CONFIG RESETSTAT >/dev/null
BODY=$request KEY=$fast_key wrk -t1 -c4 -d4s -s "$post_lua" "$lb$infer_path" >"$work/wrk-lb.out" &
wrk_lb=$!
BODY=$request KEY=$fast_key wrk -t1 -c4 -d4s -s "$post_lua" "https://localhost:$port_b$infer_path" >"$work/wrk-b.out"
wait "$wrk_lb"
field() { sed -n "s/.*RESULT.* $1=\([0-9.]*\).*/\1/p" "$2"; }
requests=$(($(field requests "$work/wrk-lb.out") + $(field requests "$work/wrk-b.out")))
admitted=$((requests - $(field non2xx "$work/wrk-lb.out") - $(field non2xx "$work/wrk-b.out")))
rate=$(awk -v a="$admitted" 'BEGIN { printf "%.2f", (a - 5) / 4 }')
echo "50/s key through nginx and B at once: $admitted of $requests admitted in 4 s: ${rate}/s"
awk -v r="$rate" 'BEGIN { exit !(r >= 45 && r <= 55) }' ||
  fail "admitted ${rate}/s across the replicas, not 50/s ±10%"
evalsha=$(redis-cli -u "$redis_url" INFO commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
total=$(redis-cli -u "$redis_url" INFO commandstats |
  sed -n 's/^cmdstat_[a-z|]*:calls=\([0-9]*\),.*/\1/p' | paste -sd+ | bc)
# (commandstats also counts the commands the script runs inside Redis: TIME, GET, SET.)
echo "Redis round trips per request: $(awk -v c="$evalsha" -v r="$requests" 'BEGIN { printf "%.3f", c / r }') ($evalsha EVALSHA for $requests requests); commands run per request, the script's included: $(awk -v c="$total" -v r="$requests" 'BEGIN { printf "%.2f", c / r }')"
((evalsha >= requests)) || fail "fewer EVALSHA calls ($evalsha) than requests ($requests)"

# A quota of 1000/day, 4 clients (two per replica, one of them through nginx) sending 300
# requests each: exactly 1000 successes.
on a tenant create metered --quota 1000/day >/dev/null
metered_key=$(key_of "$(on a --json key create --tenant metered --scope infer)")
wait_until 5 bash -c "[[ \$(curl -sS --cacert '$MG_CACERT' -H 'Authorization: Bearer $metered_key' -o /dev/null -w '%{http_code}' 'https://localhost:$port_b/v2/models/fashion-mlp') == 200 ]]" ||
  fail "B does not know the new key"
client() {  # client BASE_URL OUT: 300 inferences over 2 parallel connections
  local list=$work/urls-$RANDOM
  for _ in $(seq 1 300); do echo "url = \"$1$infer_path\""; echo 'output = "/dev/null"'; done >"$list"
  curl -sS --parallel --parallel-max 2 --cacert "$MG_CACERT" -H "Authorization: Bearer $metered_key" \
    --data @"$request" -w '%{http_code}\n' --config "$list" >"$2" 2>/dev/null || true
}
client "https://localhost:$port_a" "$work/q1" &
c1=$!
client "https://localhost:$port_b" "$work/q2" &
c2=$!
client "$lb" "$work/q3" &
c3=$!
client "https://localhost:$port_b" "$work/q4"
wait "$c1" "$c2" "$c3"
ok_count=$(cat "$work"/q[1-4] | grep -cx 200 || true)
quota_count=$(cat "$work"/q[1-4] | grep -cx 429 || true)
echo "quota 1000: $ok_count successes, $quota_count refused, of $(cat "$work"/q[1-4] | wc -l)"
((ok_count == 1000)) || fail "$ok_count successes for a quota of 1000"
((quota_count == 200)) || fail "$quota_count refusals, not the 200 past the quota"

# A signed request accepted by A is a replay on B.
signed_key=$(key_of "$(on a --json key create --tenant admin --scope infer)")
ts=$(date +%s) nonce=$(openssl rand -hex 16)
hash=$(openssl dgst -sha256 -r <"$request" | cut -d' ' -f1)
sig=$(printf 'MG1-HMAC-SHA256\nPOST\n%s\n%s\n%s\n%s' "$infer_path" "$ts" "$nonce" "$hash" |
  openssl dgst -sha256 -hmac "$signed_key" -r | cut -d' ' -f1)
signed() {
  curl -sS --cacert "$MG_CACERT" -H "X-MG-Key-Id:${signed_key:3:12}" -H "X-MG-Timestamp:$ts" \
    -H "X-MG-Nonce:$nonce" -H "X-MG-Signature:$sig" --data @"$request" "https://localhost:$1$infer_path"
}
wait_until 5 bash -c "$(declare -f signed); MG_CACERT=$MG_CACERT signed_key=$signed_key ts=0 nonce=x sig=x request=$request infer_path=$infer_path signed $port_b | grep -qv unknown_key" || true
expect "signed request on A" "$(signed "$port_a")" '"model_name":"fashion-mlp"'
expect "the same request replayed on B" "$(signed "$port_b")" '"code":"replayed_nonce"'

# Usage: each inference is counted by the admit script as one request of one item, and the
# answer corrects what differs (a batch of 4, a refused input) before it is sent.
on a tenant create billed >/dev/null
billed_key=$(key_of "$(on a --json key create --tenant billed --scope infer)")
wait_until 10 bash -c "[[ \$(curl -sS --cacert '$MG_CACERT' -H 'Authorization: Bearer $billed_key' -o /dev/null -w '%{http_code}' 'https://localhost:$port_b/v2/models/fashion-mlp') == 200 ]]" ||
  fail "B does not accept the billed tenant's key"
python3 - "$request" "$work/batch4.json" "$work/bad.json" <<'PY'
import json, sys
body = json.load(open(sys.argv[1]))
image = body["inputs"][0]
batch = dict(image, shape=[4] + image["shape"][1:], data=image["data"] * 4)
json.dump({"inputs": [batch]}, open(sys.argv[2], "w"))
bad = dict(image, shape=[1, 27, 28], data=image["data"][:27 * 28])
json.dump({"inputs": [bad]}, open(sys.argv[3], "w"))
PY
infer_status() {  # infer_status PORT BODY_FILE
  curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $billed_key" --data @"$2" \
    -o /dev/null -w '%{http_code}' "https://localhost:$1$infer_path"
}
statuses="$(infer_status "$port_b" "$request") $(infer_status "$port_a" "$request")"
statuses+=" $(infer_status "$port_b" "$request") $(infer_status "$port_a" "$work/batch4.json")"
statuses+=" $(infer_status "$port_b" "$work/batch4.json") $(infer_status "$port_b" "$work/bad.json")"
[[ $statuses == "200 200 200 200 200 400" ]] || fail "billed requests answered $statuses"
wait_usage_flushed
billed="$(ledger_sum a billed 'r["requests"]') $(ledger_sum a billed 'r["items"]') $(ledger_sum a billed 'r["errors"]')"
echo "usage ledger of 3 single requests, 2 batches of 4 and 1 refused input: requests items errors = $billed"
[[ $billed == "6 11 1" ]] || fail "the ledger says $billed, not 6 11 1"

# Redis stopped: closed by default, 503 limits_unavailable; back: admitted again.
"$cluster_dir/redis_server.sh" pause "$work/redis"
body=$(curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $admin_key" --data @"$request" \
  -w '\n%{http_code}' "https://localhost:$port_a$infer_path")
expect "Redis down: refused" "$body" '"code":"limits_unavailable"'
expect "Redis down: 503" "$body" $'\n503'
[[ $(dependency_up a redis) == 0 ]] || fail "modelgate_dependency_up{dependency=\"redis\"} is not 0 while Redis is down"
"$cluster_dir/redis_server.sh" resume "$work/redis"
wait_until 10 bash -c "[[ \$(curl -sS --cacert '$MG_CACERT' -H 'Authorization: Bearer $admin_key' --data @'$request' -o /dev/null -w '%{http_code}' 'https://localhost:$port_a$infer_path') == 200 ]]" ||
  fail "A did not recover when Redis came back"
[[ $(dependency_up a redis) == 1 ]] || fail "modelgate_dependency_up{dependency=\"redis\"} is not back to 1"
kill -0 "$pid_a" && kill -0 "$pid_b" || fail "a replica died"
echo "PASS cluster limits: rate, quota and nonces shared through Redis; Redis outage and recovery"

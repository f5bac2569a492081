#!/usr/bin/env bash
# Two `modelgate serve` replicas on one real PostgreSQL (started here, on 127.0.0.1), over
# real TLS: the catalogue is shared and followed without restarts.
# - init on the first replica issues the admin key; on the second it only prepares the dir;
# - a model uploaded and promoted through A is served by B;
# - a promote through A is served by B, under load, with no failed request;
# - a key revoked through A is refused by B (the delay is measured and printed);
# - PostgreSQL stopped: inference goes on, admin writes get 503 registry_unavailable;
#   PostgreSQL back: writes succeed again, with no restart of the replicas.
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4
# shellcheck source=../e2e_lib.sh
source "$(dirname "$0")/../e2e_lib.sh"

cluster_dir=$(dirname "$0")
# shellcheck source=cluster_lib.sh
source "$cluster_dir/cluster_lib.sh"

start_engines
init_replicas a b
expect "first init issues the admin key" "$(cat "$work/init-a.out")" "admin key written to $work/a/admin.key"
expect "second init only prepares the replica" "$(cat "$work/init-b.out")" "already initialised"
start_replica a
start_replica b
request=$examples/requests/fashion-mlp.json
# infer REPLICA [KEY]: the HTTP status and body of one inference.
infer() {
  local port
  port=$(eval echo "\$port_$1")
  curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer ${2:-$admin_key}" \
    --data @"$request" -w '\n%{http_code}' "https://localhost:$port/v2/models/fashion-mlp/infer"
}

# A model uploaded and promoted through A is served by B.
on a model create fashion-mlp --backend cpu --max-batch 8 >/dev/null
on a model upload fashion-mlp "$examples/models/fashion-mlp.onnx" --promote >/dev/null
wait_until 5 bash -c "$(declare -f infer); port_b=$port_b MG_CACERT=$MG_CACERT admin_key=$admin_key request=$request infer b | tail -1 | grep -qx 200" ||
  fail "B does not serve the model uploaded through A: $(infer b)"
expect "B answers with version 1" "$(infer b)" '"model_version":"1"'
expect "B is ready" "$(curl -sS --cacert "$MG_CACERT" "https://localhost:$port_b/v2/health/ready")" '"ready":true'

# A promote through A, while a client keeps B busy: B moves to version 2 without one failed
# request.
on a model upload fashion-mlp "$examples/models/fashion-mlp.onnx" >/dev/null  # version 2
: >"$work/load.status"
(
  while [[ ! -f $work/load.stop ]]; do
    curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $admin_key" --data @"$request" \
      -o "$work/load.body" -w '%{http_code} ' "https://localhost:$port_b/v2/models/fashion-mlp/infer" \
      >>"$work/load.status" || echo -n "curl-failed " >>"$work/load.status"
    grep -q '"model_version":"2"' "$work/load.body" 2>/dev/null && echo -n "v2 " >>"$work/load.status"
  done
) &
loader=$!
sleep 0.5
start_ms=$(date +%s%3N)
on a model promote fashion-mlp 2 >/dev/null
wait_until 10 grep -q "v2" "$work/load.status" || fail "B never served version 2"
promote_ms=$(($(date +%s%3N) - start_ms))
sleep 0.5
touch "$work/load.stop"
wait "$loader"
statuses=$(tr ' ' '\n' <"$work/load.status" | grep -v '^v2$' | grep -v '^$' | sort | uniq -c)
echo "promote through A served by B after ${promote_ms} ms; B's answers under load: $(echo $statuses)"
[[ $(tr ' ' '\n' <"$work/load.status" | grep -v '^v2$' | grep -vc -e '^200$' -e '^$') == 0 ]] ||
  fail "requests failed during the promote: $statuses"
((promote_ms <= 2000)) || fail "B served version 2 only after ${promote_ms} ms (more than 2 s)"
grep -q "unloading fashion-mlp/1" "$work/b.log" || fail "B kept version 1 loaded"

# A key created through A works on B; revoked through A, B refuses it.
key_json=$(on a --json key create --tenant admin --scope infer)
key=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' <<<"$key_json")
key_id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$key_json")
wait_until 5 bash -c "$(declare -f infer); port_b=$port_b MG_CACERT=$MG_CACERT admin_key=$admin_key request=$request infer b $key | tail -1 | grep -qx 200" ||
  fail "B does not accept a key created through A"
on a key revoke "$key_id" >/dev/null
start_ms=$(date +%s%3N)
wait_until 5 bash -c "$(declare -f infer); port_b=$port_b MG_CACERT=$MG_CACERT admin_key=$admin_key request=$request infer b $key | tail -1 | grep -qx 401" ||
  fail "B still accepts a key revoked through A"
revoke_ms=$(($(date +%s%3N) - start_ms))
echo "key revoked through A refused by B after ${revoke_ms} ms"
((revoke_ms <= 1000)) || fail "the revocation took ${revoke_ms} ms to reach B (more than 1 s)"

# PostgreSQL stopped: B keeps serving from its snapshot; admin writes fail clearly.
"$cluster_dir/postgres_server.sh" pause "$work/pg"
expect "inference while PostgreSQL is down" "$(infer b)" $'\n200'
out=$(on a --json tenant create during-outage 2>&1 || true)
expect "admin write while PostgreSQL is down" "$out" "registry_unavailable"
wait_until 5 bash -c "[[ \$($(declare -f dependency_up); metrics_b=$metrics_b dependency_up b postgres) == 0 ]]" ||
  fail "modelgate_dependency_up{dependency=\"postgres\"} stayed 1 on B while PostgreSQL was down"
# PostgreSQL back: the same replicas accept writes again, and B follows them.
"$cluster_dir/postgres_server.sh" resume "$work/pg"
wait_until 15 bash -c "MG_SERVER=https://localhost:$port_a '$mgctl' tenant create after-outage >/dev/null 2>&1" ||
  fail "admin writes did not recover after PostgreSQL came back"
wait_until 5 bash -c "MG_SERVER=https://localhost:$port_b '$mgctl' tenant list | grep -q after-outage" ||
  fail "B did not follow a change made after the outage"
expect "inference after the outage" "$(infer b)" $'\n200'
[[ $(dependency_up b postgres) == 1 ]] || fail "modelgate_dependency_up{dependency=\"postgres\"} is not back to 1"
kill -0 "$pid_a" && kill -0 "$pid_b" || fail "a replica died"
echo "PASS cluster registry: shared catalogue, promote under load, revocation, PostgreSQL outage"

#!/usr/bin/env bash
# A single-node data dir moved into a cluster: `modelgate migrate-to-postgres` copies the
# SQLite registry and its artifacts into a new PostgreSQL database; a replica started on
# it with the data dir's master key serves the same model at the same version, accepts
# the same keys (hashed and sealed under that master key) and shows the same audit log;
# a second copy into the same database is refused and changes nothing.
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4
# shellcheck source=../e2e_lib.sh
source "$(dirname "$0")/../e2e_lib.sh"
cluster_dir=$(dirname "$0")
# shellcheck source=cluster_lib.sh
source "$cluster_dir/cluster_lib.sh"
request=$examples/requests/fashion-mlp.json

single=$work/single
init_with_mlp "$single"  # admin key, fashion-mlp version 1 promoted
"$modelgate" import --data-dir "$single" fashion-mlp "$examples/models/fashion-mlp.onnx" --promote >/dev/null  # version 2
start_modelgate "$single" || fail "the single-node server did not start"
export MG_SERVER=https://localhost:$port MG_CACERT=$single/tls/cert.pem MG_KEY=$admin_key
"$mgctl" tenant create acme --quota 100/day >/dev/null
tenant_key=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' <<<"$("$mgctl" --json key create --tenant acme --scope infer)")
curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $tenant_key" --data @"$request" \
  "$MG_SERVER/v2/models/fashion-mlp/infer" >/dev/null
audit() { curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $admin_key" "$MG_SERVER/admin/v1/audit"; }
audit_before=$(audit | grep -o '"action":"[a-z.]*"' | sort | uniq -c)
stop_modelgate

start_engines
out=$("$modelgate" migrate-to-postgres --data-dir "$single" --postgres "$url")
expect "migration report" "$out" "copied 1 models, 2 versions, 1 artifacts, 2 tenants, 2 keys"
out=$("$modelgate" migrate-to-postgres --data-dir "$single" --postgres "$url" 2>&1 || true)
expect "a second copy is refused" "$out" "is not empty"

mkdir -p "$work/r1/tls"
cp "$single/tls/cert.pem" "$single/tls/key.pem" "$work/r1/tls/"
master=$single/master.key
start_replica r1
export MG_SERVER=https://localhost:$port_r1
expect "the replica serves version 2" "$(curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $tenant_key" \
  --data @"$request" "$MG_SERVER/v2/models/fashion-mlp/infer")" '"model_version":"2"'
expect "the admin key works" "$("$mgctl" model versions fashion-mlp)" "ready"
audit_after=$(audit | grep -o '"action":"[a-z.]*"' | sort | uniq -c)
[[ "$audit_after" == "$audit_before" ]] ||
  fail "the audit log differs after the copy: $audit_before // $audit_after"
grep -q '"action":"key.create"' <<<"$audit_after" || fail "no key.create in the copied audit log"
# One request before the copy, one on the replica: the copied row goes on counting.
expect "usage was copied" "$("$mgctl" --json usage --tenant acme)" '"requests":2'
"$mgctl" tenant create after-migration >/dev/null  # new ids continue after the copied ones
echo "PASS migrate-to-postgres: model, versions, keys, audit and usage carried over"

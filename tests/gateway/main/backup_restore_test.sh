#!/usr/bin/env bash
# End to end, the backup and restore procedure of docs/operations.md with the real binaries:
# a backup taken while the server serves (sqlite3 .backup, then artifacts/, then
# master.key) restores into an empty data directory, where the same models answer the same
# results and the same API keys authenticate; the version uploaded after the backup is
# simply not there, and nothing else is missing.
# usage: backup_restore_test.sh MODELGATE PLUGIN_DIR EXAMPLES_DIR
set -euo pipefail
modelgate=$1 plugins=$2 examples=$3
# shellcheck source=../../e2e_lib.sh
source "$(dirname "$0")/../../e2e_lib.sh"

data=$work/data
init_with_mlp "$data"
start_modelgate "$data" || fail "server did not start"
infer() {  # infer KEY: the MLP's answer to the reference request
  curl -sS --cacert "$work/cert.pem" -H "Authorization: Bearer $1" \
    --data @"$examples/requests/fashion-mlp.json" "https://localhost:$port/v2/models/fashion-mlp/infer"
}
cp "$data/tls/cert.pem" "$work/cert.pem"
before=$(infer "$admin_key")
expect "served before the backup" "$before" '"model_name":"fashion-mlp"'

# The backup, while serving.
backup=$work/backup
mkdir -p "$backup"
sqlite3 "$data/registry.db" ".backup '$backup/registry.db'"
cp -a "$data/artifacts" "$backup/artifacts"
cp -a "$data/master.key" "$data/tls" "$backup/"
echo "ok   backup taken while serving"
# A change after the backup: a second version.
status=$(curl -sS --cacert "$work/cert.pem" -H "Authorization: Bearer $admin_key" \
  --data-binary @"$examples/models/fashion-mlp.onnx" -o /dev/null -w '%{http_code}' \
  "https://localhost:$port/admin/v1/models/fashion-mlp/versions")
[[ $status == 201 ]] || fail "uploading version 2: $status"
stop_modelgate

# The restore: an empty directory, the backup's files, the server started on it.
restored=$work/restored
mkdir -p "$restored"
cp -a "$backup/registry.db" "$backup/artifacts" "$backup/master.key" "$backup/tls" "$restored/"
start_modelgate "$restored" || fail "the restored directory did not start"
after=$(infer "$admin_key")
[[ "$after" == "$before" ]] || fail "another answer after the restore: $after"
echo "ok   restored: the same answer with the same key"
versions=$(curl -sS --cacert "$work/cert.pem" -H "Authorization: Bearer $admin_key" \
  "https://localhost:$port/admin/v1/models/fashion-mlp/versions")
expect "restored: version 1" "$versions" '"version":1'
[[ "$versions" != *'"version":2'* ]] || fail "the version uploaded after the backup is there"
echo "ok   restored: the version uploaded after the backup is not"
expect "restored: ready" "$(curl -sS --cacert "$work/cert.pem" "https://localhost:$port/v2/health/ready")" \
  '"ready":true'
stop_modelgate
echo "backup_restore: all passed"

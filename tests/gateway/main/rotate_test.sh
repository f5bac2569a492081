#!/usr/bin/env bash
# End to end, encryption at rest and master key rotation with the real binaries:
#   artifacts stored encrypted (no plaintext file under artifacts/); a rotation killed
#   midway leaves the server refusing to start, every artifact readable, and a second run
#   completes it; afterwards the models load and the API keys authenticate; a wrong master
#   key fails loads with a clear reason and corrupts nothing.
# usage: rotate_test.sh MODELGATE PLUGIN_DIR EXAMPLES_DIR
set -euo pipefail
modelgate=$1 plugins=$2 examples=$3
# shellcheck source=../../e2e_lib.sh
source "$(dirname "$0")/../../e2e_lib.sh"

data=$work/data
"$modelgate" init --data-dir "$data" --json >/dev/null
key=$(cat "$data/admin.key")
for m in fashion-mlp fashion-cnn text-classifier; do
  "$modelgate" import --data-dir "$data" "$m" "$examples/models/$m.onnx" --promote >/dev/null
done
[[ $(find "$data/artifacts/sha256" -type f | wc -l) == 3 ]] || fail "expected 3 artifacts"
for f in $(find "$data/artifacts/sha256" -type f); do
  [[ $(head -c 8 "$f") == MGAEAD01 ]] || fail "$f is not encrypted"
done
echo "ok   artifacts encrypted at rest"

serve() {
  : >"$work/serve.log"  # each start's log alone: the checks below read it
  start_modelgate "$data"
}
stop() { stop_modelgate; }
infer() {
  curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $key" \
    --data @"$examples/requests/fashion-mlp.json" "https://localhost:$port/v2/models/fashion-mlp/infer"
}

old_master=$(cat "$data/master.key")
set +e
MG_TEST_ROTATE_CRASH_AFTER=1 "$modelgate" rotate-master-key --data-dir "$data" >/dev/null 2>&1
status=$?
set -e
[[ $status == 137 ]] || fail "the injected crash did not happen (status $status)"
[[ -f "$data/master.key.new" && $(cat "$data/master.key") == "$old_master" ]] || fail "state after the crash"
echo "ok   rotation killed after one artifact"
if serve; then fail "the server started during an incomplete rotation"; fi
pid=
expect "server refuses mid-rotation" "$(cat "$work/serve.log")" "rotation is incomplete"
out=$("$modelgate" rotate-master-key --data-dir "$data")
expect "second run completes" "$out" "2 artifacts re-encrypted, 1 API keys re-sealed"
[[ ! -e "$data/master.key.new" && $(cat "$data/master.key") != "$old_master" ]] || fail "master key not swapped"
[[ $(stat -c %a "$data/master.key") == 600 ]] || fail "master key mode"
serve || fail "server did not start after the rotation"
expect "models load and keys work after rotation" "$(infer)" '"model_name":"fashion-mlp"'
stop

# A wrong master key: nothing loads (the reason names the key), nothing is damaged.
cp "$data/master.key" "$work/right.key"
printf '%064d\n' 7 >"$data/master.key"
serve || fail "server did not start with a wrong master key"
expect "wrong key: clear reason" "$(cat "$work/serve.log")" "wrong master.key?"
stop
cp "$work/right.key" "$data/master.key"
serve || fail "server did not start with the right key again"
expect "right key again: all well" "$(infer)" '"model_name":"fashion-mlp"'
stop
echo "rotate_test: all passed"

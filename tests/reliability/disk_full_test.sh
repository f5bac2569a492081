#!/usr/bin/env bash
# Disk full (the data dir on a small tmpfs): an upload that does not fit fails with 507
# and leaves no partial file; admin changes that cannot be written fail cleanly; usage
# counted while the disk is full is kept in memory and written once space returns; the
# registry stays intact and inference never stops.
# Needs root for the tmpfs mount (the README test command runs as root); without it
# the test is skipped (exit 77), never passed.
# usage: disk_full_test.sh MODELGATE MGCTL PLUGIN_DIR EXAMPLES_DIR
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4
source "$(dirname "$0")/../e2e_lib.sh"
disk=$work/disk
mkdir -p "$disk"
if ! mount -t tmpfs -o size=16m tmpfs "$disk" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root)"
  exit 77
fi
trap '[[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null; umount "$disk" 2>/dev/null; rm -rf "$work"' EXIT

data=$disk/data
init_with_mlp "$data"
start_modelgate "$data" --config <(echo 'access_log = "off"') || fail "server did not start"
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$admin_key
m() { "$mgctl" "$@"; }
m tenant create acme >/dev/null
key=$(m --json key create --tenant acme --scope infer | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
infer() {
  curl -sS -o /dev/null -w '%{http_code}' --cacert "$data/tls/cert.pem" \
    -H "Authorization: Bearer $key" --data @"$examples/requests/fashion-mlp.json" \
    "$MG_SERVER/v2/models/fashion-mlp/infer"
}
artifacts_listing() { find "$data/artifacts" -type f | sort; }

# An upload larger than the free space.
head -c $((24 << 20)) /dev/urandom >"$work/big.onnx"
before=$(artifacts_listing)
status=0
out=$(m model upload fashion-mlp "$work/big.onnx" 2>&1) || status=$?
((status != 0)) || fail "an upload larger than the disk succeeded"
expect "upload on a full disk: 507" "$out" "507 internal: the server could not store the data"
[[ "$(artifacts_listing)" == "$before" ]] || fail "the failed upload left files: $(artifacts_listing)"
echo "ok   no partial artifact left behind"
expect "versions unchanged" "$(m model versions fashion-mlp)" "1"
[[ $(infer) == 200 ]] || fail "inference after the failed upload"
echo "ok   inference continues"

# Fill the disk to the last block, then use the service.
dd if=/dev/zero of="$disk/filler" bs=64k >/dev/null 2>&1 || true
dd if=/dev/zero of="$disk/filler2" bs=512 >/dev/null 2>&1 || true
avail=$(df --output=avail -B1 "$disk" | tail -1)
echo "disk filled: $avail bytes free"
for i in $(seq 1 20); do [[ $(infer) == 200 ]] || fail "inference $i on a full disk"; done
echo "ok   20 inferences served on a full disk"
status=0
out=$(m tenant create beta 2>&1) || status=$?
if ((status == 0)); then
  echo "note: creating a tenant still fit (SQLite reused free pages): $out"
else
  expect "admin write on a full disk fails cleanly" "$out" "507 internal"
fi
sleep 2.5  # at least two usage flushes while full
kill -0 "$pid" || fail "the server died on a full disk"
flush_failures=$(grep -c 'usage flush failed' "$work/serve.log" || true)
echo "usage flushes that failed while full: $flush_failures"

# Space returns: everything counted while full is written.
rm -f "$disk/filler" "$disk/filler2"
sleep 2.5
metered=$(m usage --tenant acme --format csv | awk -F, 'NR > 1 { n += $6 } END { print n + 0 }')
((metered == 21)) || fail "usage after space returned: $metered of 21 requests"
echo "ok   all 21 requests metered once space returned"
expect "upload works again" "$(m model upload fashion-mlp "$examples/models/fashion-mlp.onnx")" "version"
stop_modelgate
integrity=$(sqlite3 "$data/registry.db" 'PRAGMA integrity_check')
expect "registry integrity" "$integrity" "ok"
echo "disk full: all checks passed"

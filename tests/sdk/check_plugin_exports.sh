#!/usr/bin/env bash
# Every plugin in DIR must export exactly one defined dynamic symbol, mg_backend_entry
# (libmg_test_no_entry.so, built to lack it, must export none).
set -euo pipefail
dir=${1:?usage: check_plugin_exports.sh PLUGIN_DIR}
shopt -s nullglob
plugins=("$dir"/libmg_*.so)
((${#plugins[@]} > 0)) || { echo "no plugins in $dir"; exit 1; }
status=0
for so in "${plugins[@]}"; do
  exports=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TtDdBbRrVvWwiu]$/ {print $3}' | sort | tr '\n' ' ')
  expected="mg_backend_entry "
  [[ $(basename "$so") == libmg_test_no_entry.so ]] && expected=""
  if [[ "$exports" == "$expected" ]]; then
    echo "ok   $(basename "$so"): ${exports:-(none)}"
  else
    echo "FAIL $(basename "$so") exports: ${exports:-(none)} (expected: ${expected:-(none)})"
    status=1
  fi
done
exit $status

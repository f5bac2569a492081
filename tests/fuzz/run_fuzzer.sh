#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from its committed seed corpus, writing
# new inputs to a temp dir (the committed corpus is never modified). A crash, leak,
# timeout or property violation fails the test; the reproducer is kept under
# $MG_FUZZ_ARTIFACTS (default: the build dir's fuzz-artifacts/) and its path printed.
# usage: run_fuzzer.sh FUZZER SEED_CORPUS SECONDS [libFuzzer flags...]
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
shift 3
artifacts=${MG_FUZZ_ARTIFACTS:-$(dirname "$fuzzer")/fuzz-artifacts}
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" \
  "$@" "$work" "$seeds" >"$work.log" 2>&1 || status=$?
grep -E '^(INFO: seed corpus|#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' \
  "$work.log" || true
if ((status != 0)); then
  tail -60 "$work.log"
  echo "FAIL: $(basename "$fuzzer") exited $status; reproducer in $artifacts"
  rm -f "$work.log"
  exit 1
fi
rm -f "$work.log"
echo "ok   $(basename "$fuzzer"): ${seconds}s without a finding"

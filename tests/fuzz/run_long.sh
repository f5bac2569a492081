#!/usr/bin/env bash
# Long fuzzing runs: builds the `fuzz` preset, then runs each fuzzer (all by default) for
# SECONDS, keeping what it learns in build-fuzz/fuzz-corpus/<name>/ so runs accumulate.
# Findings land in build-fuzz/fuzz-artifacts/; reproduce one with
#   build-fuzz/tests/fuzz/<name>_fuzzer build-fuzz/fuzz-artifacts/crash-…
# usage: tests/fuzz/run_long.sh [SECONDS=600] [NAME...]   (NAME: kserve_json, onnx_load, …)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
shift || true
names=("$@")
if ((${#names[@]} == 0)); then
  names=(kserve_json kserve_binary signed_request api_key serve_config artifact_signature onnx_load)
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "${MG_JOBS:-2}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p build-fuzz/fuzz-artifacts
status=0
for name in "${names[@]}"; do
  corpus=build-fuzz/fuzz-corpus/$name
  mkdir -p "$corpus"
  extra=()
  [[ $name == onnx_load ]] && extra=(-max_len=1048576 -malloc_limit_mb=1024 -rss_limit_mb=3072 -timeout=20)
  echo "== $name: ${seconds}s"
  build-fuzz/tests/fuzz/"$name"_fuzzer -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=build-fuzz/fuzz-artifacts/ "${extra[@]}" "$corpus" tests/fuzz/corpus/"$name" \
    2>&1 | grep -E '^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|fuzz property)' ||
    true
  [[ ${PIPESTATUS[0]} == 0 ]] || { status=1; echo "FINDING in $name (see build-fuzz/fuzz-artifacts)"; }
done
exit $status

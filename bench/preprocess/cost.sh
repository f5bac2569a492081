#!/usr/bin/env bash
# Preprocessing cost per item, ModelGate's against the Python a user would otherwise write
# (Pillow decoding, NumPy normalisation, the seed model's regex tokeniser), same inputs,
# one core each, same run: µs per image and per sentence, and the ratio.
# usage: bench/preprocess/cost.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
cmake --build "$build" --target preprocess_bench >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 bench/preprocess/make_images.py "$work"
PREPROCESS_INPUTS=$work "$build/bench/preprocess_bench" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=csv 2>/dev/null |
  awk -F, '/_median"?,/ {gsub(/"/, "", $1); sub(/^BM_/, "", $1); sub(/_median$/, "", $1);
           t = $3; if ($5 == "ns") t /= 1000; if ($5 == "ms") t *= 1000; printf "%s %.2f\n", $1, t}' \
  >"$work/ours.txt"
OMP_NUM_THREADS=1 /usr/bin/python3 bench/preprocess/reference.py "$work" examples >"$work/python.txt"
printf '| case | ModelGate µs | Python (Pillow + NumPy) µs | speed-up |\n| --- | --- | --- | --- |\n'
join <(sort "$work/ours.txt") <(sort "$work/python.txt") |
  awk '{printf "| %s | %.2f | %.2f | %.1f× |\n", $1, $2, $3, $3 / $2}'

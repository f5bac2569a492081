#!/usr/bin/env bash
# Registry benchmark: lookups (ns) and artifact ingest (MB/s) beside `dd` writing the same
# amount with fsync to the same disk, in one run. Usage: bench/registry_bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export MG_BENCH_DIR=${MG_BENCH_DIR:-$PWD/$build/bench-tmp}
mkdir -p "$MG_BENCH_DIR"
cmake --build "$build" --target registry_bench >/dev/null

echo "== dd, 256 MiB, conv=fsync, into $MG_BENCH_DIR"
for i in 1 2 3; do
  dd if=/dev/zero of="$MG_BENCH_DIR/dd.bin" bs=1M count=256 conv=fsync 2>&1 | tail -1
  rm -f "$MG_BENCH_DIR/dd.bin"
done
echo "== registry_bench"
"$build/bench/registry_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
rm -rf "$MG_BENCH_DIR"

#!/usr/bin/env bash
# Same-run A/B of CPU backend builds on the model zoo: cpu_zoo_bench with each build's
# libmg_cpu.so in turn (MG_PLUGIN_DIR), alternating, ROUNDS rounds; each run takes the
# median of 3 repetitions of MIN_SECONDS, and each build keeps its best round (a shared VM
# has slow minutes). Prints one line per build and benchmark, µs.
# usage: bench/cpu_zoo_ab.sh ZOO_DIR FILTER PLUGIN_DIR...   (e.g. FILTER 'b1/t2')
#   ZOO_DIR: tests/plugins/cpu/zoo/make_zoo.py's output (or some of its cases);
#   PLUGIN_DIR: a directory holding a build's libmg_cpu.so (copy it out of each build).
set -euo pipefail
cd "$(dirname "$0")/.."
zoo=$1 filter=$2
shift 2
bench=${BENCH:-build/bench/cpu_zoo_bench}
rounds=${ROUNDS:-3} seconds=${MIN_SECONDS:-0.5}
for _ in $(seq "$rounds"); do
  for dir in "$@"; do
    MG_PLUGIN_DIR=$dir "$bench" "$zoo" --benchmark_filter="$filter" \
      --benchmark_min_time="$seconds" --benchmark_repetitions=3 \
      --benchmark_report_aggregates_only=true 2>/dev/null |
      awk -v build="$dir" '/_median/ {sub(/\/real_time_median/, "", $1); print build, $1, $2}'
  done
done | awk '{k = $2 " " $1; if (!(k in best) || $3 < best[k]) best[k] = $3}
            END {for (k in best) print k, best[k]}' | sort | awk '{printf "%-36s %-28s %10.1f\n", $1, $2, $3}'

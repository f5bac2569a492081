#!/usr/bin/env bash
# Same-run A/B of two builds of libmg_cpu.so on the CPU backend bench: alternating rounds,
# the same filter, the minimum of each side reported. Used for changes inside the backend
# (e.g. computing outputs straight into the host's buffers).
# usage: bench/cpu_output_ab.sh PLUGIN_DIR_A PLUGIN_DIR_B [FILTER] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 filter=${3:-'fashion-mlp/b1/t1|fashion-cnn/b64/t1'} rounds=${4:-6}
cmake --build build --target cpu_backend_bench >/dev/null
run() {  # run PLUGIN_DIR: "name mean_us" per benchmark
  MG_PLUGIN_DIR=$1 build/bench/cpu_backend_bench --benchmark_filter="$filter" \
    --benchmark_min_time=1 --benchmark_format=csv 2>/dev/null |
    awk -F, 'NR > 1 { gsub(/"/, "", $1); f = $5 == "ms" ? 1000 : $5 == "ns" ? 0.001 : 1
                      printf "%s %.3f\n", $1, $3 * f }'
}
for ((r = 1; r <= rounds; r++)); do
  run "$a" | sed "s/^/A /"
  run "$b" | sed "s/^/B /"
done | awk '{ key = $2; v = $3 + 0; side = $1
              if (!(side key in best) || v < best[side key]) best[side key] = v; names[key] = 1 }
            END { for (k in names) printf "%-32s A %9.2f us  B %9.2f us  B/A %.3f\n", k,
                  best["A" k], best["B" k], best["B" k] / best["A" k] }'

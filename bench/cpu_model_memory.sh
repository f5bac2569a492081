#!/usr/bin/env bash
# Resident memory each seed model costs on the CPU backend (one process per model); with
# ZOO_DIR (tests/plugins/cpu/zoo/make_zoo.py's output), the zoo's models too (load only).
# usage: bench/cpu_model_memory.sh [BUILD_DIR] [ZOO_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target cpu_model_memory mg_cpu >/dev/null
echo "| model | file (KiB) | RSS added by load (KiB) | load / file | RSS added by a batch-64 run (KiB) | process peak RSS (KiB) |"
echo "| --- | --- | --- | --- | --- | --- |"
for model in fashion-mlp fashion-cnn text-classifier; do
  "$build/bench/cpu_model_memory" "$model"
done
# batched, the CNN holds Winograd-transformed weights by default; this row is without them
"$build/bench/cpu_model_memory" fashion-cnn '"conv_winograd": false'
if [[ -n ${2:-} ]]; then
  for model in "$2"/*/model.onnx; do "$build/bench/cpu_model_memory" "$model"; done
fi

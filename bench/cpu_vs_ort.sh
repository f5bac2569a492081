#!/usr/bin/env bash
# CPU backend vs ONNX Runtime on the seed models, same inputs, same run. Installs
# onnxruntime-node (npm, --ignore-scripts: its install script downloads from a host this
# machine cannot reach; the CPU library inside the package works) into bench/.ort.
# usage: bench/cpu_vs_ort.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [[ ! -d bench/.ort/node_modules/onnxruntime-node ]]; then
  mkdir -p bench/.ort
  (cd bench/.ort && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi
cmake --build "$build" --target cpu_backend_bench mg_cpu >/dev/null
NODE_PATH=$PWD/bench/.ort/node_modules node bench/cpu_vs_ort.js "$build"

#!/usr/bin/env bash
# CPU backend vs ONNX Runtime on the model zoo (tests/plugins/cpu/zoo/make_zoo.py: the
# same files the zoo test checks), same inputs, same run. Installs onnxruntime-node into
# bench/.ort (npm, --ignore-scripts). MIN_SECONDS and ROUNDS tune bench/cpu_zoo_vs_ort.js.
# usage: bench/cpu_zoo_vs_ort.sh [BUILD_DIR] [CASE...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
if [[ ! -d bench/.ort/node_modules/onnxruntime-node ]]; then
  mkdir -p bench/.ort
  (cd bench/.ort && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi
cmake --build "$build" --target cpu_zoo_bench mg_cpu >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tests/plugins/cpu/zoo/make_zoo.py "$work" "$@" >/dev/null
# The example input of each case as raw bytes and its dtype and dims, for the Node side.
/usr/bin/python3 - "$work" <<'PY'
import json, os, sys
from onnx import numpy_helper, TensorProto
for case in os.listdir(sys.argv[1]):
    d = os.path.join(sys.argv[1], case)
    t = TensorProto()
    t.ParseFromString(open(os.path.join(d, "test_data_set_0", "input_0.pb"), "rb").read())
    a = numpy_helper.to_array(t)
    open(os.path.join(d, "input.bin"), "wb").write(a.tobytes())
    json.dump({"dtype": "int64" if a.dtype.kind == "i" else "float32", "dims": list(a.shape)},
              open(os.path.join(d, "input.json"), "w"))
PY
NODE_PATH=$PWD/bench/.ort/node_modules node bench/cpu_zoo_vs_ort.js "$work" "$build"

#!/usr/bin/env bash
# The model zoo test: writes every architecture of make_zoo.py (exported by Debian's torch,
# float64 references) into WORK_DIR and runs them all through mg-onnx-runner and the real
# libmg_cpu.so. Every case must load and match: a refusal (SKIP) fails the run too.
# Tolerance: rtol 1e-3 as ONNX's own tests, and atol 1e-5 × the output's largest
# magnitude (float32 against float64 through dozens of layers: ResNet-18's logits reach 10
# and differ by up to ~1e-5, MobileNet v3's reach 0.01; a wrong operator is off by far
# more). Each PASS prints its largest absolute error. The zoo runs on one kernel thread and
# again on two (the threaded paths must match too).
# usage: run_zoo.sh RUNNER PLUGIN_DIR WORK_DIR
set -euo pipefail
runner=$1 plugin_dir=$2 work=$3
here=$(dirname "$0")
rm -rf "$work"
mkdir -p "$work"
/usr/bin/python3 "$here/make_zoo.py" "$work"
cases=$(find "$work" -mindepth 1 -maxdepth 1 -type d | wc -l)
for threads in 1 2; do
  echo "== $threads kernel thread(s)"
  "$runner" --plugin-dir "$plugin_dir" --rtol 1e-3 --atol 1e-7 --atol-of-largest 1e-5 \
    --min-passed "$cases" --threads "$threads" "$work"
done

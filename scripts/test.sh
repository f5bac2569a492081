#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test with ctest.
# Two builds: build/ (RelWithDebInfo) and build-asan/ (ASan + UBSan). Set MG_SKIP_ASAN=1
# to run only the first while iterating locally.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh

jobs=${MG_JOBS:-2}
run_suite() {
  local preset=$1
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
}

run_suite default
if [[ "${MG_SKIP_ASAN:-0}" != 1 ]]; then
  run_suite asan
fi

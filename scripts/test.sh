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
  shift
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs" "$@"
}

run_suite default
if [[ "${MG_SKIP_ASAN:-0}" != 1 ]]; then
  # A test that fails under ASan is run once more before the suite fails: LeakSanitizer's
  # exit-time thread tracer has crashed once ("Tracer caught signal 11") after a test had
  # passed. A real failure fails twice. See the issue notes before removing this.
  run_suite asan --repeat until-pass:2
fi

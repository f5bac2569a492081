#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test with ctest.
# Five builds: build/ (RelWithDebInfo), build-release/ (Release as a packager builds it:
# built and installed, no tests), build-asan/ (ASan + UBSan, every test), build-tsan/
# (TSan: the scheduler, batcher, limits, shared limits and registry concurrency, cluster and shadow tests, the HTTPS listener's body reading) and build-fuzz/
# (clang: the libFuzzer targets under ASan + UBSan, a few seconds each). MG_SKIP_RELEASE=1, MG_SKIP_ASAN=1,
# MG_SKIP_TSAN=1 and MG_SKIP_FUZZ=1 skip the last four while iterating locally.
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
if [[ "${MG_SKIP_RELEASE:-0}" != 1 ]]; then
  # The packager's build (the Dockerfile's command): Release, no tests, warnings not errors.
  # It must build and install whatever the compiler warns about.
  cmake --preset release
  cmake --build --preset release -j "$jobs"
  rm -rf build-release/install
  DESTDIR="$PWD/build-release/install" cmake --install build-release --component server
  DESTDIR="$PWD/build-release/install" cmake --install build-release --component cli
fi
if [[ "${MG_SKIP_ASAN:-0}" != 1 ]]; then
  run_suite asan
fi
if [[ "${MG_SKIP_TSAN:-0}" != 1 ]]; then
  run_suite tsan  # the scheduler, batcher, limits, registry concurrency and background hashing tests under TSan
fi
if [[ "${MG_SKIP_FUZZ:-0}" != 1 ]]; then
  run_suite fuzz  # every libFuzzer target for a few seconds (tests/fuzz/README.md)
fi

#!/usr/bin/env bash
# Installs the SDK from BUILD_DIR into a fresh prefix under WORK, then configures and builds
# the example backend in EXAMPLE_DIR against that prefix alone (no path into this tree).
set -euo pipefail
build_dir=${1:?usage: build_example.sh BUILD_DIR EXAMPLE_DIR WORK}
example_dir=${2:?}
work=${3:?}
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build_dir" --prefix "$work/prefix" --component sdk
# A copy of the example, so nothing of this source tree is in reach of its build.
cp -r "$example_dir" "$work/src"
# Sanitizer flags of the host build are not wanted here: a clean environment.
env -u CFLAGS -u CXXFLAGS -u LDFLAGS \
  cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release
cmake --build "$work/build"
ls -l "$work/build/libmg_scale.so"
"$(dirname "$0")/check_plugin_exports.sh" "$work/build"

#!/usr/bin/env bash
# Installs the SDK from BUILD_DIR into a fresh prefix under WORK, then configures and builds
# the example backend in EXAMPLE_DIR against that prefix alone (no path into this tree), and
# likewise the gRPC client example beside it (examples/grpc_ready, ModelGate::grpc_client).
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
# The gRPC transport, asked for as a component of the same installed package. Its static
# libraries carry the host build's sanitizers (if any), so the program links with them too.
sanitize=$(sed -n 's/^MG_SANITIZE:STRING=//p' "$build_dir/CMakeCache.txt")
cp -r "$example_dir/../grpc_ready" "$work/grpc_src"
env -u CFLAGS -u CXXFLAGS -u LDFLAGS \
  cmake -S "$work/grpc_src" -B "$work/grpc_build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release ${sanitize:+-DCMAKE_CXX_FLAGS=-fsanitize=$sanitize}
cmake --build "$work/grpc_build"
ls -l "$work/grpc_build/grpc_ready"

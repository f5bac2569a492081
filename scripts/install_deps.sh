#!/usr/bin/env bash
# Installs every Debian 12 package ModelGate needs to build and test.
# Idempotent: when everything is already installed it touches nothing (no apt-get update).
# Run as root (CI and the README commands do); otherwise it re-executes itself with sudo.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  clang-format binutils
  # fuzzing: clang with libFuzzer and the sanitizer runtimes, and its OpenMP (the cpu backend)
  clang libclang-rt-14-dev libomp-14-dev llvm
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # registry: SQLite, OpenSSL (SHA-256, Ed25519 signatures, AES-256-GCM), Boost.JSON
  libsqlite3-dev sqlite3 libssl-dev libboost1.81-dev libboost-json1.81-dev
  # cpu backend: ONNX parsing and checking, protobuf, oneDNN (GEMM); ONNX node tests
  libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev libonnx-testdata
  # cpu backend model zoo test: Debian's torch and torchvision export real architectures
  # and compute their float64 references (tests/plugins/cpu/zoo)
  python3-torch python3-torchvision python3-onnx
  # seed model tests: Fashion-MNIST and zlib to read it
  dataset-fashion-mnist zlib1g-dev
  # gateway: CLI parsing, TOML config; curl for the integration tests and the README; wrk
  # and h2load (nghttp2-client) for the HTTP/1.1 and HTTP/2 (gRPC) load benches
  libcli11-dev libtomlplusplus-dev curl time wrk nghttp2-client
  # gateway: simdjson (KServe request decoding); nghttp2 (the gRPC listener's HTTP/2)
  libsimdjson-dev libnghttp2-dev
  # the server's allocator (gateway/main/CMakeLists.txt)
  libjemalloc-dev
  # preprocessing: PNG and JPEG decoding
  libpng-dev libturbojpeg0-dev
  # metrics: prometheus-cpp (the metrics listener)
  prometheus-cpp-dev
  # cluster mode: libpq and hiredis; the real PostgreSQL, Redis and nginx the cluster tests start
  libpq-dev postgresql libhiredis-dev redis-server nginx
  # gRPC: Debian's gRPC (the client SDK's transport, the load bench) and its code
  # generators; Python's grpcio and protobuf for the tests' real gRPC client (the listener
  # itself is on nghttp2, below)
  libgrpc++-dev protobuf-compiler-grpc python3-grpcio python3-protobuf
  # backends out of process: the worker's system call filter
  libseccomp-dev
  # deploy/ tests: a real Prometheus + promtool, systemd-analyze, YAML parsing, openssl
  prometheus systemd python3-yaml openssl
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

if ((EUID != 0)); then
  exec sudo "$0" "$@"
fi

echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

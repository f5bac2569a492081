#!/usr/bin/env bash
# Latency on one keep-alive connection (no load), each build's server in turn: against the
# answer's size (the MLP with batches of 1 to 1000 images, binary in and JSON out: answers
# of 260 B to 133 KB, sent by Python's http.client), then the client SDK's sequential
# requests (the batch-1 JSON example) when the build has bench/sdk_request_latency. Large
# answers span several TLS records, and the SDK writes a request's head and body apart:
# where Nagle's algorithm, left on, held the last write for the peer's delayed ACK.
# usage: bench/gateway/answer_size_latency.sh BUILD_DIR [BUILD_DIR...]
set -euo pipefail
cd "$(dirname "$0")/../.."
((${#@})) || { echo "usage: $0 BUILD_DIR [BUILD_DIR...]" >&2; exit 2; }
# shellcheck source=work_dir.sh
source bench/gateway/work_dir.sh
for build in "$@"; do
  data=$work/data-${#pids[@]}
  "$build/gateway/modelgate" init --data-dir "$data" >/dev/null
  "$build/gateway/modelgate" import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx \
    --promote >/dev/null
  serve_data "$build" "$data"
  echo "== $build"
  for batch in 1 64 300 1000; do
    /usr/bin/python3 bench/gateway/sequential_infer.py "$port" "$(cat "$data/admin.key")" "$batch"
  done
  if [[ -x $build/bench/sdk_request_latency ]]; then
    "$build/bench/sdk_request_latency" "$port" "$(cat "$data/admin.key")" "$data/tls/cert.pem" \
      fashion-mlp examples/requests/fashion-mlp.json
  fi
  kill "${pids[-1]}"
done

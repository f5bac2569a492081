#!/usr/bin/env bash
# A freshly started server's first seconds under load: for each model config given, a new
# `modelgate serve` with the seed CNN imported with that config, then SECONDS one-second
# wrk runs (64 connections, CNN batch 1, binary) one after the other; prints each second's
# RESULT line. run.sh warms every row up for a second before it measures; this shows what
# that second is.
# usage: bench/gateway/first_seconds.sh BUILD_DIR SECONDS CONFIG...
#   e.g. bench/gateway/first_seconds.sh build 3 '{}' '{"conv_winograd": false}'
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1 seconds=$2
shift 2
# shellcheck source=work_dir.sh
source bench/gateway/work_dir.sh
/usr/bin/python3 bench/gateway/make_inputs.py "$work" examples >/dev/null
for config in "$@"; do
  data=$work/data-${#pids[@]}
  "$build/gateway/modelgate" init --data-dir "$data" >/dev/null
  "$build/gateway/modelgate" import --data-dir "$data" fashion-cnn examples/models/fashion-cnn.onnx \
    --config "$config" --promote >/dev/null
  serve_data "$build" "$data"
  echo "model config $config"
  for second in $(seq 1 "$seconds"); do
    line=$(BODY="$work/cnn.bin" HEADER_LENGTH="$(cat "$work/cnn.bin.len")" \
      CONTENT_TYPE=application/octet-stream KEY="$(cat "$data/admin.key")" \
      wrk -t2 -c64 -d1s -s bench/gateway/post.lua \
      "https://127.0.0.1:$port/v2/models/fashion-cnn/infer" | grep '^RESULT')
    echo "  second $second: ${line#RESULT }"
  done
  kill "${pids[-1]}"
done

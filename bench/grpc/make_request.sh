#!/usr/bin/env bash
# The gRPC benches' call, in WORK: mlp.grpc (the serialized ModelInferRequest) and
# mlp.grpc.frame (it as a unary call's body), from the tree's proto (Python stubs in
# WORK/stubs). Run from the repository root. usage: bench/grpc/make_request.sh WORK
set -euo pipefail
work=$1
mkdir -p "$work/stubs"
protoc --proto_path=proto --python_out="$work/stubs" proto/grpc_service.proto proto/model_config.proto
/usr/bin/python3 bench/grpc/make_request.py "$work/stubs" examples/requests/fashion-mlp.json \
  "$work/mlp.grpc"

"""Writes the ModelInferRequest the gRPC benches send: the Fashion-MNIST MLP's example
image at batch 1, its pixels as raw_input_contents (the fast form, as the binary tensor
extension is over HTTP). OUT is the serialized message (grpc_load sends it), OUT.frame the
body of a unary gRPC call carrying it (a 5-byte prefix: not compressed, big-endian length;
h2load posts it). usage: make_request.py STUBS_DIR REQUEST_JSON OUT"""
import json
import struct
import sys

sys.path.insert(0, sys.argv[1])
import grpc_service_pb2 as pb  # noqa: E402

with open(sys.argv[2]) as f:
    tensor = json.load(f)["inputs"][0]
request = pb.ModelInferRequest(model_name="fashion-mlp")
request.inputs.add(name=tensor["name"], datatype="FP32", shape=tensor["shape"])
request.raw_input_contents.append(struct.pack(f"<{len(tensor['data'])}f", *tensor["data"]))
message = request.SerializeToString()
with open(sys.argv[3], "wb") as f:
    f.write(message)
with open(sys.argv[3] + ".frame", "wb") as f:
    f.write(b"\0" + struct.pack(">I", len(message)) + message)

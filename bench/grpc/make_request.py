"""Writes the serialized ModelInferRequest grpc_load sends: the Fashion-MNIST MLP's example
image at batch 1, its pixels as raw_input_contents (the fast form, as the binary tensor
extension is over HTTP). usage: make_request.py STUBS_DIR REQUEST_JSON OUT.bin"""
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
with open(sys.argv[3], "wb") as f:
    f.write(request.SerializeToString())

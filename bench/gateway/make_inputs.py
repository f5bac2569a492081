# Writes what bench/gateway/run.sh sends: a wide compute-heavy MLP (784→1024→1024→10,
# random weights) as ONNX, and binary-extension request bodies for the seed models.
# Run with /usr/bin/python3 (Debian's numpy and onnx). usage: make_inputs.py OUT_DIR EXAMPLES
import json, os, sys
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

out, examples = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)

def dense(name, n_in, n_out):
    w = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
    b = np.zeros(n_out, np.float32)
    return [numpy_helper.from_array(w, name + "_w"), numpy_helper.from_array(b, name + "_b")]

inits = dense("fc1", 784, 1024) + dense("fc2", 1024, 1024) + dense("fc3", 1024, 10)
nodes = [
    helper.make_node("Gemm", ["image", "fc1_w", "fc1_b"], ["h1"]),
    helper.make_node("Relu", ["h1"], ["a1"]),
    helper.make_node("Gemm", ["a1", "fc2_w", "fc2_b"], ["h2"]),
    helper.make_node("Relu", ["h2"], ["a2"]),
    helper.make_node("Gemm", ["a2", "fc3_w", "fc3_b"], ["logits"]),
    helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
]
graph = helper.make_graph(
    nodes, "wide_mlp",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 784])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, "wide-mlp.onnx"))

def binary_body(name, shape, raw, path):
    header = json.dumps({"inputs": [{"name": name, "datatype": "FP32", "shape": shape,
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]},
                        separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(header + raw)
    with open(path + ".len", "w") as f:
        f.write(str(len(header)))

image = open(os.path.join(examples, "models", "fashion-mlp.input.bin"), "rb").read()[:784 * 4]
binary_body("image", [1, 28, 28], image, os.path.join(out, "mlp.bin"))
binary_body("image", [1, 1, 28, 28], image, os.path.join(out, "cnn.bin"))
wide = {"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 784],
                    "data": np.frombuffer(image, np.float32).tolist()}]}
json.dump(wide, open(os.path.join(out, "wide.json"), "w"))

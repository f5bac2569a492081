#!/usr/bin/python3
"""Writes dynamic-length.onnx, a test model whose sequence length (dimension 1) is dynamic,
as a text model exported with a symbolic length is. tokens INT64 [batch, length] ->
Gather from a 100x2 table whose row i is (i, 1) -> ReduceSum over the length -> "totals"
FP32 [batch, 2] = (sum of the ids, length). A result computed on another request's data
or a truncated row shows in either number; an id >= 100 fails the whole batch (Gather).
Run with Debian's python3-onnx: /usr/bin/python3 make_dynamic_length_model.py"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

table = np.stack([np.arange(100, dtype=np.float32), np.ones(100, dtype=np.float32)], axis=1)
graph = helper.make_graph(
    [
        helper.make_node("Gather", ["table", "tokens"], ["embedded"], axis=0),
        helper.make_node("ReduceSum", ["embedded", "axes"], ["totals"], keepdims=0),
    ],
    "dynamic_length",
    [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "length"])],
    [helper.make_tensor_value_info("totals", TensorProto.FLOAT, ["batch", 2])],
    initializer=[numpy_helper.from_array(table, "table"),
                 numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, "dynamic-length.onnx")

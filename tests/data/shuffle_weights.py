#!/usr/bin/python3
"""Writes a deliberately damaged copy of an ONNX model: the rows (dimension 0) of every
weight tensor of two or more dimensions shuffled with a fixed seed. The copy loads and
runs like the original but answers badly: the evaluation tests' "damaged version".
usage: /usr/bin/python3 shuffle_weights.py IN.onnx OUT.onnx  (Debian's python3-onnx)"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
rng = np.random.default_rng(7)
for i, tensor in enumerate(model.graph.initializer):
    weights = numpy_helper.to_array(tensor)
    if weights.ndim < 2:
        continue
    shuffled = weights[rng.permutation(weights.shape[0])]
    model.graph.initializer[i].CopyFrom(numpy_helper.from_array(shuffled, tensor.name))
onnx.save(model, sys.argv[2])

#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "plugins/cpu/graph.h"

namespace mg::cpu {

// Parses, checks and converts an ONNX model into a Graph ready for the optimizer.
//  - bytes: the model file (possibly decrypted in memory); path: where it lives on disk,
//    or "" — external tensor data is read only from inside path's directory.
//  - Runs the ONNX checker and shape inference; accepts default-domain opsets 7 to 17.
//  - Throws CpuError: kUnsupported for an operator, opset or type the backend lacks (the
//    message names the operator, its domain and opset, and the node), kInvalid for
//    anything malformed, inconsistent or hostile.
Graph load_onnx(std::span<const std::byte> bytes, const std::string& path);

}  // namespace mg::cpu

namespace onnx {
class TensorProto;
}

namespace mg::cpu {

// One ONNX TensorProto as a Tensor, with its size checked against its shape before any
// allocation. Throws CpuError (kUnsupported for an element type the backend lacks).
Tensor tensor_from_proto(const onnx::TensorProto& proto);

}  // namespace mg::cpu

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/dtype.h"

namespace mg::gateway {

// A declared input or output: shape entries are -1 where the dimension is dynamic.
struct TensorDesc {
  std::string name;
  DType dtype = DType::kInvalid;
  std::vector<int64_t> shape;
};

// What a loaded model declares (a host-owned copy of MG_ModelMetadata).
struct ModelMetadata {
  std::vector<TensorDesc> inputs;
  std::vector<TensorDesc> outputs;
  int64_t max_batch_size = 0;  // > 0: dimension 0 is the batch dimension
  bool execute_reentrant = false;

  const TensorDesc* find_input(const std::string& name) const;
  const TensorDesc* find_output(const std::string& name) const;
};

// An input tensor handed to execute. Does not own data, which must outlive the call.
struct TensorRef {
  std::string name;
  DType dtype = DType::kInvalid;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  uint64_t byte_size = 0;
};

// An output produced by execute, in a buffer the host allocated for the plugin.
struct OutputTensor {
  std::string name;
  DType dtype = DType::kInvalid;
  std::vector<int64_t> shape;
  std::unique_ptr<std::byte[]> data;
  uint64_t byte_size = 0;
};

// One execute call: inputs already merged along dimension 0 when the model batches.
struct BatchInput {
  std::vector<TensorRef> inputs;
  // Rows of dimension 0 per request, in order ({1} for a model that does not batch).
  std::vector<uint64_t> request_rows;
  // Outputs wanted; empty means all of them.
  std::vector<std::string> outputs;
};

struct BatchOutput {
  // Outputs covering the whole batch; empty when every request failed.
  std::vector<OutputTensor> outputs;
  // One entry per request: nullopt when it succeeded.
  std::vector<std::optional<Failure>> request_failures;
  // Set when the plugin failed the execute call as a whole (not request by request): the
  // batcher cannot tell which request caused it (see DynamicBatcher's bisection).
  std::optional<Failure> batch_failure;
};

}  // namespace mg::gateway

#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gateway/plugin_host/tensor.h"

namespace mg::gateway {

// Class names of a model version's outputs: the model config's
//   "postprocess": {"probabilities": {"labels": ["t-shirt/top", "trouser", …]}}
// used by the classification extension (docs/preprocessing.md "Labels out").
struct OutputLabels {
  std::string output;
  std::vector<std::string> labels;  // label of class index i
};

struct Postprocessing {
  std::vector<OutputLabels> outputs;
  const std::vector<std::string>* labels_of(const std::string& output) const;
};

// The "postprocess" object of a model config (absent: empty), checked against the model's
// declared outputs. Throws std::invalid_argument naming the key.
Postprocessing postprocessing_of(const std::string& config_json, const ModelMetadata& metadata);

// The classification extension (KServe's and Triton's): the top `k` classes of each row of
// an FP32 output — rows are dimension 0 when `batched`, else the whole tensor is one row —
// as "score:index:label" strings ("score:index" where a class has no label), best first,
// score with 6 decimals as Triton prints it. Ties keep the lower index first. k is capped
// at the number of classes. `shape` becomes [rows, k] (batched) or [k].
std::vector<std::string> top_classes(std::span<const float> values, std::vector<int64_t>& shape,
                                     bool batched, uint32_t k,
                                     const std::vector<std::string>* labels);

}  // namespace mg::gateway

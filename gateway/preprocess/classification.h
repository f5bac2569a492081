#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/plugin_host/tensor.h"

namespace mg::gateway {

// Class names of a model version's outputs: the model config's "postprocess", per output,
//   "probabilities": {"labels": ["t-shirt/top", "trouser", …]}
//   "probabilities": {"labels_file": "labels"}         (a file of the version, one per line)
//   "probability": {"sigmoid_threshold": 0.5, "labels": ["other", "library"]}
// used by the classification extension (docs/preprocessing.md "Labels out").
struct OutputLabels {
  std::string output;
  std::vector<std::string> labels;  // label of class index i
  // A binary output (one sigmoid score p per row): class 1 when p ≥ the threshold, else 0,
  // scored p and 1 − p.
  std::optional<float> sigmoid_threshold;
};

struct Postprocessing {
  std::vector<OutputLabels> outputs;
  const OutputLabels* find(const std::string& output) const;
  const std::vector<std::string>* labels_of(const std::string& output) const;
};

// The "postprocess" object of a model config (absent: empty), checked against the model's
// declared outputs; `files` are the version's files (name → contents) a "labels_file"
// names — and its own "postprocess" object, the file `postprocess`, replaces the model
// config's. Throws std::invalid_argument naming the key.
Postprocessing postprocessing_of(const std::string& config_json, const ModelMetadata& metadata,
                                 const std::map<std::string, std::string>& files = {});

// The classification extension (KServe's and Triton's): the top `k` classes of each row of
// an FP32 output — rows are dimension 0 when `batched`, else the whole tensor is one row —
// as "score:index:label" strings ("score:index" where a class has no label), best first,
// score with 6 decimals as Triton prints it. Ties keep the lower index first. k is capped
// at the number of classes. `shape` becomes [rows, k] (batched) or [k].
// With `objects`, each class is the JSON text {"index":9,"label":"ankle boot","score":0.997208}
// instead ("label" absent where a class has none).
std::vector<std::string> top_classes(std::span<const float> values, std::vector<int64_t>& shape,
                                     bool batched, uint32_t k,
                                     const std::vector<std::string>* labels, bool objects = false);

// top_classes, or for an output with a sigmoid threshold the two classes of each row's
// score, the one the threshold picks first (a row holding more than one value is refused
// with std::invalid_argument).
std::vector<std::string> classify_rows(std::span<const float> values, std::vector<int64_t>& shape,
                                       bool batched, uint32_t k, const OutputLabels* labels,
                                       bool objects = false);

}  // namespace mg::gateway

#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "modelgate/plugin.h"
#include "plugins/cpu/executor.h"
#include "plugins/cpu/graph.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/optimizer.h"

namespace mg::cpu {

// Settings from the model's config JSON.
struct ModelConfig {
  // > 0: the host may batch (every input/output needs dim 0 = -1); -1: not in the config,
  // decided from the model at load (kDefaultMaxBatch when its rows are independent, else 0).
  int64_t max_batch_size = -1;
  int threads = 1;  // kernel threads per instance
  // "conv_winograd": true|false; absent: decided at load (on for a batched model within
  // kWinogradDefaultBudgetBytes, winograd_default.h), then kept in kernels.conv_winograd.
  std::optional<bool> conv_winograd;
  KernelOptions kernels;
};

// Parses {"max_batch_size": N, "threads": T, "conv_winograd": B} (other keys are the
// host's and ignored).
ModelConfig parse_model_config(const std::string& json);

// The max_batch_size of a model whose config has none and whose dimension 0 is provably a
// batch (rows_are_independent, batch_dimension.h; Triton's auto-complete batches such
// models too, by their shapes alone): requests then share batches — gathered on the
// socket thread that took them, without waiting for one another (docs/admin-api.md) —
// and one request may carry up to this many rows. A config's "max_batch_size": 0 turns
// it off.
inline constexpr int64_t kDefaultMaxBatch = 64;

// Settings from the backend's config JSON (the server's [backends.cpu] table).
struct BackendSettings {
  // Whether a model without "max_batch_size" gets kDefaultMaxBatch when its rows are
  // independent ("batch_by_default", default true).
  bool batch_by_default = true;
  // Whether a batched model without "conv_winograd" takes it within the budget
  // ("winograd_by_default", default true; winograd_default.h).
  bool winograd_by_default = true;
};

// Parses {"batch_by_default": B, "winograd_by_default": W}; null or "" is {}. Throws
// CpuError(kInvalid).
BackendSettings parse_backend_config(const char* json);

// A loaded, optimised model and the metadata it declares through the C ABI.
class CpuModel {
 public:
  // Throws CpuError (see load_onnx).
  static std::unique_ptr<CpuModel> load(std::span<const std::byte> bytes, const std::string& path,
                                        const std::string& config_json,
                                        const BackendSettings& backend = {});

  const MG_ModelMetadata& metadata() const { return metadata_; }
  const ModelConfig& config() const { return config_; }
  const OptimizeStats& stats() const { return stats_; }
  std::shared_ptr<const Graph> graph() const { return graph_; }

 private:
  std::shared_ptr<const Graph> graph_;
  ModelConfig config_;
  OptimizeStats stats_;
  // Storage the metadata points into.
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<MG_Tensor> inputs_, outputs_;
  MG_ModelMetadata metadata_{};
};

int32_t to_mg_dtype(ElemType type);
ElemType from_mg_dtype(int32_t dtype);

}  // namespace mg::cpu

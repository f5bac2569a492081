#include "plugins/cpu/cpu_model.h"

#include <algorithm>
#include <boost/json.hpp>

#include "plugins/cpu/batch_dimension.h"
#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/onnx_loader.h"
#include "plugins/cpu/winograd_default.h"

namespace mg::cpu {

int32_t to_mg_dtype(ElemType type) {
  switch (type) {
    case ElemType::kFloat:
      return MG_DTYPE_FP32;
    case ElemType::kDouble:
      return MG_DTYPE_FP64;
    case ElemType::kInt32:
      return MG_DTYPE_INT32;
    case ElemType::kInt64:
      return MG_DTYPE_INT64;
    case ElemType::kInt8:
      return MG_DTYPE_INT8;
    case ElemType::kUint8:
      return MG_DTYPE_UINT8;
    case ElemType::kBool:
      return MG_DTYPE_BOOL;
    case ElemType::kUndefined:
      break;
  }
  return MG_DTYPE_INVALID;
}

ElemType from_mg_dtype(int32_t dtype) {
  for (ElemType t : {ElemType::kFloat, ElemType::kDouble, ElemType::kInt32, ElemType::kInt64,
                     ElemType::kInt8, ElemType::kUint8, ElemType::kBool}) {
    if (to_mg_dtype(t) == dtype) return t;
  }
  return ElemType::kUndefined;
}

ModelConfig parse_model_config(const std::string& json) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) {
    throw CpuError(CpuError::kInvalid, "model config must be a JSON object");
  }
  ModelConfig config;
  const auto& object = value.as_object();
  auto read_int = [&](const char* key, int64_t lo, int64_t hi, int64_t fallback) {
    const boost::json::value* v = object.if_contains(key);
    if (v == nullptr) return fallback;
    if (!v->is_int64() || v->as_int64() < lo || v->as_int64() > hi) {
      throw CpuError(CpuError::kInvalid, std::string("model config: \"") + key +
                                             "\" must be an integer from " + std::to_string(lo) +
                                             " to " + std::to_string(hi));
    }
    return v->as_int64();
  };
  config.max_batch_size = read_int("max_batch_size", 0, 1 << 20, -1);
  config.threads = static_cast<int>(read_int("threads", 1, 256, 1));
  config.kernels.threads = config.threads;
  if (const boost::json::value* v = object.if_contains("conv_winograd")) {
    if (!v->is_bool()) {
      throw CpuError(CpuError::kInvalid, "model config: \"conv_winograd\" must be true or false");
    }
    config.conv_winograd = v->as_bool();
  }
  return config;
}

BackendSettings parse_backend_config(const char* json) {
  BackendSettings settings;
  if (json == nullptr || *json == '\0') return settings;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) {
    throw CpuError(CpuError::kInvalid, "backend config must be a JSON object");
  }
  auto read_bool = [&](const char* key, bool& out) {
    const boost::json::value* v = value.as_object().if_contains(key);
    if (v == nullptr) return;
    if (!v->is_bool()) {
      throw CpuError(CpuError::kInvalid,
                     std::string("backend config: \"") + key + "\" must be true or false");
    }
    out = v->as_bool();
  };
  read_bool("batch_by_default", settings.batch_by_default);
  read_bool("winograd_by_default", settings.winograd_by_default);
  return settings;
}

std::unique_ptr<CpuModel> CpuModel::load(std::span<const std::byte> bytes, const std::string& path,
                                         const std::string& config_json,
                                         const BackendSettings& backend) {
  auto model = std::unique_ptr<CpuModel>(new CpuModel);
  ModelConfig& config = model->config_;
  config = parse_model_config(config_json);
  auto graph = std::make_shared<Graph>(load_onnx(bytes, path));
  // Both defaults are decided on the ops as exported, before fusions.
  if (config.max_batch_size < 0) {
    const bool batches = backend.batch_by_default && rows_are_independent(*graph);
    config.max_batch_size = batches ? kDefaultMaxBatch : 0;
  }
  const bool batching = config.max_batch_size > 0;
  config.kernels.conv_winograd =
      config.conv_winograd ? *config.conv_winograd
                           : backend.winograd_by_default && batching &&
                                 winograd_extra_bytes(*graph) <= kWinogradDefaultBudgetBytes;
  model->stats_ = optimize(*graph);
  config.kernels.max_batch = config.max_batch_size;
  prepare_kernels(*graph, config.kernels);
  model->graph_ = graph;

  auto describe = [&](const std::vector<int>& ids, std::vector<MG_Tensor>& out, const char* kind) {
    for (int id : ids) {
      const Value& v = graph->values[static_cast<std::size_t>(id)];
      if (to_mg_dtype(v.type) == MG_DTYPE_INVALID || !v.shape_known) {
        throw CpuError(CpuError::kInvalid,
                       std::string(kind) + " '" + v.name + "' has no known element type and rank");
      }
      std::vector<int64_t> shape = v.shape;
      if (batching) {
        if (shape.empty() || shape[0] != -1) {
          throw CpuError(CpuError::kInvalid,
                         std::string(kind) + " '" + v.name + "' has shape " + shape_text(v.shape) +
                             ": batching (max_batch_size > 0) needs a dynamic dimension 0");
        }
        shape[0] = -1;
      }
      model->shapes_.push_back(std::move(shape));
      const auto& s = model->shapes_.back();
      out.push_back(MG_Tensor{v.name.c_str(), to_mg_dtype(v.type), static_cast<uint32_t>(s.size()),
                              s.empty() ? nullptr : s.data(), nullptr, 0});
    }
  };
  model->shapes_.reserve(graph->inputs.size() + graph->outputs.size());
  describe(graph->inputs, model->inputs_, "input");
  describe(graph->outputs, model->outputs_, "output");
  model->metadata_ = MG_ModelMetadata{sizeof(MG_ModelMetadata),
                                      static_cast<uint32_t>(model->inputs_.size()),
                                      model->inputs_.data(),
                                      static_cast<uint32_t>(model->outputs_.size()),
                                      model->outputs_.data(),
                                      config.max_batch_size,
                                      0};
  return model;
}

}  // namespace mg::cpu

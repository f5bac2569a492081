#pragma once
// What the C++ benchmarks share about the seed models (examples/models/): their files, and
// each one's input name, element type and example shape.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "gateway/plugin_host/backend.h"

namespace mg::bench {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct SeedModel {
  const char* name;
  const char* input;
  gateway::DType dtype;
  std::vector<int64_t> row_shape;  // one example
  std::size_t row_bytes;

  // The input's shape for a batch of `rows` examples.
  std::vector<int64_t> batch_shape(int64_t rows) const {
    std::vector<int64_t> shape{rows};
    shape.insert(shape.end(), row_shape.begin(), row_shape.end());
    return shape;
  }
};

inline const std::vector<SeedModel>& seed_models() {
  static const std::vector<SeedModel> models = {
      {"fashion-mlp", "image", gateway::DType::kFp32, {28, 28}, 28 * 28 * 4},
      {"fashion-cnn", "image", gateway::DType::kFp32, {1, 28, 28}, 28 * 28 * 4},
      {"text-classifier", "tokens", gateway::DType::kInt64, {32}, 32 * 8},
  };
  return models;
}

inline const SeedModel& seed_model(const std::string& name) {
  for (const auto& model : seed_models()) {
    if (name == model.name) return model;
  }
  throw std::invalid_argument("no seed model named '" + name + "'");
}

}  // namespace mg::bench

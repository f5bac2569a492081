#pragma once

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "gateway/plugin_host/backend.h"

namespace mg::gateway::testing {

inline std::filesystem::path test_plugin(const std::string& name) {
  return std::filesystem::path(MG_TEST_PLUGIN_DIR) / ("libmg_" + name + ".so");
}

// Captures log lines for the life of the object.
class LogCapture {
 public:
  LogCapture() {
    previous_ = mg::set_log_sink([this](mg::LogLevel, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { mg::set_log_sink(previous_); }

  bool contains(std::string_view fragment) const {
    std::lock_guard lock(mutex_);
    for (const auto& line : lines_) {
      if (line.find(fragment) != std::string::npos) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  mg::LogSink previous_;
};

inline std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// Loads the test backend's model with the given config JSON.
inline std::shared_ptr<Model> load_test_model(const std::shared_ptr<Backend>& backend,
                                              const std::string& config = "{}") {
  return Model::load(backend, "m", bytes_of("TESTMODEL weights"), "", config);
}

// A batch for the test model: one request per entry of `rows`, values 1, 2, 3, … except
// that requests listed in `negative` start with a negative value.
struct TestBatch {
  std::vector<float> values;
  BatchInput input;

  TestBatch(std::vector<uint64_t> rows, std::vector<std::size_t> negative = {}) {
    uint64_t total = 0;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      for (uint64_t i = 0; i < rows[r] * 4; ++i)
        values.push_back(static_cast<float>(total * 4 + i + 1));
      for (std::size_t n : negative) {
        if (n == r) values[total * 4] = -1;
      }
      total += rows[r];
    }
    input.inputs.push_back(TensorRef{"x",
                                     DType::kFp32,
                                     {static_cast<int64_t>(total), 4},
                                     values.data(),
                                     values.size() * sizeof(float)});
    input.request_rows = std::move(rows);
  }
};

inline std::vector<float> floats_of(const OutputTensor& output) {
  std::vector<float> result(output.byte_size / sizeof(float));
  std::memcpy(result.data(), output.data.get(), output.byte_size);
  return result;
}

}  // namespace mg::gateway::testing

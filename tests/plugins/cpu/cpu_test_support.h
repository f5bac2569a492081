#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <sstream>
#include <string>

#include "gateway/plugin_host/backend.h"
#include "gateway/plugin_host/backend_error.h"

namespace mg::cpu::testing {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::span<const std::byte> bytes_of(const std::string& text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// The real libmg_cpu.so, loaded once for the test binary through the plugin host.
inline std::shared_ptr<gateway::Backend> cpu_backend() {
  static std::shared_ptr<gateway::Backend> backend =
      gateway::Backend::open(std::filesystem::path(MG_PLUGIN_DIR) / "libmg_cpu.so", "{}");
  return backend;
}

inline std::shared_ptr<gateway::Model> load_model(const std::string& bytes,
                                                  const std::string& config = "{}",
                                                  const std::string& path = "") {
  return gateway::Model::load(cpu_backend(), "test", bytes_of(bytes), path, config);
}

}  // namespace mg::cpu::testing

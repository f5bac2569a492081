// Fuzzes the server's TOML config (toml++ parsing, the schema check, settings). Every
// outcome is either settings within the schema's ranges or a runtime_error naming the
// config; HOST:PORT parsing of the listen addresses is fuzzed on the way.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "gateway/main/serve_config.h"
#include "tests/fuzz/fuzz_finding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mg::gateway::ServeSettings settings;
  try {
    mg::gateway::apply_config_text(std::string_view(reinterpret_cast<const char*>(data), size),
                                   "fuzz.toml", settings);
  } catch (const std::runtime_error& e) {
    if (std::string_view(e.what()).substr(0, 15) != "config fuzz.tom") {
      mg::fuzz::finding("config error that does not name the config");
    }
    return 0;
  }
  if (settings.threads < 1 || settings.threads > 1024) mg::fuzz::finding("threads out of range");
  if (settings.limits.read_timeout.count() < 1) mg::fuzz::finding("read timeout below 1 s");
  for (const auto* address : {&settings.listen, &settings.metrics_listen}) {
    try {
      (void)mg::gateway::split_host_port(*address);
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}

// Fuzzes what the server reads from a backend worker: a worker runs third-party plugin
// code, so its replies are not trusted. Any input either decodes or throws ProtocolError
// (never another exception, a crash or a huge allocation); a decoded reply's tensors are
// then checked against a region as the server does, and its round trip is exact.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/plugin_host/worker_messages.h"
#include "tests/fuzz/fuzz_finding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mg::gateway::worker;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const ExecuteReply reply = decode_executed(bytes);
    if (reply.placed.size() != reply.outputs.size()) mg::fuzz::finding("placements do not match");
    for (const Placed& placed : reply.placed) {
      try {
        check_inside(placed, 1 << 20);
        if (placed.offset + placed.bytes > (1u << 20)) mg::fuzz::finding("accepted outside");
      } catch (const ProtocolError&) {
      }
    }
  } catch (const ProtocolError&) {
  }
  try {
    const LoadReply loaded = decode_loaded(bytes);
    const LoadReply again = decode_loaded(encode(loaded));
    if (again.metadata.inputs.size() != loaded.metadata.inputs.size() ||
        again.backend_version != loaded.backend_version ||
        again.failure.has_value() != loaded.failure.has_value()) {
      mg::fuzz::finding("a load reply does not survive its round trip");
    }
  } catch (const ProtocolError&) {
  }
  return 0;
}

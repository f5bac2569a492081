// Fuzzes ONNX model loading in the CPU backend: protobuf parsing, the ONNX checker and
// shape inference, graph building, constant folding and the memory plan. Bytes arrive as
// the host passes them (in memory, path in a directory that does not exist, so external
// data can never resolve). Hostile files must give a CpuError, never a crash, a hang or a
// huge allocation (run with -rss_limit_mb / -malloc_limit_mb).
#include <cstddef>
#include <cstdint>
#include <span>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/cpu_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)mg::cpu::CpuModel::load(std::span(reinterpret_cast<const std::byte*>(data), size),
                                  "/nonexistent-fuzz-dir/model.onnx", "{}");
  } catch (const mg::cpu::CpuError&) {
  }
  return 0;
}

#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mg::gateway {

// A failure with an MG_ERROR_* code: reported by a plugin through its error object, or by
// the host about a plugin (refused library, bad metadata, bad output). The plugin host's
// functions throw it; the message names the file or model concerned.
class BackendError : public std::runtime_error {
 public:
  BackendError(int32_t code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  int32_t code() const { return code_; }

 private:
  int32_t code_;
};

// A host-side failure code (never crosses the plugin ABI, whose codes stay below 1000):
// the worker process running the batch died or missed its deadline (WorkerFailed). The
// API answers it 503 backend_failed.
constexpr int32_t kWorkerFailedCode = 1001;
// The model's worker is being restarted (or restarts gave up): 503 model_not_ready.
constexpr int32_t kWorkerRestartingCode = 1002;
// The request was still queued when its deadline passed: never run (503 deadline_exceeded).
constexpr int32_t kQueueDeadlineCode = 1003;
// The model's queue was full when the request was handed to it after its caller had moved
// on (a request gathered on a socket thread): never run (503 overloaded).
constexpr int32_t kQueueFullCode = 1004;

// A per-request outcome of an execute call: the plugin's code and message.
struct Failure {
  int32_t code;
  std::string message;
};

}  // namespace mg::gateway

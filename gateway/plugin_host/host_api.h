#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/tensor.h"
#include "modelgate/plugin.h"

// The host's side of the C ABI: the MG_HostApi table, the error objects it creates and the
// per-call execute context its output callbacks fill. Internal to the plugin host.

// Host-owned error object handed to plugins (declared opaque in plugin.h).
struct MG_Error {
  int32_t code;
  std::string message;
};

// One execute call's state, filled through MG_HostApi.output_alloc / request_error.
struct MG_ExecuteContext {
  const mg::gateway::ModelMetadata* metadata = nullptr;
  const std::vector<std::string>* requested_outputs = nullptr;  // empty: all
  std::optional<uint64_t> batch_rows;  // required dimension 0 of outputs when batching
  uint64_t max_output_bytes = 0;

  std::mutex mutex;  // output_alloc may be called from several plugin threads
  std::vector<mg::gateway::OutputTensor> outputs;
  std::vector<std::optional<mg::gateway::Failure>> request_failures;
};

namespace mg::gateway {

// The table given to every plugin's backend_init; static storage.
const MG_HostApi* host_api();

// Converts a plugin-returned error to a Failure and releases it. nullptr is a bug in the
// caller (only call it with an error); it yields an MG_ERROR_INTERNAL failure.
Failure take_error(MG_Error* error);

// Throws BackendError with `context: message` when error is non-null (and releases it).
void throw_if_error(MG_Error* error, const std::string& context);

}  // namespace mg::gateway

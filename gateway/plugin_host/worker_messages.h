#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/plugin_host/tensor.h"
#include "gateway/plugin_host/worker_protocol.h"

// The messages of the worker protocol (worker_protocol.h), encoded and decoded in one
// place so the two sides cannot disagree.
namespace mg::gateway::worker {

// What a worker may do beyond computing (docs/operations.md "Backend isolation").
struct Sandbox {
  uint64_t memory_bytes = 0;   // RLIMIT_AS; 0: none
  uint64_t cpu_seconds = 0;    // RLIMIT_CPU over the worker's life; 0: none
  uint64_t open_files = 0;     // RLIMIT_NOFILE; 0: inherited
  bool allow_network = false;  // else socket() is refused for anything but AF_UNIX
  bool allow_exec = false;     // else execve/execveat are refused
};

// Server → worker, on the control socket, once. Descriptors: the artifact's memfd, then
// one socket per instance (its lane). A probe only opens the plugin (its ABI checks and
// backend_init), answers, and exits: how the server learns a process-isolated plugin's
// version without running its code in its own process.
struct LoadRequest {
  bool probe = false;
  std::string plugin_path;
  std::string backend_config;
  std::string model_name;
  std::string artifact_path;
  std::string model_config;
  uint64_t artifact_bytes = 0;
  uint32_t instances = 1;
  uint64_t max_output_bytes = uint64_t{1} << 30;
  Sandbox sandbox;
};
std::string encode(const LoadRequest& request);
LoadRequest decode_load(std::string_view bytes);

// Worker → server: the model's metadata, or why it could not load. The plugin's declared
// version and ABI come also when it was refused.
struct LoadReply {
  std::optional<Failure> failure;
  std::string backend_version;
  uint32_t abi_major = 0, abi_minor = 0;
  ModelMetadata metadata;
};
std::string encode(const LoadReply& reply);
LoadReply decode_loaded(std::string_view bytes);

// Server → worker on a lane: one batch, its inputs placed in the lane's input region.
// `new_region` says a descriptor for a new (larger) input region comes with it.
std::string encode_execute(const BatchInput& batch, const std::vector<Placed>& placed,
                           bool new_region);
struct ExecuteRequest {
  BatchInput batch;            // inputs without data: the caller points them into its region
  std::vector<Placed> placed;  // where each input is (check_inside before use)
  bool new_region = false;
};
ExecuteRequest decode_execute(std::string_view bytes);

// Worker → server: the outputs placed in the lane's output region (a descriptor comes
// with it when the region was replaced), and the failures.
std::string encode_executed(const BatchOutput& output, const std::vector<Placed>& placed,
                            bool new_region);
struct ExecuteReply {
  std::vector<OutputTensor> outputs;  // names, dtypes, shapes; data copied by the reader
  std::vector<Placed> placed;
  std::vector<std::optional<Failure>> request_failures;
  std::optional<Failure> batch_failure;
  bool new_region = false;
};
ExecuteReply decode_executed(std::string_view bytes);

}  // namespace mg::gateway::worker

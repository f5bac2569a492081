// modelgate-worker: runs one model version of a backend plugin for the server, out of its
// process (docs/architecture.md "Backends out of process"). Started by the server with its
// control socket as fd 3 and the server's pid as its one argument; never by hand.
//
// It receives the load request, confines itself (sandbox.h), loads the plugin and the
// model with the server's own plugin host code (the same ABI checks, the same output
// checks), answers with the metadata, then serves each instance's lane on its own thread
// until the server closes the sockets or dies. A probe request only opens the plugin and
// answers with its version (server start-up: the server never opens such a plugin itself).
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "gateway/plugin_host/backend.h"
#include "gateway/plugin_host/worker_messages.h"
#include "gateway/worker/sandbox.h"

namespace mg::gateway {
namespace {

constexpr int kControlFd = 3;

[[noreturn]] void quit(int status) {
  // No destructors: the plugin's threads may still run, and the server owns the outcome.
  std::_Exit(status);
}

// Serves one lane: each message is a batch whose inputs are in `input`, answered with
// the outputs in `output` (replaced by a larger region when a batch needs one).
void serve_lane(int socket, Instance& instance) {
  worker::SharedMemory input, output;
  std::string message;
  std::vector<int> fds;
  for (;;) {
    fds.clear();
    if (!worker::receive_message(socket, message, fds)) quit(0);  // the server is done
    worker::ExecuteRequest request = worker::decode_execute(message);
    if (request.new_region) {
      if (fds.size() != 1) throw worker::ProtocolError("an input region without its descriptor");
      input = worker::SharedMemory::adopt(fds[0]);
    }
    for (std::size_t i = 0; i < request.batch.inputs.size(); ++i) {
      worker::check_inside(request.placed[i], input.size());
      request.batch.inputs[i].data = input.data() + request.placed[i].offset;
    }
    BatchOutput result;
    try {
      result = instance.execute(request.batch);
    } catch (const BackendError& e) {
      result.batch_failure = Failure{e.code(), e.what()};
    } catch (const std::exception& e) {
      result.batch_failure = Failure{MG_ERROR_INTERNAL, e.what()};
    }
    std::vector<uint64_t> sizes;
    for (const auto& out : result.outputs) sizes.push_back(out.byte_size);
    uint64_t total = 0;
    const std::vector<worker::Placed> placed = worker::lay_out(sizes, total);
    const bool new_region = !output || output.size() < total;
    if (new_region) {
      output = worker::SharedMemory::create("modelgate-outputs",
                                            std::max<uint64_t>(total * 2, 64 << 10));
    }
    for (std::size_t i = 0; i < result.outputs.size(); ++i) {
      if (result.outputs[i].byte_size > 0) {
        std::memcpy(output.data() + placed[i].offset, result.outputs[i].data.get(),
                    result.outputs[i].byte_size);
      }
    }
    const int region_fd = output.fd();
    worker::send_message(socket, worker::encode_executed(result, placed, new_region),
                         new_region ? std::span<const int>(&region_fd, 1) : std::span<const int>());
  }
}

int run(pid_t server) {
  // Dies with the server; and if the server is already gone, does not start.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != server) return 1;
  ::signal(SIGPIPE, SIG_IGN);
  // What the server sets for its plugins (docs/plugin-abi.md "The process around a
  // plugin"); the core-size limit comes inherited, dumpable does not survive exec.
  ::prctl(PR_SET_DUMPABLE, 0);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);

  std::string message;
  std::vector<int> fds;
  if (!worker::receive_message(kControlFd, message, fds)) return 0;
  const worker::LoadRequest request = worker::decode_load(message);
  if (fds.size() != 1 + request.instances || request.instances == 0) {
    throw worker::ProtocolError("a load request with the wrong descriptors");
  }
  if (const std::string problems = confine(request.sandbox); !problems.empty()) {
    log(LogLevel::kWarn, "worker for " + request.model_name + ": " + problems);
  }

  worker::LoadReply reply;
  if (request.probe) {
    Backend::Declared declared;
    try {
      Backend::open(request.plugin_path, request.backend_config, &declared);
    } catch (const BackendError& e) {
      reply.failure = Failure{e.code(), e.what()};
    } catch (const std::exception& e) {
      reply.failure = Failure{MG_ERROR_INTERNAL, e.what()};
    }
    reply.backend_version = declared.version;
    reply.abi_major = declared.abi_major;
    reply.abi_minor = declared.abi_minor;
    worker::send_message(kControlFd, worker::encode(reply));
    quit(0);  // the plugin is not finalised: nothing of it outlives this process
  }
  std::shared_ptr<Model> model;
  std::vector<std::unique_ptr<Instance>> instances;
  {
    worker::SharedMemory artifact = worker::SharedMemory::adopt(fds[0]);
    if (request.artifact_bytes > artifact.size()) {
      throw worker::ProtocolError("an artifact larger than its region");
    }
    try {
      auto backend = Backend::open(request.plugin_path, request.backend_config);
      reply.backend_version = backend->version();
      model = Model::load(backend, request.model_name,
                          std::span(artifact.data(), request.artifact_bytes), request.artifact_path,
                          request.model_config);
      for (uint32_t i = 0; i < request.instances; ++i) {
        instances.push_back(model->create_instance(i));
        instances.back()->set_max_output_bytes(request.max_output_bytes);
      }
      reply.metadata = model->metadata();
    } catch (const BackendError& e) {
      reply.failure = Failure{e.code(), e.what()};
    } catch (const std::exception& e) {
      reply.failure = Failure{MG_ERROR_INTERNAL, e.what()};
    }
    ::explicit_bzero(artifact.data(), artifact.size());  // the decrypted model
  }
  worker::send_message(kControlFd, worker::encode(reply));
  if (reply.failure) return 0;

  for (uint32_t i = 0; i < request.instances; ++i) {
    std::thread([socket = fds[1 + i], &instance = *instances[i]] {
      try {
        serve_lane(socket, instance);
      } catch (const std::exception& e) {
        log(LogLevel::kError, std::string("worker lane: ") + e.what());
        quit(2);
      }
    }).detach();
  }
  // The control socket stays open while the server wants this worker.
  while (worker::receive_message(kControlFd, message, fds)) {
  }
  quit(0);
}

}  // namespace
}  // namespace mg::gateway

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "modelgate-worker is started by modelgate serve, not by hand\n");
    return 2;
  }
  try {
    return mg::gateway::run(static_cast<pid_t>(std::atoll(argv[1])));
  } catch (const std::exception& e) {
    mg::log(mg::LogLevel::kError, std::string("modelgate-worker: ") + e.what());
    return 2;
  }
}

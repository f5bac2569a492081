#include "gateway/plugin_host/worker_process.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

namespace mg::gateway {
namespace {

// The fd number the worker finds its control socket on.
constexpr int kControlFd = 3;

std::pair<int, int> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw BackendError(MG_ERROR_UNAVAILABLE,
                       std::string("worker: socketpair failed: ") + std::strerror(errno));
  }
  return {fds[0], fds[1]};
}

std::string signal_cause(int signal) {
  const char* name = ::sigabbrev_np(signal);
  std::string cause = name != nullptr ? std::string("sig") + name : "signal";
  for (char& c : cause) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return cause;
}

// Waits until `socket` is readable or `timeout` passes; false on timeout. (Polling a
// while before sleeping was tried for small batches' replies: slower on 2 cores, where
// the spinning thread takes the worker's CPU — bench/RESULTS.md.)
bool wait_readable(int socket, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{socket, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // the read that follows reports it
  }
}

}  // namespace

std::filesystem::path default_worker_binary() {
  if (const char* explicit_path = std::getenv("MG_WORKER_BINARY"); explicit_path != nullptr) {
    return explicit_path;
  }
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : self.parent_path()) / "modelgate-worker";
}

WorkerProcess::WorkerProcess(const Options& options, pid_t pid, int control)
    : options_(options), pid_(pid), control_(control) {}

std::unique_ptr<WorkerProcess> WorkerProcess::start(const Options& options,
                                                    const worker::LoadRequest& request,
                                                    std::span<const std::byte> artifact) {
  worker::LoadReply loaded;
  std::unique_ptr<WorkerProcess> process = launch(options, request, artifact, loaded);
  if (loaded.failure) throw BackendError(loaded.failure->code, loaded.failure->message);
  process->metadata_ = std::move(loaded.metadata);
  process->backend_version_ = std::move(loaded.backend_version);
  return process;
}

worker::LoadReply WorkerProcess::probe(const Options& options, const std::string& plugin_path,
                                       const std::string& backend_config,
                                       const worker::Sandbox& sandbox) {
  worker::LoadRequest request;
  request.probe = true;
  request.plugin_path = plugin_path;
  request.backend_config = backend_config;
  request.sandbox = sandbox;
  worker::LoadReply reply;
  launch(options, request, {}, reply);  // the worker exits after answering (or is killed)
  return reply;
}

std::unique_ptr<WorkerProcess> WorkerProcess::launch(const Options& options,
                                                     const worker::LoadRequest& request,
                                                     std::span<const std::byte> artifact,
                                                     worker::LoadReply& loaded) {
  const std::string task = request.probe ? "open the plugin" : "load the model";
  auto [control, child_control] = socket_pair();
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  // The child gets its control socket as fd 3 and nothing else of the server's.
  ::posix_spawn_file_actions_adddup2(&actions, child_control, kControlFd);
  ::posix_spawn_file_actions_addclosefrom_np(&actions, kControlFd + 1);
  const std::string binary = options.binary.string();
  const std::string parent = std::to_string(::getpid());
  char* const argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>(parent.c_str()),
                        nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(child_control);
  if (spawned != 0) {
    ::close(control);
    throw BackendError(MG_ERROR_UNAVAILABLE,
                       "cannot start the worker " + binary + ": " + std::strerror(spawned));
  }
  std::unique_ptr<WorkerProcess> process(new WorkerProcess(options, pid, control));
  process->model_name_ = request.model_name;

  // The artifact in shared memory, the lanes' sockets: all go with the load message.
  worker::SharedMemory model_bytes =
      worker::SharedMemory::create("modelgate-artifact", std::max<std::size_t>(1, artifact.size()));
  if (!artifact.empty()) std::memcpy(model_bytes.data(), artifact.data(), artifact.size());
  std::vector<int> sent{model_bytes.fd()};
  std::vector<int> child_lanes;
  for (uint32_t i = 0; i < std::max<uint32_t>(1, request.instances); ++i) {
    auto [ours, theirs] = socket_pair();
    auto lane = std::make_unique<Lane>();
    lane->socket = ours;
    process->lanes_.push_back(std::move(lane));
    child_lanes.push_back(theirs);
    sent.push_back(theirs);
  }
  worker::LoadRequest sized = request;
  sized.instances = static_cast<uint32_t>(child_lanes.size());
  sized.artifact_bytes = artifact.size();  // the region is rounded up to a page
  try {
    worker::send_message(control, worker::encode(sized), sent);
  } catch (const worker::ProtocolError&) {
    for (int fd : child_lanes) ::close(fd);
    ::explicit_bzero(model_bytes.data(), model_bytes.size());
    throw process->fail("exited before it could " + task, "exit");
  }
  for (int fd : child_lanes) ::close(fd);

  std::string reply;
  std::vector<int> fds;
  const bool answered = wait_readable(control, options.load_timeout);
  bool received = false;
  if (answered) {
    try {
      received = worker::receive_message(control, reply, fds);
    } catch (const worker::ProtocolError&) {
      received = false;
    }
  }
  for (int fd : fds) ::close(fd);
  ::explicit_bzero(model_bytes.data(), model_bytes.size());  // the decrypted model
  if (!answered) {
    throw process->fail("did not " + task + " within " +
                            std::to_string(options.load_timeout.count()) + " ms and was killed",
                        "deadline");
  }
  if (!received) throw process->fail_once_exited("died trying to " + task, "exit");
  try {
    loaded = worker::decode_loaded(reply);
  } catch (const worker::ProtocolError& e) {
    throw process->fail(std::string("broke the protocol (") + e.what() + ") and was killed",
                        "protocol");
  }
  return process;
}

WorkerProcess::~WorkerProcess() {
  fail("stopped", "stopped");
  for (auto& lane : lanes_) ::close(lane->socket);
  ::close(control_);
}

std::string WorkerProcess::label() const {
  return "backend '" + options_.backend + "' (worker " + std::to_string(pid_) +
         (model_name_.empty() ? std::string(")") : ", model '" + model_name_ + "')");
}

WorkerFailed WorkerProcess::fail(const std::string& why_if_alive,
                                 const std::string& cause_if_alive) {
  std::lock_guard lock(death_mutex_);
  if (!reaped_) {
    int status = 0;
    pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == 0) {  // still running: this caller decided it must go
      ::kill(pid_, SIGKILL);
      do {
        got = ::waitpid(pid_, &status, 0);
      } while (got < 0 && errno == EINTR);
      death_ = why_if_alive;
      death_cause_ = cause_if_alive;
    } else if (got == pid_ && WIFSIGNALED(status)) {
      const int signal = WTERMSIG(status);
      const char* description = ::sigdescr_np(signal);
      death_ = "was killed by signal " + std::to_string(signal) + " (" +
               (description != nullptr ? description : "?") + ")";
      death_cause_ = signal_cause(signal);
    } else if (got == pid_ && WIFEXITED(status)) {
      death_ = "exited with status " + std::to_string(WEXITSTATUS(status));
      death_cause_ = "exit";
    } else {
      death_ = "is gone";
      death_cause_ = "exit";
    }
    reaped_ = true;
  }
  return WorkerFailed(label() + " " + death_, death_cause_);
}

WorkerFailed WorkerProcess::fail_once_exited(const std::string& why_if_alive,
                                             const std::string& cause_if_alive) {
  // Its descriptors close while it exits, a moment before it can be reaped: wait for
  // that (up to a second) so the failure names the signal or the status.
  for (int i = 0; i < 1000; ++i) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid_) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return fail(why_if_alive, cause_if_alive);
}

BatchOutput WorkerProcess::execute(std::size_t index, const BatchInput& batch) {
  Lane& lane = *lanes_.at(index % lanes_.size());
  std::lock_guard lock(lane.mutex);
  {
    std::lock_guard dead(death_mutex_);
    if (reaped_) throw WorkerFailed(label() + " " + death_, death_cause_);
  }
  std::vector<uint64_t> sizes;
  for (const auto& input : batch.inputs) sizes.push_back(input.byte_size);
  uint64_t total = 0;
  const std::vector<worker::Placed> placed = worker::lay_out(sizes, total);
  const bool new_region = !lane.input || lane.input.size() < total;
  if (new_region) {
    // Twice what this batch needs: a batch a little larger does not remap again.
    lane.input =
        worker::SharedMemory::create("modelgate-inputs", std::max<uint64_t>(total * 2, 64 << 10));
  }
  for (std::size_t i = 0; i < batch.inputs.size(); ++i) {
    if (batch.inputs[i].byte_size > 0) {
      std::memcpy(lane.input.data() + placed[i].offset, batch.inputs[i].data,
                  batch.inputs[i].byte_size);
    }
  }
  const std::string request = worker::encode_execute(batch, placed, new_region);
  try {
    const int region_fd = lane.input.fd();
    worker::send_message(lane.socket, request,
                         new_region ? std::span<const int>(&region_fd, 1) : std::span<const int>());
  } catch (const worker::ProtocolError&) {
    throw fail_once_exited("stopped answering and was killed", "exit");
  }
  if (!wait_readable(lane.socket, options_.batch_timeout)) {
    throw fail("missed its " + std::to_string(options_.batch_timeout.count()) +
                   " ms batch deadline and was killed",
               "deadline");
  }
  std::string reply;
  std::vector<int> fds;
  bool received = false;
  try {
    received = worker::receive_message(lane.socket, reply, fds);
  } catch (const worker::ProtocolError&) {
    received = false;
  }
  if (!received) {  // the worker closed its end: it is exiting, or dead
    for (int fd : fds) ::close(fd);
    throw fail_once_exited("closed its socket and was killed", "exit");
  }
  worker::ExecuteReply decoded;
  try {
    decoded = worker::decode_executed(reply);
    if (decoded.new_region) {
      if (fds.size() != 1) throw worker::ProtocolError("an output region without its descriptor");
      lane.output = worker::SharedMemory::adopt(fds[0]);
      fds.clear();
    }
    for (int fd : fds) ::close(fd);
    fds.clear();
    BatchOutput output;
    output.batch_failure = std::move(decoded.batch_failure);
    output.request_failures = std::move(decoded.request_failures);
    for (std::size_t i = 0; i < decoded.outputs.size(); ++i) {
      OutputTensor& tensor = decoded.outputs[i];
      worker::check_inside(decoded.placed[i], lane.output.size());
      tensor.data =
          std::make_unique_for_overwrite<std::byte[]>(std::max<uint64_t>(1, tensor.byte_size));
      if (tensor.byte_size > 0) {
        std::memcpy(tensor.data.get(), lane.output.data() + decoded.placed[i].offset,
                    tensor.byte_size);
      }
      output.outputs.push_back(std::move(tensor));
    }
    return output;
  } catch (const worker::ProtocolError& e) {
    for (int fd : fds) ::close(fd);
    throw fail(std::string("broke the protocol (") + e.what() + ") and was killed", "protocol");
  }
}

uint64_t WorkerProcess::rss_bytes() const {
  {
    std::lock_guard lock(death_mutex_);
    if (reaped_) return 0;
  }
  std::ifstream statm("/proc/" + std::to_string(pid_) + "/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace mg::gateway

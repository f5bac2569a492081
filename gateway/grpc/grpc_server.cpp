#include "gateway/grpc/grpc_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/alarm.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/log.h"
#include "gateway/grpc/grpc_calls.h"

namespace mg::gateway {
namespace {

std::string read_pem(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string bytes_of(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const auto& slice : slices)
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return out;
}

grpc::Status status_of(const CallStatus& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code), status.message);
}

}  // namespace

// Calls read and waiting for a handler thread, and the threads.
class CallQueue {
 public:
  CallQueue(int threads, std::size_t max_queued) : max_queued_(max_queued) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~CallQueue() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  // false when max_queued calls already wait.
  bool post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      if (tasks_.size() >= max_queued_) return false;
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
    return true;
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, nothing left
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

struct GrpcServer::Impl {
  GrpcServerOptions options;
  Handler handler;
  std::unique_ptr<CallQueue> queue;
  grpc::AsyncGenericService service;
  std::unique_ptr<grpc::Server> server;
  // One completion queue per poller thread: the thread that polls a queue also reads,
  // writes and (for what the router answers at once) answers its calls, so a call is
  // never handed between threads on its way through gRPC.
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  std::vector<std::thread> pollers;
  std::vector<std::unique_ptr<grpc::Alarm>> closers;  // each tells its poller to close its queue
  int port = 0;
  std::once_flag stopped;
};

namespace {

// Calls each poller keeps asked for, so that a burst of new calls need not wait for the
// poller to ask for the next one.
constexpr int kCallsAskedPerQueue = 16;

class Call;

// A completion queue's tag: which call, and which of its operations completed.
enum class Step { kArrived, kRead, kWritten, kFinished, kCloseQueue };
struct Tag {
  Call* call;
  Step step;
};
Tag close_queue_tag{nullptr, Step::kCloseQueue};

// What a poller thread knows of its own queue: after it has shut the queue down no
// operation may start on it (only the poller starts operations once the handler threads
// are gone, so this needs no lock).
struct Poller {
  GrpcServer::Impl& server;
  grpc::ServerCompletionQueue* queue;
  bool closed = false;
};

// One call, unary or a stream, on the asynchronous generic API: read a request, route it
// (at once on the poller thread, or on a handler thread), write its answer; a stream then
// reads its next request. One operation outstanding at a time, so the call is deleted
// exactly once, when its last operation completes.
class Call {
 public:
  explicit Call(Poller& poller) : poller_(poller), server_(poller.server) {
    server_.service.RequestCall(&context_, &stream_, poller_.queue, poller_.queue, &arrived_);
  }

  // An operation of this call completed on its queue.
  void on(Step step, bool ok) {
    switch (step) {
      case Step::kArrived:
        return arrived(ok);
      case Step::kRead:
        return read(ok);
      case Step::kWritten:
        after_sent_.reset();
        if (!ok) return done();  // the client went away: nothing more to say to it
        return start_read();     // only a stream writes without finishing
      case Step::kFinished:
        return done();
      case Step::kCloseQueue:
        return;  // not a call's: poll() takes it
    }
  }

 private:
  void arrived(bool ok) {
    if (!ok || poller_.closed) return done();  // the server is shutting down
    new Call(poller_);                         // ask for the next call in this one's place
    rpc_ = rpc_of(context_.method());
    if (rpc_ == Rpc::kUnknown) {
      return finish_with(
          grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                       "unimplemented: ModelGate does not serve " + context_.method()));
    }
    start_read();
  }

  void start_read() {
    if (poller_.closed) return done();
    stream_.Read(&request_, &read_);
  }

  void read(bool ok) {
    if (!ok) {  // the client closed its side (or went away)
      return finish_with(rpc_ == Rpc::kModelStreamInfer
                             ? grpc::Status::OK
                             : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                            "bad_request: the call carried no request message"));
    }
    const std::string message = bytes_of(request_);
    request_.Clear();
    auto translated = std::make_shared<Translated>(translate(message));
    // What the router answers at once (a fast model's inference, a health or metadata read)
    // is answered here on the poller thread, as the HTTPS listener answers it on its socket
    // thread; the rest waits for a handler thread.
    if (translated->refusal.ok() && server_.options.runs_inline &&
        server_.options.runs_inline(translated->request)) {
      return answer(*translated);
    }
    if (!server_.queue->post([this, translated] { answer(*translated); })) {
      if (server_.options.on_shed) server_.options.on_shed();
      context_.AddTrailingMetadata("mg-error-code", "overloaded");
      context_.AddTrailingMetadata("retry-after", "1");
      finish_with(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "overloaded: too many calls are waiting; retry shortly"));
    }
  }

  // The request message as the HTTP request it stands for, with the call's metadata and
  // deadline (an inference still queued when the deadline passes is dropped, not computed).
  Translated translate(const std::string& message) {
    std::vector<std::pair<std::string, std::string>> metadata;
    for (const auto& [key, value] : context_.client_metadata())
      metadata.emplace_back(std::string(key.data(), key.size()),
                            std::string(value.data(), value.size()));
    Translated translated = translate_request(rpc_, context_.method(), message, metadata);
    const auto deadline = context_.deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
      translated.request.deadline = std::chrono::steady_clock::now() +
                                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        deadline - std::chrono::system_clock::now());
    }
    return translated;
  }

  // Routes the request and writes its answer (on the poller thread or a handler thread).
  void answer(const Translated& translated) {
    const bool stream = rpc_ == Rpc::kModelStreamInfer;
    // A call whose deadline passed while it waited is not computed.
    if (context_.deadline() <= std::chrono::system_clock::now()) {
      return finish_with(
          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                       "deadline_exceeded: the call's deadline passed before it was routed"));
    }
    std::string answer;
    if (!translated.refusal.ok()) {
      if (!stream) return finish_with(translated.refusal);
      answer = stream_error(translated.refusal, translated.call_id);
    } else {
      HttpResponse response = server_.handler(translated.request);
      after_sent_ = std::move(response.after_sent);  // run once the answer is written
      CallAnswer call_answer = translate_response(rpc_, response, translated.call_id);
      if (!call_answer.status.ok()) return finish_with(call_answer.status);
      answer = std::move(call_answer.message);
    }
    if (poller_.closed) return done();
    // The answer's bytes go to gRPC as they are, not copied: the slice owns the string.
    auto* owned = new std::string(std::move(answer));
    grpc::Slice slice(
        owned->data(), owned->size(), [](void* text) { delete static_cast<std::string*>(text); },
        owned);
    response_ = grpc::ByteBuffer(&slice, 1);
    if (stream) {
      stream_.Write(response_, &written_);
    } else {
      stream_.WriteAndFinish(response_, grpc::WriteOptions(), grpc::Status::OK, &finished_);
    }
  }

  void finish_with(const CallStatus& status) {
    for (const auto& [key, value] : status.trailers) context_.AddTrailingMetadata(key, value);
    finish_with(status_of(status));
  }
  void finish_with(const grpc::Status& status) {
    if (poller_.closed) return done();
    stream_.Finish(status, &finished_);
  }

  void done() { delete this; }

  Poller& poller_;
  GrpcServer::Impl& server_;
  grpc::GenericServerContext context_;
  grpc::GenericServerAsyncReaderWriter stream_{&context_};
  Rpc rpc_ = Rpc::kUnknown;
  grpc::ByteBuffer request_, response_;
  std::shared_ptr<void> after_sent_;  // the answer's after_sent: released once it is written
  Tag arrived_{this, Step::kArrived}, read_{this, Step::kRead}, written_{this, Step::kWritten},
      finished_{this, Step::kFinished};
};

// A poller thread: takes its queue's completions until the queue is shut down and empty.
void poll(GrpcServer::Impl& server, grpc::ServerCompletionQueue* queue) {
  Poller poller{server, queue};
  for (int i = 0; i < kCallsAskedPerQueue; ++i) new Call(poller);
  void* tag = nullptr;
  bool ok = false;
  while (queue->Next(&tag, &ok)) {
    auto* event = static_cast<Tag*>(tag);
    if (event->step == Step::kCloseQueue) {  // stop() has drained the handler threads
      poller.closed = true;
      queue->Shutdown();
      continue;
    }
    event->call->on(event->step, ok);
  }
}

}  // namespace

GrpcServer::GrpcServer(GrpcServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  const GrpcServerOptions& o = impl_->options;
  impl_->queue = std::make_unique<CallQueue>(o.handler_threads, o.max_queued_calls);
  // Debian's Abseil keeps Mutex deadlock detection on (a lock-order graph updated on
  // every lock): ~5 % of the server's CPU under gRPC load in a profile. gRPC's locks are
  // gRPC's to get right; the server's own do not use Abseil.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  grpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back({read_pem(o.private_key), read_pem(o.certificate)});
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.host + ":" + std::to_string(o.port), grpc::SslServerCredentials(tls),
                           &impl_->port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(o.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(o.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(o.max_concurrent_streams));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(o.keepalive_time.count()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(o.keepalive_timeout.count()));
  // Clients may ping to keep idle connections alive, as Triton's clients do, but not
  // more often than every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.RegisterAsyncGenericService(&impl_->service);
  for (int i = 0; i < std::max(1, o.poller_threads); ++i)
    impl_->queues.push_back(builder.AddCompletionQueue());
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    throw std::runtime_error("cannot listen for gRPC on " + o.host + ":" + std::to_string(o.port));
  }
  for (auto& queue : impl_->queues)
    impl_->pollers.emplace_back([this, q = queue.get()] { poll(*impl_, q); });
}

GrpcServer::~GrpcServer() { stop(); }

uint16_t GrpcServer::port() const { return static_cast<uint16_t>(impl_->port); }

void GrpcServer::stop() {
  std::call_once(impl_->stopped, [this] {
    // In-flight calls finish (their pollers still run), then are cancelled at the deadline.
    impl_->server->Shutdown(std::chrono::system_clock::now() + impl_->options.drain_timeout);
    impl_->queue.reset();  // the handler threads finish what is queued, then end
    // Only now may the queues close: each poller closes its own, so no operation can start
    // on a queue that is shut down (the pollers are the only threads left starting any).
    for (auto& queue : impl_->queues) {
      impl_->closers.push_back(std::make_unique<grpc::Alarm>());
      impl_->closers.back()->Set(queue.get(), gpr_now(GPR_CLOCK_MONOTONIC), &close_queue_tag);
    }
    for (auto& poller : impl_->pollers) poller.join();
    log(LogLevel::kInfo, "gRPC listener stopped");
  });
}

}  // namespace mg::gateway

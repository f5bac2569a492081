// The gRPC listener's sockets, TLS and threads (Asio + OpenSSL, as the HTTPS listener);
// each connection's HTTP/2 and gRPC framing is a GrpcSession (nghttp2).
#include "gateway/grpc/grpc_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/log.h"
#include "gateway/grpc/grpc_session.h"
#include "gateway/http/address_counter.h"
#include "gateway/http/server_tls.h"

namespace mg::gateway {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, Executor>;
using Timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                        net::wait_traits<std::chrono::steady_clock>, Executor>;

constexpr std::size_t kReadBuffer = 64 * 1024;

// gRPC needs HTTP/2, which over TLS is chosen by ALPN: a client that does not offer "h2"
// is refused in the handshake.
int select_h2(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
              unsigned int in_length, void*) {
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_length, kH2, sizeof kH2, in, in_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
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

class Connection;

struct GrpcServer::Impl {
  GrpcServerOptions options;
  Handler handler;
  // Declared before the contexts: connections still queued in a context when it is
  // destroyed give their counts back here.
  std::atomic<std::size_t> buffered{0};  // request bytes of incomplete messages
  std::atomic<int> connections{0};
  std::unique_ptr<AddressCounter> per_address;  // open connections by client address
  std::atomic<bool> stopping{false};
  // One io_context per socket thread, each run by exactly that thread: a connection and
  // its session are touched by one thread only. Connections are spread round robin.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::executor_work_guard<Executor>> work;
  // Each context's open connections, touched only on that context's thread.
  std::vector<std::vector<std::weak_ptr<Connection>>> open;
  std::size_t next_context = 0;
  ssl::context tls{ssl::context::tls_server};
  std::unique_ptr<tcp::acceptor> acceptor;  // on contexts[0]
  std::unique_ptr<CallQueue> queue;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::once_flag stopped;

  void accept();
  void admit_or_refuse(Socket socket, std::size_t context);
  GrpcSessionLimits session_limits() {
    GrpcSessionLimits limits;
    limits.max_message_bytes = options.max_message_bytes;
    limits.max_concurrent_streams = options.max_concurrent_streams;
    limits.buffered = &buffered;
    limits.on_refusal = options.on_refusal;
    return limits;
  }
};

namespace {
using Impl = GrpcServer::Impl;
}

// One TLS connection: reads into its session, routes the requests the session hands out
// (at once on this thread when the router answers at once, otherwise on a handler thread,
// whose answer comes back to this thread), writes what the session has to send. One write
// at a time; frames made meanwhile go out with the next, so answers to calls that
// arrived together leave together.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `address` was admitted by server.per_address.
  Connection(Socket&& socket, Impl& server, std::size_t context, std::string address)
      : stream_(std::move(socket), server.tls),
        server_(server),
        context_(context),
        address_(std::move(address)),
        session_(server.session_limits()),
        timer_(stream_.get_executor()) {
    ++server_.connections;
    SSL_clear_mode(stream_.native_handle(), SSL_MODE_RELEASE_BUFFERS);  // as the HTTPS one
  }
  ~Connection() {
    server_.per_address->release(address_);
    --server_.connections;
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      auto& open = self->server_.open[self->context_];
      std::erase_if(open, [](const auto& weak) { return weak.expired(); });
      open.push_back(self);
      self->handshake();
    });
  }

  // Drain: no new calls; the connection closes once its calls are answered.
  void go_away() {
    session_.go_away();
    flush();
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
  }

 private:
  void handshake() {
    timer_.expires_after(server_.options.handshake_timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->handshaken_) self->close();
    });
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](boost::system::error_code ec) {
                              if (ec) return self->close();
                              self->handshaken_ = true;
                              self->timer_.cancel();
                              self->keepalive();
                              self->read();
                              self->flush();  // the server's SETTINGS
                            });
  }

  void read() {
    if (closed_) return;
    stream_.async_read_some(
        net::buffer(in_.data(), in_.size()),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) return self->close();  // the client went away: answers still routing drop
          self->received_ = true;
          const bool ok = self->session_.receive({self->in_.data(), n});
          self->route();
          self->flush();
          if (ok) self->read();
        });
  }

  // Every request the session has ready: answered at once here, or queued.
  void route() {
    for (;;) {
      auto requests = session_.take_requests();
      if (requests.empty()) return;
      for (auto& ready : requests) {
        const auto& options = server_.options;
        if (options.runs_inline && options.runs_inline(ready.request)) {
          answer(ready.stream_id, ready.request);
          continue;
        }
        auto request = std::make_shared<HttpRequest>(std::move(ready.request));
        const bool queued = server_.queue->post([self = shared_from_this(), id = ready.stream_id,
                                                 request] { self->answer_later(id, *request); });
        if (!queued) {
          if (options.on_shed) options.on_shed();
          CallStatus overloaded = wire::refusal(wire::kUnavailable, "overloaded",
                                                "too many calls are waiting; retry shortly");
          overloaded.trailers.emplace_back("retry-after", "1");
          session_.refuse(ready.stream_id, overloaded);
        }
      }
    }
  }

  static std::optional<CallStatus> past_deadline(const HttpRequest& request) {
    if (request.deadline && *request.deadline <= std::chrono::steady_clock::now()) {
      return wire::refusal(wire::kDeadlineExceeded, "deadline_exceeded",
                           "the call's deadline passed before it was routed");
    }
    return std::nullopt;
  }

  void answer(int32_t id, const HttpRequest& request) {
    if (auto late = past_deadline(request)) return session_.refuse(id, *late);
    session_.answer(id, server_.handler(request));
  }

  // On a handler thread: routes, then hands the answer back to the connection's thread.
  void answer_later(int32_t id, const HttpRequest& request) {
    auto late = past_deadline(request);
    auto response = std::make_shared<HttpResponse>();
    if (!late) *response = server_.handler(request);
    net::post(stream_.get_executor(), [self = shared_from_this(), id, late, response] {
      if (late) {
        self->session_.refuse(id, *late);
      } else {
        self->session_.answer(id, std::move(*response));
      }
      self->route();  // a stream's next message
      self->flush();
    });
  }

  void flush() {
    if (writing_ || closed_) return;
    session_.take_output(out_);
    if (session_.has_requests()) {  // a stream's client took answers held back: route on
      route();
      session_.take_output(out_);
    }
    if (out_.empty()) {
      if (session_.finished()) close();
      return;
    }
    writing_ = true;
    write_started_ = std::chrono::steady_clock::now();
    net::async_write(stream_, net::buffer(out_),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->writing_ = false;
                       self->out_.clear();
                       if (ec) return self->close();
                       self->flush();
                     });
  }

  // Every keepalive_time without a frame from the client, a PING; no ACK within
  // keepalive_timeout closes the connection (a peer gone without a FIN). A write pending
  // longer than write_timeout at a tick also closes it.
  void keepalive() {
    if (closed_) return;
    timer_.expires_after(server_.options.keepalive_time);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      // A client that sends but does not read: the write has waited too long.
      if (self->writing_ && std::chrono::steady_clock::now() - self->write_started_ >
                                self->server_.options.write_timeout)
        return self->close();
      if (std::exchange(self->received_, false)) return self->keepalive();
      self->session_.ping();
      self->flush();
      self->timer_.expires_after(self->server_.options.keepalive_timeout);
      self->timer_.async_wait([self](boost::system::error_code e) {
        if (e || self->closed_) return;
        if (!self->session_.ping_answered()) return self->close();
        self->keepalive();
      });
    });
  }

  ssl::stream<Socket> stream_;
  Impl& server_;
  std::size_t context_;
  std::string address_;  // the client's, counted in server_.per_address
  GrpcSession session_;
  Timer timer_;
  std::array<char, kReadBuffer> in_{};
  std::string out_;
  std::chrono::steady_clock::time_point write_started_;
  bool writing_ = false, closed_ = false, handshaken_ = false, received_ = false;
};

void GrpcServer::Impl::accept() {
  const std::size_t index = next_context;
  next_context = (next_context + 1) % contexts.size();
  acceptor->async_accept(contexts[index]->get_executor(),
                         [this, index](boost::system::error_code ec, Socket socket) {
                           if (stopping) return;
                           if (!ec) admit_or_refuse(std::move(socket), index);
                           accept();
                         });
}

// A connection over either cap is closed at once (its client sees UNAVAILABLE).
void GrpcServer::Impl::admit_or_refuse(Socket socket, std::size_t context) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  const std::string address = ec ? std::string() : peer.address().to_string();
  if (ec || static_cast<std::size_t>(connections.load()) >= options.max_connections ||
      !per_address->admit(address)) {
    if (!ec && options.on_refusal) options.on_refusal("too_many_connections");
    socket.close(ec);
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  std::make_shared<Connection>(std::move(socket), *this, context, address)->start();
}

GrpcServer::GrpcServer(GrpcServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = std::move(options);
  s.handler = std::move(handler);
  const GrpcServerOptions& o = s.options;
  configure_server_tls(s.tls.native_handle(), o.certificate, o.private_key);
  SSL_CTX_set_alpn_select_cb(s.tls.native_handle(), &select_h2, nullptr);
  for (int i = 0; i < std::max(1, o.io_threads); ++i) {
    s.contexts.push_back(std::make_unique<net::io_context>(1));
    s.work.push_back(net::make_work_guard(*s.contexts.back()));
  }
  s.open.resize(s.contexts.size());
  s.per_address = std::make_unique<AddressCounter>(o.max_connections_per_address);
  boost::system::error_code ec;
  const auto address = net::ip::make_address(o.host, ec);
  if (ec) throw std::runtime_error("bad gRPC listen address '" + o.host + "'");
  const tcp::endpoint endpoint(address, o.port);
  s.acceptor = std::make_unique<tcp::acceptor>(*s.contexts[0]);
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen for gRPC on " + o.host + ":" + std::to_string(o.port) +
                             ": " + ec.message());
  }
  s.port = s.acceptor->local_endpoint().port();
  s.queue = std::make_unique<CallQueue>(std::max(1, o.handler_threads), o.max_queued_calls);
  s.accept();
  for (auto& context : s.contexts) s.threads.emplace_back([c = context.get()] { c->run(); });
}

GrpcServer::~GrpcServer() { stop(); }

uint16_t GrpcServer::port() const { return impl_->port; }

void GrpcServer::stop() {
  std::call_once(impl_->stopped, [this] {
    Impl& s = *impl_;
    s.stopping = true;
    net::post(*s.contexts[0], [&s] {
      boost::system::error_code ignored;
      s.acceptor->close(ignored);
    });
    // Every connection says GOAWAY and closes once its calls are answered.
    for (std::size_t i = 0; i < s.contexts.size(); ++i) {
      net::post(*s.contexts[i], [&s, i] {
        for (auto& weak : s.open[i])
          if (auto connection = weak.lock()) connection->go_away();
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
    while (s.connections > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s.queue.reset();  // the handler threads finish what is queued, then end
    for (std::size_t i = 0; i < s.contexts.size(); ++i) {
      net::post(*s.contexts[i], [&s, i] {
        for (auto& weak : s.open[i])
          if (auto connection = weak.lock()) connection->close();
      });
    }
    for (auto& guard : s.work) guard.reset();
    for (auto& thread : s.threads) thread.join();
    log(LogLevel::kInfo, "gRPC listener stopped");
  });
}

}  // namespace mg::gateway

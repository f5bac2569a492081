#include "gateway/http/https_server.h"

#include <sys/resource.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gateway/http/address_counter.h"
#include "gateway/http/asio_event_loop.h"
#include "gateway/http/request_parser.h"
#include "gateway/http/response_head.h"
#include "gateway/http/server_tls.h"
#include "gateway/http/tls_socket_stream.h"

namespace mg::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
// Sockets bound to their io_context's own executor type rather than the type-erased
// any_io_executor: every asynchronous operation copies its executor, and the erased one
// cost ~4 % of a small request's CPU (copy_object, destroy_object, prefer_fn in a profile).
using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, Executor>;

}  // namespace

struct HttpsServer::Impl {
  HttpsServerOptions options;
  Handler handler;
  StreamOpener opener;
  InlinePolicy inline_policy;
  InlineHandler inline_handler;
  // Declared before the io_contexts: sessions still queued in a context when it is
  // destroyed give their counts back here, so these must outlive the contexts.
  std::atomic<std::size_t> connections{0};  // open sessions (see options.max_connections)
  std::atomic<std::size_t> buffered{0};     // body bytes reserved (options.buffered_body_budget)
  AddressCounter per_address;               // open sessions by client address

  // Reserves `bytes` of the buffered-body budget; false when they do not fit.
  bool reserve_body(std::size_t bytes) {
    std::size_t now = buffered.load();
    do {
      if (now > 0 && now + bytes > options.buffered_body_budget) return false;
    } while (!buffered.compare_exchange_weak(now, now + bytes));
    return true;
  }
  // One io_context per socket thread, each run by exactly that thread: a connection's
  // handlers never run concurrently, so they need no strand, and threads share no
  // scheduler lock. Connections are spread over the contexts round robin.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::size_t next_context = 0;  // touched only by the acceptor's handler
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor;   // on contexts[0]
  net::signal_set signals;  // on contexts[0]
  net::thread_pool handlers;
  net::thread_pool control;  // is_control requests and upload completions: never shed
  std::atomic<int> in_flight{0};
  std::atomic<std::size_t> queued{0};  // posted to the handler pool, not started yet
  net::steady_timer accept_pause;      // on contexts[0]: waits out a full table
  std::atomic<bool> stopping{false};
  std::thread drainer;  // started by stop(): waits for in-flight requests, then stops run()
  // Keep run() running while requests are with the handler pool and no socket operation
  // is pending (an io_context would otherwise return as soon as it has nothing to do).
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;

  static std::vector<std::unique_ptr<net::io_context>> make_contexts(int count) {
    std::vector<std::unique_ptr<net::io_context>> made;
    for (int i = 0; i < std::max(count, 1); ++i)
      made.push_back(std::make_unique<net::io_context>(1));
    return made;
  }

  Impl(HttpsServerOptions o, Handler h, StreamOpener so, InlinePolicy ip)
      : options(std::move(o)),
        handler(std::move(h)),
        opener(std::move(so)),
        inline_policy(std::move(ip)),
        per_address(options.max_connections_per_address),
        contexts(make_contexts(options.io_threads)),
        acceptor(*contexts[0]),
        signals(*contexts[0]),
        handlers(std::max(options.handler_threads, 1)),
        control(std::max(options.control_threads, 1)),
        accept_pause(*contexts[0]) {
    for (auto& c : contexts) work.push_back(net::make_work_guard(*c));
  }

  void accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `address` was admitted by per_address (or is "" when no cap applies).
  Session(Socket&& socket, HttpsServer::Impl& server, std::string address)
      : stream_(std::move(socket), server.tls.native_handle()),
        server_(server),
        address_(std::move(address)) {
    ++server_.connections;
  }
  ~Session() {
    release_body();
    if (!address_.empty()) server_.per_address.release(address_);
    --server_.connections;
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->handshake(); });
  }

 private:
  void handshake() {
    stream_.expires_after(server_.options.handshake_timeout);
    stream_.async_handshake([self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->read();  // plain HTTP or a failed handshake: drop
    });
  }

  void read() {
    if (server_.stopping) return close();
    // Beast reads as much as the buffer has room for, at least 512 bytes, and the buffer
    // grows only when a read finds it full; the parser consumes each read, so it never
    // grew: a 3.5 KB request took seven reads, each through the TLS layer. Room for a
    // small request at once (a connection's first request sets it; nginx reads bodies
    // into 8 or 16 KiB too).
    if (buffer_.capacity() < kReadRoom) buffer_.reserve(kReadRoom);
    body_read_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
    // The body limit depends on where the body goes (buffered or streamed), known only
    // after the head: on_head checks Content-Length and sets the limit for chunked bodies.
    parser_->body_limit(boost::none);
    stream_.expires_after(server_.options.read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_head(ec); });
  }

  HttpResponse too_large(const std::string& what, uint64_t limit) {
    if (server_.options.on_refusal) server_.options.on_refusal("payload_too_large");
    HttpResponse response;
    response.status = 413;
    response.body = boost::json::serialize(
        boost::json::object{{"error", what + " exceed " + std::to_string(limit) + " bytes"},
                            {"code", "payload_too_large"}});
    return response;
  }

  static HttpResponse overloaded() {
    HttpResponse response;
    response.status = 503;
    response.headers.emplace_back("Retry-After", "1");
    response.body =
        R"({"error":"the server is overloaded: too many requests are waiting; retry later","code":"overloaded"})";
    return response;
  }

  void on_head(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      ++server_.in_flight;
      return write(too_large("the request headers", server_.options.header_limit), false);
    }
    if (ec) return close();  // end of stream, timeout, reset, garbage: nothing to answer
    RequestParser& parser = *parser_;
    keep_alive_ = parser.keep_alive();
    const bool expect_continue = parser.expects_continue();
    // The opener sees the request without its body; the parser adds the body.
    StreamDecision decision;
    if (server_.opener) decision = server_.opener(parser.request());
    if (decision.refusal) {
      // The body is not read, so the connection cannot carry another request.
      ++server_.in_flight;
      return write(std::move(*decision.refusal), false);
    }
    head_state_ = std::move(decision.head_state);
    const bool streamed = decision.sink != nullptr;
    const uint64_t limit = streamed ? server_.options.upload_limit : server_.options.body_limit;
    if (const auto length = parser.content_length(); length && *length > limit) {
      ++server_.in_flight;  // the sink, if any, is dropped unused
      return write(too_large(streamed ? "uploads" : "the request body", limit), false);
    }
    if (decision.sink) {
      sink_ = std::move(decision.sink);
      parser.body_limit(server_.options.upload_limit);
      piece_.resize(1 << 20);
      return continue_then(expect_continue, [](Session& s) { s.read_piece(); });
    }
    // Buffered bodies share one budget: past it, 503 before a byte of the body is read.
    // (no Content-Length and not chunked: no body at all)
    const std::size_t reserve = parser.content_length()
                                    ? static_cast<std::size_t>(*parser.content_length())
                                    : (parser.chunked() ? server_.options.body_limit : 0);
    release_body();
    if (reserve > 0) {
      if (!server_.reserve_body(reserve)) {
        ++server_.in_flight;
        if (server_.options.on_refusal) server_.options.on_refusal("overloaded");
        return write(overloaded(), false);
      }
      reserved_ = reserve;
    }
    parser.body_limit(server_.options.body_limit);
    if (parser.is_done()) return on_read({});  // no body (GETs): nothing more to read
    if (!expect_continue && parse_buffered_body()) return;
    continue_then(expect_continue, [](Session& s) {
      s.stream_.expires_after(s.server_.options.read_timeout);
      http::async_read(
          s.stream_, s.buffer_, *s.parser_,
          [self = s.shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    });
  }

  // A small body usually arrives in the same TLS record as its head, so it is in buffer_
  // already: parsed here, it skips an asynchronous read (a composed operation, a post and a
  // timer update) that would find nothing to wait for. True when the request was passed on
  // (complete, or refused by the parser); false when more must be read.
  bool parse_buffered_body() {
    beast::error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) return false;  // a chunk's size line cut short
      if (ec) break;
      if (used == 0) return false;
    }
    if (!ec && !parser_->is_done()) return false;
    on_read(ec);
    return true;
  }

  // Sends "100 Continue" first when the client waits for it, then calls next.
  void continue_then(bool expect_continue, void (*next)(Session&)) {
    if (!expect_continue) return next(*this);
    continue_ = http::response<http::empty_body>(http::status::continue_, 11);
    stream_.expires_after(server_.options.write_timeout);
    http::async_write(stream_, continue_,
                      [self = shared_from_this(), next](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        next(*self);
                      });
  }

  void read_piece() {
    parser_->stream_into(piece_.data(), piece_.size());
    stream_.expires_after(server_.options.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_piece(ec); });
  }

  void on_piece(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};  // the piece is full: not an error
    if (ec == http::error::body_limit) {
      sink_.reset();  // discards what was written
      ++server_.in_flight;
      return write(too_large("uploads", server_.options.upload_limit), false);
    }
    if (ec) {
      sink_.reset();  // the client went away or stalled: nothing to answer
      return close();
    }
    const std::size_t got = piece_.size() - parser_->window_room();
    if (got > 0 && !sink_->write(std::span<const char>(piece_.data(), got))) {
      return finish_upload(false);
    }
    if (parser_->is_done()) {
      body_read_ = true;
      return finish_upload(true);
    }
    read_piece();
  }

  // The sink's last step (an fsync, a registry transaction, maybe a model load) runs on
  // the handler pool.
  void finish_upload(bool complete) {
    ++server_.in_flight;
    const bool keep_alive = complete && keep_alive_;
    piece_ = {};
    net::post(server_.control, [self = shared_from_this(), complete, keep_alive] {
      HttpResponse response = self->sink_->finish(complete);
      self->sink_.reset();
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response), keep_alive]() mutable {
                  self->write(std::move(response), keep_alive);
                });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      ++server_.in_flight;
      return write(too_large("the request body", server_.options.body_limit), false);
    }
    if (ec) return close();
    body_read_ = true;
    HttpRequest r = std::move(parser_->request());
    r.head_state = std::move(head_state_);
    const bool keep_alive = keep_alive_;
    ++server_.in_flight;
    if (server_.inline_policy ? server_.inline_policy(r) : r.method == "GET") {
      // GETs (health, metadata, readiness) only read memory, and a fast model's inference
      // takes less than the two thread hand-offs it would cost to run it elsewhere.
      if (!server_.inline_handler) return write(server_.handler(r), keep_alive);
      return server_.inline_handler(std::move(r),
                                    [self = shared_from_this(), keep_alive](HttpResponse response) {
                                      self->write(std::move(response), keep_alive);
                                    });
    }
    if (server_.options.is_control && server_.options.is_control(r)) {
      net::post(server_.control, [self = shared_from_this(), r = std::move(r), keep_alive] {
        HttpResponse response = self->server_.handler(r);
        net::post(self->stream_.get_executor(),
                  [self, response = std::move(response), keep_alive]() mutable {
                    self->write(std::move(response), keep_alive);
                  });
      });
      return;
    }
    // Handling (inference) runs on the handler pool; the answer comes back to this
    // connection's socket thread. A full pool backlog sheds the request instead.
    if (server_.queued.load() >= server_.options.max_queued_requests) {
      if (server_.options.on_shed) server_.options.on_shed();
      if (server_.options.on_refusal) server_.options.on_refusal("overloaded");
      return write(overloaded(), keep_alive);
    }
    ++server_.queued;
    net::post(server_.handlers, [self = shared_from_this(), r = std::move(r), keep_alive] {
      --self->server_.queued;
      HttpResponse response = self->server_.handler(r);
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response), keep_alive]() mutable {
                  self->write(std::move(response), keep_alive);
                });
    });
  }

  // Gives the current request's share of the buffered-body budget back.
  void release_body() {
    if (reserved_ > 0) server_.buffered -= reserved_;
    reserved_ = 0;
  }

  void write(HttpResponse response, bool keep_alive) {
    release_body();  // the request (and its body) has been handled
    answer_keep_alive_ = keep_alive && !server_.stopping;
    answer_head_.clear();  // keeps its capacity: no allocation after a connection's first
    append_response_head(answer_head_, response, answer_keep_alive_);
    answer_body_ = status_allows_body(response.status) ? std::move(response.body) : std::string();
    after_sent_ = std::move(response.after_sent);
    stream_.expires_after(server_.options.write_timeout);
    const std::array<net::const_buffer, 2> answer{net::buffer(answer_head_),
                                                  net::buffer(answer_body_)};
    net::async_write(stream_, answer,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       --self->server_.in_flight;
                       self->after_sent_.reset();  // the caller has its answer
                       if (ec) return;
                       if (!self->answer_keep_alive_) {
                         return self->body_read_ ? self->close() : self->linger();
                       }
                       self->read();
                     });
  }

  // After answering a request whose body was not read (refused, too large, an upload the
  // store could not take), reads and discards what the client is still sending — for at
  // most 2 s and 64 MiB — before closing: closing at once would reset the connection and
  // the client, still writing, would never see the answer.
  void linger() {
    linger_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    linger_budget_ = 64 << 20;
    piece_.resize(64 << 10);
    linger_read();
  }

  void linger_read() {
    stream_.expires_at(linger_deadline_);
    stream_.async_read_some(net::buffer(piece_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t got) {
                              if (ec || got >= self->linger_budget_) return self->close();
                              self->linger_budget_ -= got;
                              self->linger_read();
                            });
  }

  void close() {
    stream_.expires_after(std::chrono::seconds(5));
    stream_.async_shutdown(
        [self = shared_from_this()](beast::error_code, std::size_t) { self->stream_.close(); });
  }

  TlsSocketStream stream_;
  HttpsServer::Impl& server_;
  std::string address_;                     // the client's, counted in server_.per_address
  std::shared_ptr<const void> head_state_;  // the opener's, for the request being read
  std::size_t reserved_ = 0;                // bytes of server_.buffered this request holds
  static constexpr std::size_t kReadRoom = 8 * 1024;
  beast::flat_buffer buffer_;
  bool keep_alive_ = false;
  bool body_read_ = false;  // the current request's body was read to its end
  std::chrono::steady_clock::time_point linger_deadline_;
  std::size_t linger_budget_ = 0;
  std::optional<RequestParser> parser_;  // the request being read
  std::unique_ptr<BodySink> sink_;
  std::vector<char> piece_;
  http::response<http::empty_body> continue_;
  std::string answer_head_;  // the answer being written: its head, then its body
  std::string answer_body_;
  bool answer_keep_alive_ = false;
  std::shared_ptr<void> after_sent_;  // the response's after_sent, until it is written
};

}  // namespace

void HttpsServer::Impl::accept() {
  if (stopping || !acceptor.is_open()) return;
  // At the connection cap (or after an accept error such as EMFILE) wait a little
  // instead of spinning: the listen queue holds newcomers meanwhile.
  auto pause_then_accept = [this](std::chrono::milliseconds pause) {
    accept_pause.expires_after(pause);
    accept_pause.async_wait([this](beast::error_code) { accept(); });
  };
  if (connections.load() >= options.max_connections)
    return pause_then_accept(std::chrono::milliseconds(10));
  net::io_context& context = *contexts[next_context++ % contexts.size()];
  acceptor.async_accept(context, [this, pause_then_accept](beast::error_code ec, Socket socket) {
    if (stopping || !acceptor.is_open()) return;
    if (ec) return pause_then_accept(std::chrono::milliseconds(50));
    std::string address;
    if (per_address.capped()) {
      beast::error_code peer_error;
      address = socket.remote_endpoint(peer_error).address().to_string();
      if (peer_error || !per_address.admit(address)) {
        // Over its address's cap: closed at once, unread, so one
        // client's flood of idle connections cannot lock out others.
        if (options.on_refusal) options.on_refusal("too_many_connections");
        socket.close(peer_error);
        return accept();
      }
    }
    // Answers go out as soon as they are written: with Nagle's algorithm a large answer's
    // last partial segment waits for the client's (delayed) ACK of the ones before it —
    // ~40 ms on a 40 KB answer here.
    beast::error_code option_error;
    socket.set_option(tcp::no_delay(true), option_error);
    std::make_shared<Session>(std::move(socket), *this, std::move(address))->start();
    accept();
  });
}

HttpsServer::HttpsServer(HttpsServerOptions options, Handler handler, StreamOpener opener,
                         InlinePolicy inline_policy, InlineHandler inline_handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(opener),
                                   std::move(inline_policy))) {
  impl_->inline_handler = std::move(inline_handler);
  Impl& s = *impl_;
  configure_server_tls(s.tls.native_handle(), s.options.certificate, s.options.private_key);
  // Leave file descriptors for everything else (registry, artifacts, plugins, logs).
  if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const std::size_t usable = limit.rlim_cur > 256 ? limit.rlim_cur - 128 : limit.rlim_cur / 2;
    s.options.max_connections = std::min(s.options.max_connections, usable);
  }
  beast::error_code ec;
  auto address = net::ip::make_address(s.options.host, ec);
  if (ec) throw std::runtime_error("bad listen address '" + s.options.host + "'");
  tcp::endpoint endpoint(address, s.options.port);
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + s.options.host + ":" +
                             std::to_string(s.options.port) + ": " + ec.message());
  }
  if (s.options.stop_on_signals) {
    s.signals.add(SIGTERM);
    s.signals.add(SIGINT);
    s.signals.async_wait([this](beast::error_code e, int) {
      if (!e) stop();
    });
  }
}

HttpsServer::~HttpsServer() {
  stop();
  if (impl_->drainer.joinable()) impl_->drainer.join();
  impl_->handlers.join();
  impl_->control.join();
}

uint16_t HttpsServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpsServer::run() {
  Impl& s = *impl_;
  s.accept();
  std::vector<std::thread> threads;
  // Each socket thread runs its context as this thread's EventLoop (route_async waits on it).
  auto serve = [](net::io_context& context) {
    std::unique_ptr<EventLoop> loop = make_event_loop(context);
    EventLoop::set_current(loop.get());
    context.run();
    EventLoop::set_current(nullptr);
  };
  for (std::size_t i = 1; i < s.contexts.size(); ++i) {
    threads.emplace_back([&s, i, serve] { serve(*s.contexts[i]); });
  }
  serve(*s.contexts[0]);
  for (auto& t : threads) t.join();
}

void HttpsServer::stop() {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  net::post(*s.contexts[0], [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.signals.cancel(ec);
    s.accept_pause.cancel();
    // Drain: wait (off the io threads) until every accepted request is answered, then
    // stop the loop, which drops idle keep-alive connections. Joined by the destructor,
    // not detached: once the guards are reset run() may return and the owner destroy this
    // Impl while the drainer is still stopping the contexts. (Set here, on the thread
    // that calls run(), which returns before the destructor runs.)
    s.drainer = std::thread([&s] {
      auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
      while (s.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      for (auto& guard : s.work) guard.reset();
      for (auto& context : s.contexts) context->stop();
    });
  });
}

}  // namespace mg::gateway

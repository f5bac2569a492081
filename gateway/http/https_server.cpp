#include "http/https_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <optional>
#include <thread>
#include <vector>

namespace mg::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// Modern TLS 1.2 suites (TLS 1.3 suites are OpenSSL's defaults, all modern).
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

struct HttpsServer::Impl {
  HttpsServerOptions options;
  Handler handler;
  net::io_context ioc;
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  net::thread_pool handlers;
  net::signal_set signals{ioc};
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  // Keeps run() running while requests are with the handler pool and no socket operation
  // is pending (the io_context would otherwise return as soon as the acceptor closes).
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);

  Impl(HttpsServerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        handlers(std::max(options.handler_threads, 1)) {}

  void accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpsServer::Impl& server)
      : stream_(std::move(socket), server.tls), server_(server) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->handshake(); });
  }

 private:
  void handshake() {
    beast::get_lowest_layer(stream_).expires_after(server_.options.handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (!ec) self->read();  // plain HTTP or a failed handshake: drop
                            });
  }

  void read() {
    if (server_.stopping) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
    parser_->body_limit(server_.options.body_limit);
    beast::get_lowest_layer(stream_).expires_after(server_.options.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      HttpResponse too_large;
      too_large.status = 413;
      too_large.body = boost::json::serialize(boost::json::object{
          {"error",
           ec == http::error::body_limit
               ? "the request body exceeds " + std::to_string(server_.options.body_limit) + " bytes"
               : "the request headers exceed " + std::to_string(server_.options.header_limit) +
                     " bytes"},
          {"code", "payload_too_large"}});
      ++server_.in_flight;
      return write(std::move(too_large), false);
    }
    if (ec) return close();  // end of stream, timeout, reset, garbage: nothing to answer
    http::request<http::string_body> request = parser_->release();
    HttpRequest r;
    r.method = std::string(request.method_string());
    r.target = std::string(request.target());
    for (const auto& field : request) {
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    r.body = std::move(request.body());
    const bool keep_alive = request.keep_alive();
    ++server_.in_flight;
    if (r.method == "GET") {
      // GETs (health, metadata, readiness) only read memory: answering them here saves two
      // thread hand-offs, which cost more than the work itself.
      return write(server_.handler(r), keep_alive);
    }
    // Handling (inference) runs on the handler pool; the answer comes back to this
    // connection's strand.
    net::post(server_.handlers, [self = shared_from_this(), r = std::move(r), keep_alive] {
      HttpResponse response = self->server_.handler(r);
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response), keep_alive]() mutable {
                  self->write(std::move(response), keep_alive);
                });
    });
  }

  void write(HttpResponse response, bool keep_alive) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(response.status));
    response_.set(http::field::server, "modelgate");
    response_.set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) response_.set(name, value);
    response_.body() = std::move(response.body);
    response_.keep_alive(keep_alive && !server_.stopping);
    response_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(server_.options.write_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        --self->server_.in_flight;
                        if (ec) return;
                        if (!self->response_.keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      beast::get_lowest_layer(self->stream_).close();
    });
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  HttpsServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

}  // namespace

void HttpsServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping || !acceptor.is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), *this)->start();
    accept();
  });
}

HttpsServer::HttpsServer(HttpsServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {
  Impl& s = *impl_;
  s.tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                    ssl::context::single_dh_use);
  SSL_CTX_set_cipher_list(s.tls.native_handle(), kTls12Ciphers);
  try {
    s.tls.use_certificate_chain_file(s.options.certificate.string());
    s.tls.use_private_key_file(s.options.private_key.string(), ssl::context::pem);
  } catch (const std::exception& e) {
    throw std::runtime_error("TLS certificate or key unusable (" + s.options.certificate.string() +
                             ", " + s.options.private_key.string() + "): " + e.what());
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
  impl_->handlers.join();
}

uint16_t HttpsServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpsServer::run() {
  Impl& s = *impl_;
  s.accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(s.options.io_threads, 1); ++i) {
    threads.emplace_back([&s] { s.ioc.run(); });
  }
  s.ioc.run();
  for (auto& t : threads) t.join();
}

void HttpsServer::stop() {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  net::post(s.ioc, [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.signals.cancel(ec);
    // Drain: wait (off the io threads) until every accepted request is answered, then
    // stop the loop, which drops idle keep-alive connections.
    std::thread([&s] {
      auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
      while (s.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      s.work.reset();
      s.ioc.stop();
    }).detach();
  });
}

}  // namespace mg::gateway

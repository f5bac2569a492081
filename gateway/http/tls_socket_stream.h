#pragma once
// A server's TLS connection that OpenSSL reads and writes straight on the socket, as nginx
// does, for the HTTPS listener. Asio's ssl::stream instead runs OpenSSL over a memory BIO
// pair: every record is copied once more each way, and each operation is a composed state
// machine over the socket's own operations. This stream waits for the socket's readiness
// (Asio's reactor) and lets OpenSSL make the system calls.
//
// It is a Beast AsyncReadStream and AsyncWriteStream. Deadlines: expires_after() sets the
// deadline for the operations that follow; an operation still waiting on the socket when it
// passes completes with boost::asio::error::timed_out, and every later one fails at once.
// One timer per connection, re-armed only when a deadline moves earlier than the one it is
// armed for, so a request's reads and writes add no timer operations.
//
// Operations of one stream never overlap (the listener reads, then writes, then reads), and
// all run on the socket's executor.
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace mg::gateway {

class TlsSocketStream {
 public:
  using executor_type = boost::asio::io_context::executor_type;
  using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;
  using Clock = std::chrono::steady_clock;

  TlsSocketStream(Socket&& socket, SSL_CTX* context);
  ~TlsSocketStream();
  TlsSocketStream(const TlsSocketStream&) = delete;
  TlsSocketStream& operator=(const TlsSocketStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  SSL* native_handle() { return ssl_; }

  void expires_after(Clock::duration duration) { expires_at(Clock::now() + duration); }
  void expires_at(Clock::time_point deadline);
  // Closes the socket at once (no close_notify).
  void close();

  template <class Handler>
  auto async_handshake(Handler&& handler) {
    return start([this](void*, std::size_t) { return try_handshake(); }, nullptr, 0,
                 std::forward<Handler>(handler));
  }
  // Sends close_notify, then reads (and drops) what the client still sends until its
  // close_notify, the end of the stream or the deadline.
  template <class Handler>
  auto async_shutdown(Handler&& handler) {
    return start([this](void*, std::size_t) { return try_shutdown(); }, nullptr, 0,
                 std::forward<Handler>(handler));
  }
  // The first read after a write waits for the socket before trying OpenSSL (unless
  // OpenSSL holds records already): most clients answered have not sent their next request
  // by then, and trying first cost those a read that found nothing before the wait's own
  // epoll_ctl. Under load that was 3.33–3.40 system calls per request, now 3.15, at ~1 µs
  // each on a VM (bench/RESULTS.md, "Speed").
  template <class Buffers, class Handler>
  auto async_read_some(const Buffers& buffers, Handler&& handler) {
    boost::asio::mutable_buffer first = first_of(buffers);
    const bool wait_first = wrote_last_ && SSL_has_pending(ssl_) == 0;
    wrote_last_ = false;
    return start([this](void* data, std::size_t size) { return try_read(data, size); },
                 first.data(), first.size(), std::forward<Handler>(handler), wait_first);
  }
  // A sequence of several buffers (a response's head and body) is gathered into one record
  // of at most 16 KiB: OpenSSL writes one buffer per call, and a record per buffer would
  // send a small head in a packet of its own.
  template <class Buffers, class Handler>
  auto async_write_some(const Buffers& buffers, Handler&& handler) {
    const auto [data, size] = gather(buffers);
    wrote_last_ = true;
    return start([this](void* d, std::size_t n) { return try_write(d, n); },
                 const_cast<void*>(data), size, std::forward<Handler>(handler));
  }

 private:
  enum class Want { nothing, read, write };
  struct Step {  // the outcome of one attempt at an operation
    Want want = Want::nothing;
    boost::system::error_code error;
    std::size_t bytes = 0;
  };
  Step try_handshake();
  Step try_read(void* data, std::size_t size);
  Step try_write(const void* data, std::size_t size);
  Step try_shutdown();
  // Maps OpenSSL's answer `result` of the call just made to a Step.
  Step outcome(int result);

  // Shared with the timer's handler, which may run after the stream is gone.
  struct Deadline {
    explicit Deadline(const executor_type& executor) : timer(executor) {}
    boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, executor_type> timer;
    Clock::time_point at = Clock::time_point::max();  // for the operations that follow
    Clock::time_point armed_for = Clock::time_point::max();
    bool armed = false;
    bool waiting = false;  // an operation waits on the socket
    bool expired = false;  // passed while nothing waited: cleared by a new deadline
    bool cut = false;      // passed while an operation waited: every operation fails
    Socket* socket = nullptr;
  };
  static void arm(const std::shared_ptr<Deadline>& deadline);

  template <class Buffers>
  static boost::asio::mutable_buffer first_of(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::mutable_buffer buffer = *it;  // (Beast's iterators have no ->)
      if (buffer.size() > 0) return buffer;
    }
    return {};
  }
  static constexpr std::size_t kRecord = 16 * 1024;
  template <class Buffers>
  std::pair<const void*, std::size_t> gather(const Buffers& buffers) {
    auto it = boost::asio::buffer_sequence_begin(buffers);
    const auto end = boost::asio::buffer_sequence_end(buffers);
    while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
    if (it == end) return {nullptr, 0};
    const boost::asio::const_buffer first = *it;
    if (first.size() >= kRecord || std::next(it) == end) return {first.data(), first.size()};
    // Sized to what is written (up to a record), so that a connection answering small
    // requests keeps a small buffer.
    gathered_.resize(std::min(boost::asio::buffer_size(buffers), kRecord));
    const std::size_t size = boost::asio::buffer_copy(boost::asio::buffer(gathered_), buffers);
    return {gathered_.data(), size};
  }

  // One operation: tries it, waits for the socket's readiness as OpenSSL asks, tries again.
  // An operation done on its first try completes through a post, never inside its
  // initiating call.
  template <class Try>
  struct Operation {
    TlsSocketStream* stream;
    Try attempt;
    void* data;
    std::size_t size;
    enum { first, again, done } state = first;
    Step result{};
    bool wait_first = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code waited = {}) {
      Deadline& deadline = *stream->deadline_;
      if (state == done) return self.complete(result.error, result.bytes);
      if (state == again) {
        deadline.waiting = false;
        if (deadline.cut) waited = boost::asio::error::timed_out;
        if (waited) return self.complete(waited, 0);
      }
      if (deadline.cut || deadline.expired) {
        result.error = boost::asio::error::timed_out;
      } else if (state == first && wait_first) {
        result = Step{Want::read, {}, 0};  // as if OpenSSL had asked for more
      } else {
        result = attempt(data, size);
      }
      if (result.want == Want::nothing) {
        if (state == again) return self.complete(result.error, result.bytes);
        state = done;
        return boost::asio::post(stream->get_executor(), std::move(self));
      }
      state = again;
      deadline.waiting = true;
      stream->socket_.async_wait(result.want == Want::read ? Socket::wait_read : Socket::wait_write,
                                 std::move(self));
    }
  };

  template <class Try, class Handler>
  auto start(Try attempt, void* data, std::size_t size, Handler&& handler,
             bool wait_first = false) {
    Operation<Try> operation{this, std::move(attempt), data, size};
    operation.wait_first = wait_first;
    return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        std::move(operation), handler, socket_);
  }

  Socket socket_;
  SSL* ssl_;
  std::shared_ptr<Deadline> deadline_;
  bool failed_ = false;         // OpenSSL reported a fatal error: no close_notify may follow
  bool sent_shutdown_ = false;  // close_notify is out; now reading until the client's
  bool wrote_last_ = false;     // the last operation was a write
  std::vector<char> gathered_;  // a write's buffers gathered into one record
  std::vector<char> drained_;   // what the client sends after close_notify, dropped
};

}  // namespace mg::gateway

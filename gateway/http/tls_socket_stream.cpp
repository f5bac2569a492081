#include "gateway/http/tls_socket_stream.h"

#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <stdexcept>

namespace mg::gateway {

TlsSocketStream::TlsSocketStream(Socket&& socket, SSL_CTX* context)
    : socket_(std::move(socket)),
      ssl_(SSL_new(context)),
      deadline_(std::make_shared<Deadline>(socket_.get_executor())) {
  if (ssl_ == nullptr) throw std::runtime_error("OpenSSL could not make a connection");
  deadline_->socket = &socket_;
  boost::system::error_code ignored;
  socket_.native_non_blocking(true, ignored);  // OpenSSL's reads and writes must not block
  SSL_set_fd(ssl_, socket_.native_handle());   // a socket BIO that leaves the fd open
  SSL_set_accept_state(ssl_);
  // A record read in one system call rather than its 5-byte header first and then the rest.
  SSL_set_read_ahead(ssl_, 1);
  // The record buffers (~17 KiB each way) are kept for the connection's life, not freed
  // after each record: on kept-alive connections that was two large malloc/free pairs per
  // request. Bounded by the connection cap.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_clear_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
}

TlsSocketStream::~TlsSocketStream() {
  deadline_->socket = nullptr;
  deadline_->timer.cancel();
  SSL_free(ssl_);
}

void TlsSocketStream::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void TlsSocketStream::expires_at(Clock::time_point at) {
  Deadline& deadline = *deadline_;
  deadline.at = at;
  deadline.expired = false;
  if (!deadline.armed || at < deadline.armed_for) arm(deadline_);
}

void TlsSocketStream::arm(const std::shared_ptr<Deadline>& deadline) {
  deadline->armed = true;
  deadline->armed_for = deadline->at;
  deadline->timer.expires_at(deadline->at);
  deadline->timer.async_wait([deadline](boost::system::error_code error) {
    // Aborted: re-armed for an earlier deadline, or the stream is gone.
    if (error == boost::asio::error::operation_aborted || deadline->socket == nullptr) return;
    deadline->armed = false;
    if (Clock::now() < deadline->at) return arm(deadline);  // moved later meanwhile
    if (!deadline->waiting) {
      deadline->expired = true;
      return;
    }
    deadline->cut = true;
    boost::system::error_code ignored;
    deadline->socket->cancel(ignored);  // the waiting operation completes, aborted
  });
}

TlsSocketStream::Step TlsSocketStream::outcome(int result) {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_NONE:
      return {};
    case SSL_ERROR_WANT_READ:
      return {Want::read, {}, 0};
    case SSL_ERROR_WANT_WRITE:
      return {Want::write, {}, 0};
    case SSL_ERROR_ZERO_RETURN:  // the client's close_notify
      return {Want::nothing, boost::asio::error::eof, 0};
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      if (saved_errno != 0)
        return {Want::nothing, {saved_errno, boost::system::system_category()}, 0};
      return {Want::nothing, boost::asio::ssl::error::stream_truncated, 0};
    default: {  // SSL_ERROR_SSL: a protocol error, or the stream ended without close_notify
      failed_ = true;
      const unsigned long code = ERR_get_error();
      ERR_clear_error();
      if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return {Want::nothing, boost::asio::ssl::error::stream_truncated, 0};
      return {Want::nothing, {static_cast<int>(code), boost::asio::error::get_ssl_category()}, 0};
    }
  }
}

namespace {
// OpenSSL's error queue belongs to the thread and must be empty before a call for
// SSL_get_error to read that call's outcome. Usually it is: ERR_clear_error walks all its
// slots whatever they hold (~2,000 instructions, 1.5 % of a binary infer request's), the
// check only its ends.
void clear_errors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}
}  // namespace

TlsSocketStream::Step TlsSocketStream::try_handshake() {
  clear_errors();
  const int result = SSL_do_handshake(ssl_);
  return result == 1 ? Step{} : outcome(result);
}

TlsSocketStream::Step TlsSocketStream::try_read(void* data, std::size_t size) {
  if (size == 0) return {};
  clear_errors();
  std::size_t got = 0;
  const int result = SSL_read_ex(ssl_, data, size, &got);
  return result == 1 ? Step{Want::nothing, {}, got} : outcome(result);
}

TlsSocketStream::Step TlsSocketStream::try_write(const void* data, std::size_t size) {
  if (size == 0) return {};
  clear_errors();
  std::size_t written = 0;
  const int result = SSL_write_ex(ssl_, data, size, &written);
  return result == 1 ? Step{Want::nothing, {}, written} : outcome(result);
}

TlsSocketStream::Step TlsSocketStream::try_shutdown() {
  if (failed_) return {};  // no close_notify after a fatal error: the caller just closes
  if (!sent_shutdown_) {
    clear_errors();
    const int result = SSL_shutdown(ssl_);
    if (result == 1) return {};  // the client's close_notify had come already
    if (result < 0) return outcome(result);
    sent_shutdown_ = true;
  }
  drained_.resize(16 * 1024);
  for (;;) {
    clear_errors();
    std::size_t got = 0;
    const int result = SSL_read_ex(ssl_, drained_.data(), drained_.size(), &got);
    if (result == 1) {
      // Records OpenSSL read ahead are drained now; then back to the reactor, so that a
      // client sending fast cannot hold this thread.
      if (SSL_has_pending(ssl_)) continue;
      return {Want::read, {}, 0};
    }
    const Step step = outcome(result);
    if (step.error == boost::asio::error::eof) return {};  // the client's close_notify
    return step;
  }
}

}  // namespace mg::gateway

#pragma once
// Beast's HTTP/1 request parser, writing what it parses straight into an HttpRequest.
// Beast's own request_parser keeps the head in a basic_fields (one allocation and a tree
// insertion per header) that the listener then copied into the HttpRequest the router takes,
// and a head parser had to be converted into a second parser for the body, whose string the
// reader zero-filled before copying into it. Here each header is copied once, the body is
// appended into a string reserved from Content-Length, and one parser reads a request from
// its first byte to its last. Beast still does all of the parsing (limits, chunked bodies,
// keep-alive rules); this class only says where the parts go.
//
// The body goes one of two ways, chosen once the head is read: appended to request().body
// (the default), or, for a streamed upload, copied into a window the caller provides, as
// Beast's buffer_body does: when the window is full, parsing stops with
// http::error::need_buffer and the caller empties it and calls stream_into again.
//
// Included by the listener only (Beast stays in the http layer's translation units).
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/http/http_types.h"

namespace mg::gateway {

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  RequestParser() { request_.headers.reserve(kUsualHeaders); }

  // The request as parsed so far: method, target and headers once the head is done, the
  // body (when it is buffered) once the parser is done.
  HttpRequest& request() { return request_; }
  // The client sent "Expect: 100-continue" and waits for it before sending the body.
  bool expects_continue() const { return expects_continue_; }

  // From now on body bytes are copied into [data, data + size) instead of request().body.
  void stream_into(char* data, std::size_t size) {
    window_ = data;
    window_room_ = size;
    streaming_ = true;
  }
  // The room left in the window given last.
  std::size_t window_room() const { return window_room_; }

 private:
  // Clients send a handful of headers (wrk's requests here 5, curl's 6, the SDK's 5 to 9):
  // one allocation for the list instead of one each time it doubles.
  static constexpr std::size_t kUsualHeaders = 8;
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view method, string_view target,
                       int /*version*/, error_code&) override;
  void on_response_impl(int, string_view, int, error_code&) override {}  // requests only
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code&) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
    return take(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  // Appends a piece of the body (or copies what fits into the window); returns the bytes
  // taken.
  std::size_t take(string_view piece, error_code& ec);

  HttpRequest request_;
  bool expects_continue_ = false;
  bool streaming_ = false;
  char* window_ = nullptr;
  std::size_t window_room_ = 0;
};

}  // namespace mg::gateway

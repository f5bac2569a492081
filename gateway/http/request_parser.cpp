#include "gateway/http/request_parser.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <cstring>
#include <string>

namespace mg::gateway {

namespace http = boost::beast::http;

void RequestParser::on_request_impl(http::verb, string_view method, string_view target, int,
                                    error_code&) {
  request_.method.assign(method.data(), method.size());
  request_.target.assign(target.data(), target.size());
}

void RequestParser::on_field_impl(http::field name, string_view name_string, string_view value,
                                  error_code&) {
  if (name == http::field::expect && boost::beast::iequals(value, "100-continue")) {
    expects_continue_ = true;
  }
  request_.headers.emplace_back(std::string(name_string.data(), name_string.size()),
                                std::string(value.data(), value.size()));
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code&) {
  // Content-Length was checked against the body limit with the head (by the listener for
  // a buffered body); a chunked body grows as it comes, within the parser's body_limit.
  if (!streaming_ && content_length)
    request_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t RequestParser::take(string_view piece, error_code& ec) {
  if (!streaming_) {
    request_.body.append(piece.data(), piece.size());
    return piece.size();
  }
  const std::size_t taken = std::min(piece.size(), window_room_);
  if (taken > 0) std::memcpy(window_, piece.data(), taken);
  window_ += taken;
  window_room_ -= taken;
  if (taken < piece.size()) ec = http::error::need_buffer;
  return taken;
}

}  // namespace mg::gateway

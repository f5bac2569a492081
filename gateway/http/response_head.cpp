#include "gateway/http/response_head.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <string_view>

namespace mg::gateway {
namespace {

using boost::beast::iequals;  // ASCII, case-insensitive: header names

// A byte loop: find_first_of("\r\n\0") searched its three-byte set once per character (a
// memchr call each, ~150 per answer). All three are at or below '\r', which almost no header
// byte is.
bool splits_head(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) <= '\r' && (c == '\r' || c == '\n' || c == '\0')) return true;
  }
  return false;
}

bool framing(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
         iequals(name, "Connection");
}

void append_number(std::string& out, std::size_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

bool status_allows_body(int status) { return status >= 200 && status != 204 && status != 304; }

void append_response_head(std::string& out, const HttpResponse& response, bool keep_alive) {
  const auto& headers = response.headers;
  // The response's header i is written unless a later one has its name (set() semantics).
  auto superseded = [&headers](std::size_t i) {
    for (std::size_t j = i + 1; j < headers.size(); ++j) {
      if (iequals(headers[i].first, headers[j].first)) return true;
    }
    return false;
  };
  auto usable = [](const std::pair<std::string, std::string>& field) {
    return !field.first.empty() && !splits_head(field.first) && !splits_head(field.second) &&
           !framing(field.first);
  };
  std::string_view server = "modelgate", content_type = response.content_type;
  for (const auto& field : headers) {  // the name first: usable() reads every byte
    if (iequals(field.first, "Server") && usable(field)) server = field.second;
    if (iequals(field.first, "Content-Type") && usable(field)) content_type = field.second;
  }
  if (splits_head(content_type)) content_type = "application/octet-stream";

  // A status outside 100–999 cannot be written (Beast threw on it): a handler's bug.
  const int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<std::size_t>(status));
  out.push_back(' ');
  out.append(boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status)));
  out.append("\r\n");
  append_field(out, "Server", server);
  append_field(out, "Content-Type", content_type);
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto& [name, value] = headers[i];
    if (!usable(headers[i]) || superseded(i) || iequals(name, "Server") ||
        iequals(name, "Content-Type")) {
      continue;
    }
    append_field(out, name, value);
  }
  if (status_allows_body(status)) {
    out.append("Content-Length: ");
    append_number(out, response.body.size());
    out.append("\r\n");
  }
  if (!keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
}

}  // namespace mg::gateway

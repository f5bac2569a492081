#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mg::gateway {

// An HTTP request as the router sees it: no sockets, no Beast types.
struct HttpRequest {
  std::string method;  // "GET", "POST", …
  std::string target;  // path and query, exactly as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header with this name (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
};

}  // namespace mg::gateway

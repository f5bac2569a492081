#include "api/errors.h"

#include <boost/json.hpp>

namespace mg::gateway {

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return value;
    }
  }
  return {};
}

HttpResponse error_response(int status, const std::string& code, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = boost::json::serialize(boost::json::object{{"error", message}, {"code", code}});
  return response;
}

}  // namespace mg::gateway

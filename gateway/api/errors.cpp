#include "api/errors.h"

#include <boost/json.hpp>

namespace mg::gateway {

// Header names are HTTP tokens: ORing 0x20 folds their letters' case and maps no other
// token character onto a letter of the names looked up here (letters, digits and '-').
std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(),
                   [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
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

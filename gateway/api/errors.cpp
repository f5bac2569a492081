#include "gateway/api/errors.h"

#include <boost/json.hpp>

namespace mg::gateway {

HttpResponse error_response(int status, const std::string& code, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = boost::json::serialize(boost::json::object{{"error", message}, {"code", code}});
  return response;
}

}  // namespace mg::gateway

#include "gateway/api/json_body.h"

#include <cmath>
#include <cstdio>

#include "gateway/api/errors.h"

namespace mg::gateway {

namespace json = boost::json;

HttpResponse json_response(const json::value& body, int status) {
  HttpResponse response;
  response.status = status;
  response.body = json::serialize(body);
  return response;
}

json::object parse_object(const std::string& body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) throw bad_request("malformed JSON body: " + ec.message());
  if (!value.is_object()) throw bad_request("the body must be a JSON object");
  return value.as_object();
}

std::string string_field(const json::object& o, const char* name, const std::string& fallback) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_string()) throw bad_request(std::string("'") + name + "' must be a string");
  return std::string(it->value().as_string());
}

bool bool_field(const json::object& o, const char* name, bool fallback) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_bool()) {
    throw bad_request(std::string("'") + name + "' must be true or false");
  }
  return it->value().as_bool();
}

double number_field(const json::object& o, const char* name, double fallback, double max) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_number()) throw bad_request(std::string("'") + name + "' must be a number");
  const double value = it->value().to_number<double>();
  if (!std::isfinite(value) || value < 0 || value > max) {
    char bound[32];
    std::snprintf(bound, sizeof bound, "%.0f", max);
    throw bad_request(std::string("'") + name + "' must be a number from 0 to " + bound);
  }
  return value;
}

}  // namespace mg::gateway

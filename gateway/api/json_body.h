#pragma once

#include <boost/json.hpp>
#include <string>

#include "gateway/http/http_types.h"

namespace mg::gateway {

// A JSON answer with the status (Content-Type is set by the HTTPS layer).
HttpResponse json_response(const boost::json::value& body, int status = 200);

// Request bodies of the admin API: a JSON object, its fields read with one set of checks
// and messages. Every refusal is a 400 bad_request naming the field.
boost::json::object parse_object(const std::string& body);
std::string string_field(const boost::json::object& o, const char* name,
                         const std::string& fallback);
bool bool_field(const boost::json::object& o, const char* name, bool fallback);
// A number in [0, max]: the bound keeps every later conversion to an integer (and any
// arithmetic on it, such as seconds to milliseconds) inside int64, where 1e300 would be
// undefined behaviour.
double number_field(const boost::json::object& o, const char* name, double fallback, double max);

}  // namespace mg::gateway

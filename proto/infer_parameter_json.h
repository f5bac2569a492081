// A KServe v2 JSON parameter value as the gRPC InferParameter, for the two sides that
// translate between the forms (the server's gRPC listener, mgctl's `infer --grpc`).
#pragma once

#include <grpc_service.pb.h>

#include <boost/json.hpp>
#include <string>

namespace mg::proto {

// Booleans, integers, floating-point numbers and strings map to their own field; anything
// else (an array, an object, null) travels as its JSON text in string_param.
inline void set_parameter(inference::InferParameter& p, const boost::json::value& v) {
  if (v.is_bool()) {
    p.set_bool_param(v.as_bool());
  } else if (v.is_int64()) {
    p.set_int64_param(v.as_int64());
  } else if (v.is_uint64()) {
    p.set_uint64_param(v.as_uint64());
  } else if (v.is_double()) {
    p.set_double_param(v.as_double());
  } else if (v.is_string()) {
    p.set_string_param(std::string(v.as_string()));
  } else {
    p.set_string_param(boost::json::serialize(v));
  }
}

}  // namespace mg::proto

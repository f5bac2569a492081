#pragma once

#include <boost/json.hpp>
#include <stdexcept>
#include <string>

namespace mg::admin {

// Where and how `mgctl infer --grpc` calls (docs/grpc.md).
struct GrpcTarget {
  std::string address = "127.0.0.1:8444";  // HOST:PORT of the gRPC listener (TLS)
  std::string ca_file;                     // PEM to trust; empty: the system's store
  std::string api_key;
  bool sign = false;  // signature metadata over the call's bytes instead of the bearer key
};

// A refusal: the gRPC status message ("<code>: <message>").
class GrpcError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sends a KServe v2 JSON inference request (the same file `mgctl infer` posts over HTTPS)
// as a ModelInfer call, and returns the answer in the JSON form HTTPS gives (outputs with
// "data"), so both print alike. Throws std::invalid_argument for a request it cannot
// express (binary_data_size inputs), GrpcError for a refusal.
boost::json::value grpc_infer(const GrpcTarget& target, const std::string& model,
                              const std::string& version, const std::string& request_json);

}  // namespace mg::admin

#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "modelgate/client.h"

namespace mg::admin {

// How mgctl prints: one JSON document per verb with --json, aligned tables otherwise.
struct Output {
  bool json = false;
};

// A refusal from the server: printed as one line, exit status 1.
class ServerError : public std::runtime_error {
 public:
  explicit ServerError(const modelgate::Response& response);
};

// The body of a successful response as JSON; throws ServerError for an error status.
boost::json::value expect_ok(const modelgate::Response& response);

// Prints one JSON document on a line (--json).
void print_json(const boost::json::value& value);

// Prints rows under a header, columns padded to their widest cell.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// A JSON scalar as table text ("" for null, numbers without quotes).
std::string cell(const boost::json::value& value);

// "1.2 MiB"-style sizes.
std::string human_bytes(double bytes);

}  // namespace mg::admin

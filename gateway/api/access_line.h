#pragma once

#include <string>

#include "gateway/api/inference_info.h"
#include "gateway/http/http_types.h"

namespace mg::gateway {

class AccessLog;

// X-Request-Id: the client's when it is a sane token, else a fresh one.
std::string request_id_of(const HttpRequest& request);

// Writes the request's access log line (one JSON object) to `log`. `outcome` is "ok" or
// the answer's error code; `seconds` the time spent handling it.
void write_access_log(AccessLog& log, const HttpRequest& request, const HttpResponse& response,
                      const InferenceInfo& info, const std::string& request_id,
                      const std::string& outcome, double seconds);

}  // namespace mg::gateway

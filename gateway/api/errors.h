#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "gateway/auth/auth_error.h"
#include "gateway/http/http_types.h"

namespace mg::gateway {

// A refusal in the error contract of docs/contracts.md "Errors": an HTTP status, a code from the
// table and a message a person can act on. Thrown inside request handling, turned into a
// response by the router; never escapes it.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message, int64_t retry_after = 0)
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        retry_after_(retry_after) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  // Seconds for a Retry-After header (429, 503); 0: none given.
  int64_t retry_after() const { return retry_after_; }
  // What an operator needs and a tenant must not see (a backend's or the registry's own
  // message): written to the server log with the request id, never into the response.
  const std::string& detail() const { return detail_; }
  ApiError&& with_detail(std::string detail) && {
    detail_ = std::move(detail);
    return std::move(*this);
  }

 private:
  int status_;
  std::string code_;
  int64_t retry_after_;
  std::string detail_;
};

inline ApiError bad_request(const std::string& message) {
  return ApiError(400, "bad_request", message);
}

// The API edge of authentication: runs `step` (a call into the authenticator) and turns its
// AuthError into the ApiError of the same status, code and message.
template <class Step>
decltype(auto) authenticated(Step&& step) {
  try {
    return step();
  } catch (const AuthError& e) {
    throw ApiError(e.status(), e.code(), e.what(), e.retry_after());
  }
}

// {"error": message, "code": code} with the status.
HttpResponse error_response(int status, const std::string& code, const std::string& message);

}  // namespace mg::gateway

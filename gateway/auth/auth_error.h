#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mg::gateway {

// A refusal by authentication or authorisation: the HTTP status it calls for (401, 403,
// 429), a code from the error table (docs/http-api.md "Errors") and a message for the
// caller. The API layer turns it into its own error answer (api/errors.h); auth itself
// knows nothing of responses.
class AuthError : public std::runtime_error {
 public:
  AuthError(int status, std::string code, const std::string& message, int64_t retry_after = 0)
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        retry_after_(retry_after) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  int64_t retry_after() const { return retry_after_; }

 private:
  int status_;
  std::string code_;
  int64_t retry_after_;
};

}  // namespace mg::gateway

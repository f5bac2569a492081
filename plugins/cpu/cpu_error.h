#pragma once

#include <stdexcept>
#include <string>

namespace mg::cpu {

// The backend's one exception type. The C ABI layer turns it into an MG_Error with the
// matching code; nothing else crosses that boundary.
class CpuError : public std::runtime_error {
 public:
  enum Kind { kInvalid, kUnsupported, kInternal, kOutOfMemory };
  CpuError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace mg::cpu

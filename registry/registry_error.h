#pragma once

#include <stdexcept>
#include <string>

namespace mg::registry {

// Every failure the registry reports. The code tells callers (the admin API) which error
// contract applies; the message names the model, version, alias or file concerned.
class RegistryError : public std::runtime_error {
 public:
  enum class Code {
    kInvalidArgument,  // a bad name, bad JSON, bad state transition request
    kModelNotFound,    // no model of that name
    kNotFound,         // unknown version, alias, signer, artifact, tenant, key
    kAlreadyExists,    // duplicate model or signer name
    kConflict,         // refused because of current state (e.g. retiring an aliased version)
    kDigestMismatch,   // content does not hash to what was expected
    kIo,               // the file system failed (disk full, permissions)
    kDatabase,         // the database failed a statement
    kUnavailable,      // the database server cannot be reached (cluster mode)
  };

  RegistryError(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

}  // namespace mg::registry

#include "registry/names.h"

#include <algorithm>

#include "registry/registry_error.h"

namespace mg::registry {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Shows a rejected name safely: truncated, with control characters replaced.
std::string printable(std::string_view name) {
  std::string shown;
  for (char c : name.substr(0, kMaxNameLength)) {
    shown.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  return name.size() > kMaxNameLength ? shown + "…" : shown;
}

}  // namespace

void validate_name(std::string_view kind, std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength && is_alnum(name[0]) &&
            std::all_of(name.begin(), name.end(),
                        [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
  if (!ok) {
    throw RegistryError(RegistryError::Code::kInvalidArgument,
                        std::string(kind) + " name '" + printable(name) +
                            "' is invalid: use 1-64 characters of a-z 0-9 . _ - starting with "
                            "a letter or digit");
  }
}

bool is_reserved_model_name(std::string_view name) {
  for (std::string_view reserved :
       {"stats", "config", "ready", "versions", "infer", "index", "load", "unload", "trace",
        "logging", "generate", "generate_stream", "repository"}) {
    if (name == reserved) return true;
  }
  return false;
}

void validate_alias(std::string_view alias) {
  validate_name("alias", alias);
  if (std::all_of(alias.begin(), alias.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw RegistryError(RegistryError::Code::kInvalidArgument,
                        "alias '" + std::string(alias) +
                            "' is invalid: an alias cannot be a number (numbers are versions)");
  }
}

void validate_file_name(std::string_view name) { validate_name("version file", name); }

}  // namespace mg::registry

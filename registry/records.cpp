#include "registry/records.h"

#include <array>
#include <charconv>

namespace mg::registry {
namespace {

constexpr std::array<std::pair<VersionState, std::string_view>, 5> kStateNames{{
    {VersionState::kRegistered, "registered"},
    {VersionState::kLoading, "loading"},
    {VersionState::kReady, "ready"},
    {VersionState::kFailed, "failed"},
    {VersionState::kRetired, "retired"},
}};

}  // namespace

std::string_view state_name(VersionState state) {
  for (const auto& [s, name] : kStateNames) {
    if (s == state) return name;
  }
  return "unknown";
}

std::optional<VersionState> state_from_name(std::string_view name) {
  for (const auto& [s, n] : kStateNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

const Catalog::Entry* Catalog::find(const std::string& model) const {
  auto it = models.find(model);
  return it == models.end() ? nullptr : &it->second;
}

std::optional<int64_t> Catalog::resolve(const std::string& model,
                                        std::string_view version_or_alias) const {
  const Entry* entry = find(model);
  if (entry == nullptr || version_or_alias.empty()) return std::nullopt;
  int64_t number = 0;
  const char* end = version_or_alias.data() + version_or_alias.size();
  auto [ptr, ec] = std::from_chars(version_or_alias.data(), end, number);
  if (ec == std::errc() && ptr == end) {
    if (entry->versions.count(number)) return number;
    return std::nullopt;
  }
  auto alias = entry->aliases.find(version_or_alias);
  if (alias == entry->aliases.end()) return std::nullopt;
  return alias->second;
}

}  // namespace mg::registry

#include "registry/records.h"

#include <array>
#include <boost/json.hpp>
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

constexpr std::array<std::pair<QuotaPeriod, std::string_view>, 4> kPeriodNames{{
    {QuotaPeriod::kMinute, "minute"},
    {QuotaPeriod::kHour, "hour"},
    {QuotaPeriod::kDay, "day"},
    {QuotaPeriod::kMonth, "month"},
}};

constexpr std::array<std::pair<uint32_t, std::string_view>, 2> kScopeNames{{
    {kScopeInfer, "infer"},
    {kScopeAdmin, "admin"},
}};

}  // namespace

std::string_view period_name(QuotaPeriod period) {
  for (const auto& [p, name] : kPeriodNames) {
    if (p == period) return name;
  }
  return "unknown";
}

std::optional<QuotaPeriod> period_from_name(std::string_view name) {
  for (const auto& [p, n] : kPeriodNames) {
    if (n == name) return p;
  }
  return std::nullopt;
}

std::string scopes_text(uint32_t scopes) {
  std::string text;
  for (const auto& [bit, name] : kScopeNames) {
    if ((scopes & bit) == 0) continue;
    if (!text.empty()) text += ",";
    text += name;
  }
  return text;
}

std::optional<uint32_t> scopes_from_text(std::string_view text) {
  uint32_t scopes = 0;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view name = text.substr(0, comma);
    bool known = false;
    for (const auto& [bit, n] : kScopeNames) {
      if (n == name) {
        scopes |= bit;
        known = true;
      }
    }
    if (!known) return std::nullopt;
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return scopes;
}

const KeyRecord* Catalog::find_key(std::string_view id) const {
  auto it = keys.find(std::string(id));
  return it == keys.end() ? nullptr : &it->second;
}

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

std::optional<int64_t> Catalog::route(const std::string& model, std::string_view version_or_alias,
                                      uint64_t draw, uint64_t sticky_draw) const {
  if (const Entry* entry = find(model)) {
    if (auto split = entry->splits.find(version_or_alias); split != entry->splits.end()) {
      return split->second.pick(split->second.sticky ? sticky_draw : draw);
    }
  }
  return resolve(model, version_or_alias);
}

int64_t AliasSplit::pick(uint64_t draw) const {
  uint64_t point = total == 0 ? 0 : draw % total;
  for (const AliasWeight& v : versions) {
    if (point < v.weight) return v.version;
    point -= v.weight;
  }
  return versions.empty() ? 0 : versions.front().version;
}

bool AliasRecord::serves(int64_t v) const {
  if (version == v) return true;
  if (split) {
    for (const AliasWeight& w : split->versions) {
      if (w.version == v) return true;
    }
  }
  return false;
}

std::optional<Shadow> Shadow::from_config(const std::string& config_json) {
  boost::system::error_code ec;
  const boost::json::value config = boost::json::parse(config_json, ec);
  const boost::json::object* o = !ec && config.is_object() ? &config.as_object() : nullptr;
  const boost::json::value* section = o != nullptr ? o->if_contains("shadow") : nullptr;
  if (section == nullptr || !section->is_object()) return std::nullopt;
  const boost::json::object& s = section->as_object();
  const boost::json::value* version = s.if_contains("version");
  const boost::json::value* share = s.if_contains("share");
  const boost::json::value* alias = s.if_contains("alias");
  if (version == nullptr || !version->is_int64() || share == nullptr || !share->is_number()) {
    return std::nullopt;
  }
  Shadow shadow;
  shadow.version = version->as_int64();
  shadow.share = share->to_number<double>();
  if (alias != nullptr && alias->is_string()) shadow.alias = std::string(alias->as_string());
  if (shadow.share < 0 || shadow.share > 1) return std::nullopt;
  return shadow;
}

bool Catalog::Entry::aliased(int64_t v) const {
  if (shadow && shadow->version == v) return true;
  for (const auto& [alias, version] : aliases) {
    if (version == v) return true;
  }
  for (const auto& [alias, split] : splits) {
    for (const AliasWeight& w : split.versions) {
      if (w.version == v) return true;
    }
  }
  return false;
}

std::vector<int64_t> Catalog::Entry::alias_versions(std::string_view alias) const {
  std::vector<int64_t> out;
  if (auto it = splits.find(alias); it != splits.end()) {
    for (const AliasWeight& w : it->second.versions) out.push_back(w.version);
  } else if (auto one = aliases.find(alias); one != aliases.end()) {
    out.push_back(one->second);
  }
  return out;
}

}  // namespace mg::registry

#include "gateway/api/route_table.h"

namespace mg::gateway {

PathParts split_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  PathParts parts;
  while (!target.empty()) {
    if (target.front() == '/') {
      target.remove_prefix(1);
      continue;
    }
    std::size_t end = target.find('/');
    parts.push_back(target.substr(0, end));
    target = end == std::string_view::npos ? std::string_view() : target.substr(end);
  }
  return parts;
}

std::string_view PathParams::operator[](std::string_view name) const {
  for (const auto& [key, value] : values_) {
    if (key == name) return value;
  }
  return {};
}

namespace {
bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}
}  // namespace

bool PathPattern::match(const PathParts& parts, PathParams& params) const {
  if (parts.size() != segments_.size()) return false;
  // The literal segments first: a request tries many routes of its length, and capturing
  // only for the one it takes keeps the others from allocating.
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!is_parameter(segments_[i]) && segments_[i] != parts[i]) return false;
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string_view segment = segments_[i];
    if (is_parameter(segment)) params.add(segment.substr(1, segment.size() - 2), parts[i]);
  }
  return true;
}

bool match_pattern(std::string_view pattern, const PathParts& parts, PathParams& params) {
  return PathPattern(pattern).match(parts, params);
}

}  // namespace mg::gateway

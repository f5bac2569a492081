#include "main/config_schema.h"

#include <map>
#include <stdexcept>
#include <string_view>

namespace mg::gateway {
namespace {

enum class Kind { kString, kBool, kCount, kStringArray };

// Every key `modelgate serve` reads (see deploy/modelgate.example.toml), by dotted path.
const std::map<std::string_view, Kind>& schema() {
  static const std::map<std::string_view, Kind> keys = {
      {"listen", Kind::kString},
      {"metrics_listen", Kind::kString},
      {"access_log", Kind::kString},
      {"require_signature", Kind::kBool},
      {"threads", Kind::kCount},
      {"plugin_dirs", Kind::kStringArray},
      {"tls.certificate", Kind::kString},
      {"tls.private_key", Kind::kString},
      {"limits.handshake_timeout_seconds", Kind::kCount},
      {"limits.read_timeout_seconds", Kind::kCount},
      {"limits.write_timeout_seconds", Kind::kCount},
      {"limits.drain_timeout_seconds", Kind::kCount},
      {"limits.header_bytes", Kind::kCount},
      {"limits.body_bytes", Kind::kCount},
      {"limits.upload_bytes", Kind::kCount},
      {"metrics.tenant_label", Kind::kBool},
  };
  return keys;
}

bool has_kind(const toml::node& node, Kind kind) {
  switch (kind) {
    case Kind::kString:
      return node.is_string();
    case Kind::kBool:
      return node.is_boolean();
    case Kind::kCount:
      return node.is_integer() && *node.value<int64_t>() > 0;
    case Kind::kStringArray:
      return node.is_array() && node.as_array()->is_homogeneous(toml::node_type::string);
  }
  return false;
}

std::string_view describe(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "a string";
    case Kind::kBool:
      return "true or false";
    case Kind::kCount:
      return "a positive integer";
    case Kind::kStringArray:
      return "an array of strings";
  }
  return "?";
}

bool is_section(std::string_view key) {
  return key == "tls" || key == "limits" || key == "metrics";
}

void check_table(const toml::table& table, const std::string& prefix, const std::string& file) {
  for (const auto& [key, node] : table) {
    const std::string path = prefix + std::string(key.str());
    if (prefix.empty() && is_section(path)) {
      if (!node.is_table())
        throw std::runtime_error("config " + file + ": [" + path + "] must be a table");
      check_table(*node.as_table(), path + ".", file);
      continue;
    }
    const auto found = schema().find(path);
    if (found == schema().end()) {
      throw std::runtime_error("config " + file + ": unknown key '" + path + "'");
    }
    if (!has_kind(node, found->second)) {
      throw std::runtime_error("config " + file + ": '" + path + "' must be " +
                               std::string(describe(found->second)));
    }
  }
}

}  // namespace

void check_config_schema(const toml::table& config, const std::string& file) {
  check_table(config, "", file);
}

}  // namespace mg::gateway

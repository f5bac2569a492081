#include "gateway/main/serve_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace mg::gateway {
namespace {

enum class Kind { kString, kBool, kCount, kStringArray };

struct KeyRule {
  Kind kind;
  int64_t max = 0;  // for kCount: the largest sensible value
};

constexpr int64_t kDay = 86400;
constexpr int64_t kTiB = int64_t{1} << 40;

// Every key `modelgate serve` reads, by dotted path.
const std::map<std::string_view, KeyRule>& schema() {
  static const std::map<std::string_view, KeyRule> keys = {
      {"listen", {Kind::kString}},
      {"metrics_listen", {Kind::kString}},
      {"grpc_listen", {Kind::kString}},
      {"limits.grpc_message_bytes", {Kind::kCount, (int64_t{1} << 31) - 1}},
      {"access_log", {Kind::kString}},
      {"require_signature", {Kind::kBool}},
      {"threads", {Kind::kCount, 1024}},
      {"plugin_dirs", {Kind::kStringArray}},
      {"tls.certificate", {Kind::kString}},
      {"tls.private_key", {Kind::kString}},
      {"limits.handshake_timeout_seconds", {Kind::kCount, kDay}},
      {"limits.read_timeout_seconds", {Kind::kCount, kDay}},
      {"limits.write_timeout_seconds", {Kind::kCount, kDay}},
      {"limits.drain_timeout_seconds", {Kind::kCount, kDay}},
      {"limits.header_bytes", {Kind::kCount, 1 << 20}},
      {"limits.body_bytes", {Kind::kCount, int64_t{1} << 32}},
      {"limits.upload_bytes", {Kind::kCount, kTiB}},
      {"limits.max_connections", {Kind::kCount, 1 << 20}},
      {"limits.max_queued_requests", {Kind::kCount, 1 << 20}},
      {"limits.buffered_body_bytes", {Kind::kCount, int64_t{1} << 40}},
      {"limits.json_bytes", {Kind::kCount, int64_t{1} << 32}},
      {"limits.inference_timeout_ms", {Kind::kCount, int64_t{24} * 3600 * 1000}},
      {"limits.tenant_concurrency", {Kind::kCount, 1 << 20}},
      {"limits.max_connections_per_address", {Kind::kCount, 1 << 20}},
      {"metrics.tenant_label", {Kind::kBool}},
      {"cluster.postgres", {Kind::kString}},
      {"cluster.redis", {Kind::kString}},
      {"cluster.limits_on_redis_failure", {Kind::kString}},
  };
  return keys;
}

// Keys of each [backends.NAME] table.
const std::map<std::string_view, KeyRule>& backend_schema() {
  static const std::map<std::string_view, KeyRule> keys = {
      {"isolation", {Kind::kString}},
      {"memory_mb", {Kind::kCount, 1 << 24}},
      {"cpu_seconds", {Kind::kCount, int64_t{365} * kDay}},
      {"open_files", {Kind::kCount, 1 << 20}},
      {"batch_timeout_ms", {Kind::kCount, kDay * 1000}},
      {"max_restarts", {Kind::kCount, 1000}},
      {"restart_window_seconds", {Kind::kCount, kDay}},
      {"allow_network", {Kind::kBool}},
      {"allow_exec", {Kind::kBool}},
      {"batch_by_default", {Kind::kBool}},
      {"winograd_by_default", {Kind::kBool}},
  };
  return keys;
}

bool fits(const toml::node& node, const KeyRule& rule) {
  switch (rule.kind) {
    case Kind::kString:
      return node.is_string();
    case Kind::kBool:
      return node.is_boolean();
    case Kind::kCount: {
      // is_integer() first: value<int64_t>() on a float converts it (UB when out of range;
      // found by serve_config_fuzzer).
      if (!node.is_integer()) return false;
      const int64_t value = node.as_integer()->get();
      return value > 0 && value <= rule.max;
    }
    case Kind::kStringArray:
      return node.is_array() && node.as_array()->is_homogeneous(toml::node_type::string);
  }
  return false;
}

std::string describe(const KeyRule& rule) {
  switch (rule.kind) {
    case Kind::kString:
      return "a string";
    case Kind::kBool:
      return "true or false";
    case Kind::kCount:
      return "an integer from 1 to " + std::to_string(rule.max);
    case Kind::kStringArray:
      return "an array of strings";
  }
  return "?";
}

bool is_section(std::string_view key) {
  return key == "tls" || key == "limits" || key == "metrics" || key == "cluster";
}

void check_rules(const toml::table& table, const std::string& prefix,
                 const std::map<std::string_view, KeyRule>& rules, const std::string& source) {
  for (const auto& [key, node] : table) {
    const std::string path = prefix + std::string(key.str());
    const auto found = rules.find(key.str());
    if (found == rules.end()) {
      throw std::runtime_error("config " + source + ": unknown key '" + path + "'");
    }
    if (!fits(node, found->second)) {
      throw std::runtime_error("config " + source + ": '" + path + "' must be " +
                               describe(found->second));
    }
  }
}

// [backends]: a table of backend names, each a table of backend_schema() keys.
void check_backends(const toml::node& node, const std::string& source) {
  if (!node.is_table())
    throw std::runtime_error("config " + source + ": [backends] must be a table");
  for (const auto& [name, backend] : *node.as_table()) {
    const std::string path = "backends." + std::string(name.str());
    if (!backend.is_table())
      throw std::runtime_error("config " + source + ": [" + path + "] must be a table");
    check_rules(*backend.as_table(), path + ".", backend_schema(), source);
    const std::string isolation = (*backend.as_table())["isolation"].value_or(std::string());
    if (!isolation.empty() && isolation != "inline" && isolation != "process") {
      throw std::runtime_error("config " + source + ": '" + path +
                               ".isolation' must be \"inline\" or \"process\"");
    }
  }
}

void check_table(const toml::table& table, const std::string& prefix, const std::string& source) {
  for (const auto& [key, node] : table) {
    const std::string path = prefix + std::string(key.str());
    if (prefix.empty() && path == "backends") {
      check_backends(node, source);
      continue;
    }
    if (prefix.empty() && is_section(path)) {
      if (!node.is_table())
        throw std::runtime_error("config " + source + ": [" + path + "] must be a table");
      check_table(*node.as_table(), path + ".", source);
      continue;
    }
    const auto found = schema().find(path);
    if (found == schema().end()) {
      throw std::runtime_error("config " + source + ": unknown key '" + path + "'");
    }
    if (!fits(node, found->second)) {
      throw std::runtime_error("config " + source + ": '" + path + "' must be " +
                               describe(found->second));
    }
  }
}

}  // namespace

void apply_config_text(std::string_view toml_text, const std::string& source,
                       ServeSettings& settings) {
  toml::table config;
  try {
    config = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("config " + source + ": " + std::string(e.description()));
  }
  check_table(config, "", source);
  settings.listen = config["listen"].value_or(settings.listen);
  settings.metrics_listen = config["metrics_listen"].value_or(settings.metrics_listen);
  settings.grpc_listen = config["grpc_listen"].value_or(settings.grpc_listen);
  settings.grpc_message_limit =
      static_cast<std::size_t>(config["limits"]["grpc_message_bytes"].value_or(
          static_cast<int64_t>(settings.grpc_message_limit)));
  settings.require_signature = config["require_signature"].value_or(settings.require_signature);
  settings.access_log = config["access_log"].value_or(settings.access_log);
  settings.metrics_tenant_label =
      config["metrics"]["tenant_label"].value_or(settings.metrics_tenant_label);
  settings.threads = static_cast<int>(config["threads"].value_or(int64_t{settings.threads}));
  settings.postgres = config["cluster"]["postgres"].value_or(settings.postgres);
  settings.redis = config["cluster"]["redis"].value_or(settings.redis);
  settings.limits_on_redis_failure =
      config["cluster"]["limits_on_redis_failure"].value_or(settings.limits_on_redis_failure);
  if (settings.limits_on_redis_failure != "closed" && settings.limits_on_redis_failure != "open") {
    throw std::runtime_error("config " + source +
                             ": 'cluster.limits_on_redis_failure' must be \"closed\" or \"open\"");
  }
  settings.certificate = config["tls"]["certificate"].value_or(settings.certificate);
  settings.private_key = config["tls"]["private_key"].value_or(settings.private_key);
  auto seconds = [&](const char* key, std::chrono::seconds& value) {
    value = std::chrono::seconds(config["limits"][key].value_or(int64_t{value.count()}));
  };
  seconds("handshake_timeout_seconds", settings.limits.handshake_timeout);
  seconds("read_timeout_seconds", settings.limits.read_timeout);
  seconds("write_timeout_seconds", settings.limits.write_timeout);
  seconds("drain_timeout_seconds", settings.limits.drain_timeout);
  settings.limits.body_limit = static_cast<std::size_t>(
      config["limits"]["body_bytes"].value_or(int64_t(settings.limits.body_limit)));
  settings.limits.header_limit = static_cast<std::size_t>(
      config["limits"]["header_bytes"].value_or(int64_t(settings.limits.header_limit)));
  settings.limits.upload_limit = static_cast<uint64_t>(
      config["limits"]["upload_bytes"].value_or(int64_t(settings.limits.upload_limit)));
  settings.limits.max_connections = static_cast<std::size_t>(
      config["limits"]["max_connections"].value_or(int64_t(settings.limits.max_connections)));
  settings.limits.max_queued_requests =
      static_cast<std::size_t>(config["limits"]["max_queued_requests"].value_or(
          int64_t(settings.limits.max_queued_requests)));
  settings.inference_timeout =
      std::chrono::milliseconds(config["limits"]["inference_timeout_ms"].value_or(
          int64_t{settings.inference_timeout.count()}));
  settings.tenant_concurrency =
      config["limits"]["tenant_concurrency"].value_or(settings.tenant_concurrency);
  settings.json_limit = static_cast<std::size_t>(
      config["limits"]["json_bytes"].value_or(int64_t(settings.json_limit)));
  settings.limits.buffered_body_budget =
      static_cast<std::size_t>(config["limits"]["buffered_body_bytes"].value_or(
          int64_t(settings.limits.buffered_body_budget)));
  settings.limits.max_connections_per_address =
      static_cast<std::size_t>(config["limits"]["max_connections_per_address"].value_or(
          int64_t(settings.limits.max_connections_per_address)));
  if (const auto* backends = config["backends"].as_table()) {
    for (const auto& [name, node] : *backends) {
      const toml::table& t = *node.as_table();
      BackendConfig& b = settings.backends[std::string(name.str())];
      b.isolation = t["isolation"].value_or(b.isolation);
      b.memory_mb = t["memory_mb"].value_or(b.memory_mb);
      b.cpu_seconds = t["cpu_seconds"].value_or(b.cpu_seconds);
      b.open_files = t["open_files"].value_or(b.open_files);
      b.batch_timeout_ms = t["batch_timeout_ms"].value_or(b.batch_timeout_ms);
      b.max_restarts = t["max_restarts"].value_or(b.max_restarts);
      b.restart_window_seconds = t["restart_window_seconds"].value_or(b.restart_window_seconds);
      b.allow_network = t["allow_network"].value_or(b.allow_network);
      b.allow_exec = t["allow_exec"].value_or(b.allow_exec);
      if (auto v = t["batch_by_default"].value<bool>()) b.batch_by_default = *v;
      if (auto v = t["winograd_by_default"].value<bool>()) b.winograd_by_default = *v;
    }
  }
  if (auto dirs = config["plugin_dirs"].as_array()) {
    for (const auto& d : *dirs) {
      if (auto s = d.value<std::string>()) settings.plugin_dirs.push_back(*s);
    }
  }
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const auto& [key, rule] : schema()) keys.emplace_back(key);
  for (const auto& [key, rule] : backend_schema())
    keys.push_back("backends.NAME." + std::string(key));
  std::sort(keys.begin(), keys.end());
  return keys;
}

void apply_config_file(const std::string& path, ServeSettings& settings) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("config " + path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  apply_config_text(text.str(), path, settings);
}

std::string plugin_config_json(const BackendConfig& config) {
  std::string json;
  auto add = [&](const char* key, const std::optional<bool>& value) {
    if (!value) return;
    json += json.empty() ? "{" : ", ";
    json += std::string("\"") + key + "\": " + (*value ? "true" : "false");
  };
  add("batch_by_default", config.batch_by_default);
  add("winograd_by_default", config.winograd_by_default);
  return json.empty() ? "{}" : json + "}";
}

std::pair<std::string, uint16_t> split_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    const char* first = text.data() + colon + 1;
    const char* last = text.data() + text.size();
    const auto [end, error] = std::from_chars(first, last, port);
    if (error != std::errc() || end != last || first == last) port = -1;
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    throw std::runtime_error("expected HOST:PORT with a port from 0 to 65535, got '" + text + "'");
  }
  return {text.substr(0, colon), static_cast<uint16_t>(port)};
}

}  // namespace mg::gateway

// `modelgate serve` settings: defaults, the TOML config file (deploy/modelgate.example.toml
// lists every key), and HOST:PORT parsing. Command-line flags are applied by the caller
// after the file, so they win.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/http/https_server.h"

namespace mg::gateway {

// [backends.NAME]: how the server runs one backend's models (docs/operations.md
// "Backend isolation"). Unset fields keep the server's defaults.
struct BackendConfig {
  std::string isolation;  // "inline", "process" or "" (cpu inline, other plugins process)
  int64_t memory_mb = 0, cpu_seconds = 0, open_files = 0;  // 0: no limit / inherited
  int64_t batch_timeout_ms = 30'000;
  int64_t max_restarts = 5, restart_window_seconds = 300;
  bool allow_network = false, allow_exec = false;
  // Given to the plugin at start as its backend config (plugin_config_json) when set: the
  // CPU backend's defaults for models whose config does not say.
  std::optional<bool> batch_by_default;
  std::optional<bool> winograd_by_default;
};

// The keys of a [backends.NAME] table that go to the plugin itself, as the JSON object of
// its backend config: {"batch_by_default": B, "winograd_by_default": W}, each when set;
// "{}" when neither is.
std::string plugin_config_json(const BackendConfig& config);

struct ServeSettings {
  std::string listen = "127.0.0.1:8443";
  std::string metrics_listen = "127.0.0.1:9464";
  // The KServe v2 gRPC listener (docs/grpc.md); empty: none. The run command serves it on
  // 127.0.0.1:8444.
  std::string grpc_listen;
  std::size_t grpc_message_limit = std::size_t{64} << 20;  // largest gRPC message
  bool require_signature = false;     // every model version needs a trusted signature
  std::string access_log = "stdout";  // "stdout", "stderr", a file path, or "off"
  bool metrics_tenant_label = true;   // false: no tenant label on metrics (many tenants)
  std::vector<std::string> plugin_dirs;
  std::string certificate, private_key;
  int threads = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  HttpsServerOptions limits;  // timeouts and size limits; defaults in https_server.h
  std::size_t json_limit = std::size_t{8} << 20;  // an infer request's JSON part (413 past it)
  std::chrono::milliseconds inference_timeout{60'000};  // wait for a batch: 503 past it
  // Inference requests one tenant may have in flight while others wait: -1 picks 3/4 of
  // the handler threads; 0: no cap.
  int64_t tenant_concurrency = -1;
  // Cluster mode (docs/operations.md "Cluster mode"): the shared PostgreSQL registry.
  std::string postgres;
  // Rate limits, quotas and nonces shared through this Redis (empty: per replica), and
  // what happens when it cannot be reached: "closed" (503) or "open" (per replica).
  std::string redis;
  std::string limits_on_redis_failure = "closed";
  std::map<std::string, BackendConfig> backends;
};

// Applies a TOML config to `settings`. Every key is optional; a key the server does not
// know, a value of the wrong type or out of range, or a TOML syntax error throws
// std::runtime_error naming `source` and the key (a typo is never ignored silently).
void apply_config_text(std::string_view toml_text, const std::string& source,
                       ServeSettings& settings);
// Every key the config file may set, by dotted path ("limits.body_bytes"), sorted. The
// test command checks docs/operations.md "Config reference" against it.
std::vector<std::string> config_keys();

// The same for a file (its path is the source).
void apply_config_file(const std::string& path, ServeSettings& settings);

// "host:port" (IPv6 as "[::1]:8443") → {host, port}; throws std::runtime_error on
// anything else, naming the text.
std::pair<std::string, uint16_t> split_host_port(const std::string& text);

}  // namespace mg::gateway

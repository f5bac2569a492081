// The serve config file: schema (unknown keys, types, ranges) and HOST:PORT parsing.
#include "gateway/main/serve_config.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace mg::gateway {
namespace {

// The error message apply_config_text throws for `text`, or "" when it is accepted.
std::string error_of(const std::string& text) {
  ServeSettings settings;
  try {
    apply_config_text(text, "t.toml", settings);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(ServeConfig, EveryKeyApplies) {
  ServeSettings s;
  apply_config_text(R"(listen = "0.0.0.0:1"
metrics_listen = "127.0.0.1:2"
grpc_listen = "127.0.0.1:3"
access_log = "off"
require_signature = true
threads = 3
plugin_dirs = ["/a", "/b"]
[tls]
certificate = "c.pem"
private_key = "k.pem"
[limits]
handshake_timeout_seconds = 4
read_timeout_seconds = 5
write_timeout_seconds = 6
drain_timeout_seconds = 7
header_bytes = 8192
body_bytes = 1024
upload_bytes = 2048
grpc_message_bytes = 4096
[metrics]
tenant_label = false
[cluster]
postgres = "postgresql://modelgate@db:5432/modelgate"
redis = "redis://cache:6379/1"
limits_on_redis_failure = "open"
)",
                    "t.toml", s);
  EXPECT_EQ(s.listen, "0.0.0.0:1");
  EXPECT_EQ(s.metrics_listen, "127.0.0.1:2");
  EXPECT_EQ(s.grpc_listen, "127.0.0.1:3");
  EXPECT_EQ(s.grpc_message_limit, 4096u);
  EXPECT_EQ(s.access_log, "off");
  EXPECT_TRUE(s.require_signature);
  EXPECT_EQ(s.threads, 3);
  EXPECT_EQ(s.plugin_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(s.certificate, "c.pem");
  EXPECT_EQ(s.private_key, "k.pem");
  EXPECT_EQ(s.limits.handshake_timeout.count(), 4);
  EXPECT_EQ(s.limits.read_timeout.count(), 5);
  EXPECT_EQ(s.limits.write_timeout.count(), 6);
  EXPECT_EQ(s.limits.drain_timeout.count(), 7);
  EXPECT_EQ(s.limits.header_limit, 8192u);
  EXPECT_EQ(s.limits.body_limit, 1024u);
  EXPECT_EQ(s.limits.upload_limit, 2048u);
  EXPECT_FALSE(s.metrics_tenant_label);
  EXPECT_EQ(s.postgres, "postgresql://modelgate@db:5432/modelgate");
  EXPECT_EQ(s.redis, "redis://cache:6379/1");
  EXPECT_EQ(s.limits_on_redis_failure, "open");
}

TEST(ServeConfig, MistakesAreRefusedByName) {
  EXPECT_EQ(error_of(""), "");
  EXPECT_EQ(error_of("metric_listen = \"x\""), "config t.toml: unknown key 'metric_listen'");
  EXPECT_EQ(error_of("[limits]\nread_timeout = 5"),
            "config t.toml: unknown key 'limits.read_timeout'");
  EXPECT_EQ(error_of("[extra]\nx = 1"), "config t.toml: unknown key 'extra'");
  EXPECT_EQ(error_of("limits = 3"), "config t.toml: [limits] must be a table");
  EXPECT_EQ(error_of("threads = \"2\""),
            "config t.toml: 'threads' must be an integer from 1 to 1024");
  EXPECT_EQ(error_of("threads = 0"), "config t.toml: 'threads' must be an integer from 1 to 1024");
  EXPECT_EQ(error_of("threads = 100000"),
            "config t.toml: 'threads' must be an integer from 1 to 1024");
  EXPECT_EQ(error_of("require_signature = 1"),
            "config t.toml: 'require_signature' must be true or false");
  EXPECT_EQ(error_of("plugin_dirs = [\"a\", 1]"),
            "config t.toml: 'plugin_dirs' must be an array of strings");
  EXPECT_NE(error_of("listen = "), "");  // TOML syntax error
  EXPECT_EQ(error_of("[cluster]\nlimits_on_redis_failure = \"maybe\""),
            "config t.toml: 'cluster.limits_on_redis_failure' must be \"closed\" or \"open\"");
}

TEST(ServeConfig, BackendTables) {
  ServeSettings s;
  apply_config_text(
      "[backends.cpu]\nbatch_by_default = false\n[backends.other]\nisolation = \"process\"",
      "t.toml", s);
  ASSERT_TRUE(s.backends["cpu"].batch_by_default.has_value());
  EXPECT_FALSE(*s.backends["cpu"].batch_by_default);
  EXPECT_FALSE(s.backends["other"].batch_by_default.has_value());  // not given: the plugin's own
  EXPECT_EQ(error_of("[backends.cpu]\nbatch_by_default = \"no\""),
            "config t.toml: 'backends.cpu.batch_by_default' must be true or false");
  EXPECT_EQ(error_of("[backends.cpu]\nwinograd_by_default = 0"),
            "config t.toml: 'backends.cpu.winograd_by_default' must be true or false");
}

// What of a [backends.NAME] table reaches the plugin as its backend config.
TEST(ServeConfig, PluginConfigJson) {
  ServeSettings s;
  apply_config_text(
      "[backends.cpu]\nbatch_by_default = false\nwinograd_by_default = true\n"
      "[backends.gpu]\nwinograd_by_default = false\n[backends.other]\nisolation = \"process\"",
      "t.toml", s);
  EXPECT_EQ(plugin_config_json(s.backends["cpu"]),
            R"({"batch_by_default": false, "winograd_by_default": true})");
  EXPECT_EQ(plugin_config_json(s.backends["gpu"]), R"({"winograd_by_default": false})");
  EXPECT_EQ(plugin_config_json(s.backends["other"]), "{}");
}

// Found by serve_config_fuzzer: a float where a count belongs went through toml++'s
// value<int64_t>(), which converts it (undefined behaviour when out of range).
TEST(ServeConfig, FloatsAreNotCounts) {
  EXPECT_EQ(error_of("threads = 4e24"),
            "config t.toml: 'threads' must be an integer from 1 to 1024");
  EXPECT_EQ(error_of("threads = 2.0"),
            "config t.toml: 'threads' must be an integer from 1 to 1024");
  EXPECT_EQ(error_of("[limits]\nbody_bytes = inf"),
            "config t.toml: 'limits.body_bytes' must be an integer from 1 to 4294967296");
}

TEST(ServeConfig, HostPort) {
  EXPECT_EQ(split_host_port("127.0.0.1:8443"),
            (std::pair<std::string, uint16_t>{"127.0.0.1", 8443}));
  EXPECT_EQ(split_host_port("[::1]:0"), (std::pair<std::string, uint16_t>{"[::1]", 0}));
  for (const char* bad : {"", "8443", ":8443", "host:", "host:abc", "host:65536", "host:-1",
                          "host:99999999999999999999", "host:80x"}) {
    EXPECT_THROW(split_host_port(bad), std::runtime_error) << bad;
  }
}

}  // namespace
}  // namespace mg::gateway

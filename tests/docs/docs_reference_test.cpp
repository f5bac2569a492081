// The reference parts of docs/ checked against the server itself: the config keys the
// parser reads, the metrics the server exports, the request-signing test vectors.
#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gateway/main/serve_config.h"
#include "gateway/metrics/metrics.h"
#include "modelgate/client.h"
#include "modelgate/plugin.h"
#include "modelgate/signing.h"

namespace mg::gateway {
namespace {

std::string read_doc(const std::string& name) {
  std::ifstream in(std::string(MG_SOURCE_DIR) + "/docs/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The lines of `doc` between the heading `heading` and the next heading of any level.
std::string section(const std::string& doc, const std::string& heading) {
  const auto start = doc.find("\n" + heading + "\n");
  if (start == std::string::npos) return "";
  const auto end = doc.find("\n#", start + heading.size() + 2);
  return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The first backquoted word of every table row of `text` ("| `listen` | …").
std::set<std::string> table_keys(const std::string& text) {
  std::set<std::string> keys;
  const std::regex row(R"(\n\| `([A-Za-z0-9_.]+)`)");
  for (std::sregex_iterator it(text.begin(), text.end(), row), end; it != end; ++it) {
    keys.insert((*it)[1]);
  }
  return keys;
}

TEST(Docs, ConfigReferenceListsExactlyTheKeysTheParserReads) {
  const std::set<std::string> documented =
      table_keys(section(read_doc("operations.md"), "## Config reference"));
  const std::vector<std::string> keys = config_keys();
  const std::set<std::string> parsed(keys.begin(), keys.end());
  for (const auto& key : parsed) EXPECT_TRUE(documented.count(key)) << "undocumented: " << key;
  for (const auto& key : documented) EXPECT_TRUE(parsed.count(key)) << "not a key: " << key;
}

class OneOfEach : public ServerState {
 public:
  std::vector<VersionState> versions() const override { return {{"m", 1, "ready"}}; }
  std::vector<BackendState> backends() const override { return {{"cpu", "1", "1.0", "ready"}}; }
  std::vector<Dependency> dependencies() const override { return {{"redis", true}}; }
  std::vector<WorkerState> workers() const override { return {{"m", 1, 1 << 20}}; }
  std::vector<ShadowState> shadows() const override { return {{"m", 2, 10, 1, 3, 80, 72, 0.5}}; }
};

TEST(Docs, MetricsReferenceListsExactlyTheMetricsTheServerExports) {
  const OneOfEach state;
  Metrics metrics("test", state);
  // One of every event, so that every family has a member.
  metrics.observe_inference("m", 1, "ok", 1, 0.01, 0.001);
  metrics.count_unknown_model();
  metrics.observe_batch("m", 1, 1, 0.01);
  metrics.count_auth_failure("invalid_key");
  metrics.count_shed();
  metrics.count_refusal("bad_request");
  metrics.count_access_log_drop();
  metrics.count_rate_limited("t", "rate_limited");
  metrics.count_tenant_request("t");
  metrics.add_inflight(1);
  metrics.count_worker_death("m", 1, "sigsegv");
  metrics.count_worker_restart("m", 1);
  std::set<std::string> exported;
  std::istringstream lines(metrics.scrape());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      exported.insert(line.substr(7, line.find(' ', 7) - 7));
    }
  }
  ASSERT_GT(exported.size(), 10u);
  const std::set<std::string> documented =
      table_keys(section(read_doc("operations.md"), "## Metrics reference"));
  for (const auto& name : exported) EXPECT_TRUE(documented.count(name)) << "undocumented: " << name;
  for (const auto& name : documented) EXPECT_TRUE(exported.count(name)) << "not exported: " << name;
}

TEST(Docs, SigningTestVectorsAreWhatTheSdkComputes) {
  const std::string doc = read_doc("signing.md");
  const std::regex key_line(R"(key `(mg_[A-Za-z0-9_]+)`)");
  std::smatch key;
  ASSERT_TRUE(std::regex_search(doc, key, key_line));
  // | method | `target` | timestamp | `nonce` | `body` | `body sha256` | `signature` |
  const std::regex row(
      R"(\n\| (GET|POST|PUT|DELETE) \| `([^`]*)` \| (\d+) \| `([^`]*)` \| `([^`]*)` \| `([0-9a-f]{64})` \| `([0-9a-f]{64})` \|)");
  int vectors = 0;
  for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it, ++vectors) {
    const auto& m = *it;
    EXPECT_EQ(modelgate::sha256_hex(m[5].str()), m[6].str()) << m[0];
    EXPECT_EQ(modelgate::sign_request(key[1].str(), m[1].str(), m[2].str(), m[3].str(), m[4].str(),
                                      m[6].str()),
              m[7].str())
        << m[0];
  }
  EXPECT_GE(vectors, 2);
  // The string-to-sign example in the document is the SDK's.
  EXPECT_NE(doc.find(modelgate::string_to_sign("POST", "/v2/models/fashion-mlp/infer", "1700000000",
                                               "0123456789abcdef",
                                               modelgate::sha256_hex("{\"inputs\":[]}"))),
            std::string::npos);
}

// docs/grpc.md: a gRPC call's signature covers POST, the RPC's path and the serialized
// message (given in hex in the table).
TEST(Docs, GrpcSigningTestVectorsAreWhatTheSdkComputes) {
  const std::string doc = read_doc("grpc.md");
  const std::regex key_line(R"(key `(mg_[A-Za-z0-9_]+)`)");
  std::smatch key;
  ASSERT_TRUE(std::regex_search(doc, key, key_line));
  // | `rpc path` | timestamp | `nonce` | `message hex` | `sha256` | `signature` |
  const std::regex row(
      R"(\n\| `(/inference\.GRPCInferenceService/[A-Za-z]+)` \| (\d+) \| `([^`]*)` \| `([0-9a-f]*)` \| `([0-9a-f]{64})` \| `([0-9a-f]{64})` \|)");
  int vectors = 0;
  for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it, ++vectors) {
    const auto& m = *it;
    std::string message;
    const std::string hex = m[4].str();
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      message += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    EXPECT_EQ(modelgate::sha256_hex(message), m[5].str()) << m[0];
    EXPECT_EQ(modelgate::sign_request(key[1].str(), "POST", m[1].str(), m[2].str(), m[3].str(),
                                      m[5].str()),
              m[6].str())
        << m[0];
  }
  EXPECT_GE(vectors, 2);
}

// The end of a struct's last ABI 1.0 field: the smallest struct_size a reader accepts.
#define MG_END_OF(T, field) (offsetof(T, field) + sizeof(T::field))

TEST(Docs, PluginAbiStructSizesAreTheHeaders) {
  const std::string doc = read_doc("plugin-abi.md");
  const std::map<std::string, std::pair<std::size_t, std::size_t>> actual = {
      {"MG_BackendApi", {MG_END_OF(MG_BackendApi, instance_execute), sizeof(MG_BackendApi)}},
      {"MG_HostApi", {MG_END_OF(MG_HostApi, request_error), sizeof(MG_HostApi)}},
      {"MG_ModelMetadata",
       {MG_END_OF(MG_ModelMetadata, execute_reentrant), sizeof(MG_ModelMetadata)}},
      {"MG_Batch", {MG_END_OF(MG_Batch, output_names), sizeof(MG_Batch)}},
  };
  // | `MG_BackendApi` | plugin | 96 | 96 |
  const std::regex row(R"(\n\| `(MG_\w+)` \| \w+ \| (\d+) \| (\d+) \|)");
  std::set<std::string> seen;
  for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it) {
    const std::string name = (*it)[1];
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_EQ(std::stoul((*it)[2]), actual.at(name).first) << name;
    EXPECT_EQ(std::stoul((*it)[3]), actual.at(name).second) << name;
    seen.insert(name);
  }
  EXPECT_EQ(seen.size(), actual.size());
}

}  // namespace
}  // namespace mg::gateway

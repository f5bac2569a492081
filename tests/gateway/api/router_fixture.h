#pragma once
// The router fixture: a real registry (temp dir), the real libmg_cpu.so, the seed models,
// an authenticator with a test master key, and keys of both scopes. No sockets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "gateway/api/router.h"
#include "gateway/auth/authenticator.h"
#include "gateway/limits/limits.h"
#include "gateway/plugin_host/backend_manager.h"
#include "gateway/serving/model_repository.h"
#include "registry/registry.h"

namespace mg::gateway {

namespace json = boost::json;

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline const std::filesystem::path kModels = std::filesystem::path(MG_EXAMPLES_DIR) / "models";

class RouterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mg::set_log_sink([](mg::LogLevel, std::string_view) {});
  }

  RouterTest() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mg_router_XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    // One clock for everything that reads the time (common/clock.h): the registry's.
    registry_ = std::make_unique<registry::Registry>(
        registry::RegistryOptions{dir_, [this] { return now_ms_; }});
    backends_.discover({MG_PLUGIN_DIR});
    models_ = std::make_unique<ModelRepository>(*registry_, backends_);
    models_->set_worker_binary(MG_WORKER_BINARY);
    add_model("fashion-mlp", R"({"max_batch_size": 8})", true);
    add_model("text-classifier", R"({"max_batch_size": 8})", true);
    std::array<unsigned char, 32> master{};
    master.fill(7);
    auth_ = std::make_unique<Authenticator>(*registry_, KeyCrypto(master));
    registry_->create_tenant("ops", 0, registry::QuotaPeriod::kMonth, "test");
    registry_->create_tenant("acme", 0, registry::QuotaPeriod::kMonth, "test");
    KeySpec admin{"ops", registry::kScopeAdmin | registry::kScopeInfer};
    admin_key_ = auth_->issue_key(admin, "test").key;
    KeySpec infer{"acme", registry::kScopeInfer};
    key_ = auth_->issue_key(infer, "test").key;
    // The meter flushes only when a test says so (its clock is now_ms_, not time).
    limits_ = std::make_unique<Limits>(*registry_, WallClock{}, std::chrono::hours(1));
    services_ = std::make_unique<Services>(
        Services{*registry_, *models_, backends_, *auth_, "test", nullptr, limits_.get()});
  }
  ~RouterTest() override {
    services_.reset();
    limits_.reset();
    auth_.reset();
    models_.reset();
    registry_.reset();
    std::filesystem::remove_all(dir_);
  }

  void add_model(const std::string& name, const std::string& config, bool load) {
    add_model_file(name, kModels / (name + ".onnx"), config, load);
  }
  // A model named `name` from `file` on the CPU backend, its version 1 the default.
  void add_model_file(const std::string& name, const std::filesystem::path& file,
                      const std::string& config, bool load) {
    register_model(name, "cpu", read_file(file), config);
    if (load) models_->load(name, 1, "test");
  }
  // Registers `name` on `backend` with `artifact` as version 1, the default; not loaded.
  void register_model(const std::string& name, const std::string& backend,
                      const std::string& artifact, const std::string& config) {
    registry_->create_model({name, backend, "", config}, "test");
    registry_->add_version(
        name,
        registry_->artifacts().put(std::as_bytes(std::span(artifact.data(), artifact.size()))), "",
        "test");
    registry_->set_alias(name, "default", 1, "test");
  }

  // A request with the infer-scope key unless `headers` bring their own Authorization.
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    bool has_auth = false;
    for (const auto& [name, value] : headers) has_auth = has_auth || name == "Authorization";
    if (!has_auth) headers.emplace_back("Authorization", "Bearer " + key_);
    return route(HttpRequest{method, target, std::move(headers), body}, *services_);
  }
  // The same with the admin key.
  HttpResponse admin(const std::string& method, const std::string& target,
                     const std::string& body = "") {
    return call(method, target, body, {{"Authorization", "Bearer " + admin_key_}});
  }

  // The infer key with its last secret character changed: right shape, wrong secret.
  std::string wrong_key() const {
    std::string wrong = key_;
    wrong.back() = wrong.back() == 'x' ? 'y' : 'x';
    return wrong;
  }

  static json::object body_of(const HttpResponse& r) { return json::parse(r.body).as_object(); }

  // Asserts an error response: status, code, and a message fragment.
  static void expect_error(const HttpResponse& r, int status, const std::string& code,
                           const std::string& fragment) {
    EXPECT_EQ(r.status, status) << r.body;
    auto body = json::parse(r.body).as_object();
    EXPECT_EQ(body["code"].as_string(), code) << r.body;
    EXPECT_NE(std::string(body["error"].as_string()).find(fragment), std::string::npos) << r.body;
  }

  // The first reference image of the MLP as a JSON infer request.
  std::string mlp_request(const std::string& extra = "") {
    std::string input = read_file(kModels / "fashion-mlp.input.bin");
    json::array data;
    for (int i = 0; i < 784; ++i) {
      float v;
      std::memcpy(&v, input.data() + i * 4, 4);
      data.emplace_back(static_cast<double>(v));
    }
    json::object request{{"id", "req-42"},
                         {"inputs", json::array{json::object{{"name", "image"},
                                                             {"datatype", "FP32"},
                                                             {"shape", json::array{1, 28, 28}},
                                                             {"data", data}}}}};
    std::string text = json::serialize(request);
    if (!extra.empty()) text.insert(text.size() - 1, "," + extra);
    return text;
  }

  std::vector<float> reference_probabilities() {
    std::string out = read_file(kModels / "fashion-mlp.output.bin");
    std::vector<float> p(10);
    std::memcpy(p.data(), out.data(), 40);
    return p;
  }

  std::filesystem::path dir_;
  std::unique_ptr<registry::Registry> registry_;
  BackendManager backends_;
  std::unique_ptr<ModelRepository> models_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Limits> limits_;
  std::unique_ptr<Services> services_;
  int64_t now_ms_ = 1'700'000'000'000;  // the registry's clock, so everyone's
  std::string admin_key_, key_;
};

}  // namespace mg::gateway

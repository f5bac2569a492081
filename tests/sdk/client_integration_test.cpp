// The real modelgate binary on port 0 with a temp data dir, driven over real TLS with the
// client SDK: JSON and binary round trips of the three seed models compared with direct
// execution on the same backend (loaded in this process through the plugin host), and the
// error contract over the wire; the SDK's gRPC transport against the server's gRPC listener,
// its answers compared with the HTTPS ones.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "gateway/plugin_host/backend_manager.h"
#include "modelgate/client.h"
#include "modelgate/grpc_client.h"
#include "tests/common/own_sockets.h"

namespace mg::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kModels = fs::path(MG_EXAMPLES_DIR) / "models";
const std::string kConfig = R"({"max_batch_size": 16})";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  if (pclose(pipe) != 0) throw std::runtime_error("failed: " + command + "\n" + output);
  return output;
}

// A seed model's reference input: name, dtype, shape and bytes.
struct Sample {
  std::string input, dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

Sample sample_of(const std::string& model) {
  auto ref = json::parse(read_file(kModels / (model + ".ref.json"))).as_object();
  Sample s{std::string(ref["input"].as_string()),
           std::string(ref["input_dtype"].as_string()),
           {},
           read_file(kModels / (model + ".input.bin"))};
  for (const auto& d : ref["input_shape"].as_array()) s.shape.push_back(d.as_int64());
  return s;
}

class ClientIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mg::set_log_sink([](mg::LogLevel, std::string_view) {});
    std::string pattern = (fs::temp_directory_path() / "mg_client_XXXXXX").string();
    dir_ = new fs::path(mkdtemp(pattern.data()));
    const fs::path data = *dir_ / "data";
    const std::string modelgate = MG_MODELGATE;
    auto init = json::parse(run(modelgate + " init --json --data-dir " + data.string()));
    std::ifstream key_file(std::string(init.as_object()["admin_key_file"].as_string()));
    std::string key;
    key_file >> key;
    admin_key_ = new std::string(key);
    for (const char* model : {"fashion-mlp", "fashion-cnn", "text-classifier"}) {
      run(modelgate + " import --data-dir " + data.string() + " " + model + " " +
          (kModels / (std::string(model) + ".onnx")).string() + " --config '" + kConfig +
          "' --promote");
    }
    const fs::path log = *dir_ / "serve.log";
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(MG_MODELGATE, MG_MODELGATE, "serve", "--data-dir", data.c_str(), "--listen",
            "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
            "--plugin-dir", MG_PLUGIN_DIR, static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::regex listening("listening on https://127.0.0.1:([0-9]+)");
    for (int i = 0; i < 300 && port_ == 0; ++i) {
      std::smatch match;
      const std::string text = read_file(log);
      if (std::regex_search(text, match, listening)) port_ = std::stoi(match[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_NE(port_, 0) << read_file(log);
    std::smatch grpc_match;
    const std::string serve_log = read_file(log);
    ASSERT_TRUE(std::regex_search(serve_log, grpc_match, std::regex("grpc on 127.0.0.1:([0-9]+)")))
        << serve_log;
    grpc_port_ = std::stoi(grpc_match[1]);
    backends_ = new BackendManager();
    backends_->discover({MG_PLUGIN_DIR});
  }

  static void TearDownTestSuite() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                                 << read_file(*dir_ / "serve.log");
    }
    delete backends_;
    fs::remove_all(*dir_);
    delete dir_;
    delete admin_key_;
  }

  static modelgate::ClientOptions options(const std::string& key) {
    modelgate::ClientOptions o;
    o.server = "https://localhost:" + std::to_string(port_);
    o.api_key = key;
    o.ca_file = (*dir_ / "data" / "tls" / "cert.pem").string();
    return o;
  }

  // The same input run directly on the CPU backend, in this process.
  static OutputTensor direct(const std::string& model, const Sample& sample) {
    const std::string bytes = read_file(kModels / (model + ".onnx"));
    auto loaded = Model::load(backends_->find("cpu"), model,
                              std::as_bytes(std::span(bytes.data(), bytes.size())), "", kConfig);
    auto instance = loaded->create_instance(0);
    BatchInput batch;
    batch.inputs.push_back(TensorRef{sample.input, dtype_from_name(sample.dtype).value(),
                                     sample.shape, sample.bytes.data(), sample.bytes.size()});
    batch.request_rows = {static_cast<uint64_t>(sample.shape[0])};
    BatchOutput out = instance->execute(batch);
    EXPECT_FALSE(out.request_failures[0].has_value());
    return std::move(out.outputs.at(0));
  }

  static modelgate::GrpcClientOptions grpc_options(const std::string& key) {
    modelgate::GrpcClientOptions o;
    o.address = "127.0.0.1:" + std::to_string(grpc_port_);  // an IP: no DNS (c-ares) lookup
    o.api_key = key;
    o.ca_file = (*dir_ / "data" / "tls" / "cert.pem").string();
    return o;
  }

  // A key of a new tenant with the infer scope.
  std::string tenant_key(const std::string& tenant) {
    EXPECT_EQ(
        client_.request("POST", "/admin/v1/tenants", R"({"name":")" + tenant + R"("})").status,
        201);
    const modelgate::Response r = client_.request(
        "POST", "/admin/v1/keys", R"({"tenant":")" + tenant + R"(","scopes":"infer"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).as_object().at("key").as_string());
  }

  modelgate::Client client_{options(*admin_key_)};

  static inline fs::path* dir_ = nullptr;
  static inline std::string* admin_key_ = nullptr;
  static inline pid_t pid_ = 0;
  static inline int port_ = 0;
  static inline int grpc_port_ = 0;
  static inline BackendManager* backends_ = nullptr;
};

TEST_F(ClientIntegrationTest, JsonRoundTripMatchesDirectExecution) {
  const Sample sample = sample_of("fashion-mlp");
  json::array data;
  for (std::size_t i = 0; i < sample.bytes.size(); i += 4) {
    float v;
    std::memcpy(&v, sample.bytes.data() + i, 4);
    data.emplace_back(static_cast<double>(v));
  }
  json::array shape(sample.shape.begin(), sample.shape.end());
  json::object request{
      {"id", "json-1"},
      {"inputs",
       json::array{json::object{
           {"name", sample.input}, {"datatype", sample.dtype}, {"shape", shape}, {"data", data}}}}};
  modelgate::Response r = client_.infer("fashion-mlp", "", json::serialize(request));
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body).as_object();
  EXPECT_EQ(body["id"].as_string(), "json-1");
  const auto& out = body["outputs"].as_array()[0].as_object();
  const OutputTensor expected = direct("fashion-mlp", sample);
  const auto& values = out.at("data").as_array();
  ASSERT_EQ(values.size() * 4, expected.byte_size);
  for (std::size_t i = 0; i < values.size(); ++i) {
    float want;
    std::memcpy(&want, expected.data.get() + 4 * i, 4);
    EXPECT_EQ(static_cast<float>(values[i].to_number<double>()), want) << i;
  }
}

// Binary in, binary out: the bytes are exactly what the backend produces.
TEST_F(ClientIntegrationTest, BinaryRoundTripsMatchDirectExecution) {
  for (const std::string model : {"fashion-cnn", "text-classifier", "fashion-mlp"}) {
    SCOPED_TRACE(model);
    const Sample sample = sample_of(model);
    json::array shape(sample.shape.begin(), sample.shape.end());
    const std::string header = json::serialize(json::object{
        {"inputs", json::array{json::object{
                       {"name", sample.input},
                       {"datatype", sample.dtype},
                       {"shape", shape},
                       {"parameters", json::object{{"binary_data_size", sample.bytes.size()}}}}}},
        {"parameters", json::object{{"binary_data_output", true}}}});
    modelgate::Response r = client_.request(
        "POST", "/v2/models/" + model + "/infer", header + sample.bytes, "application/octet-stream",
        {{"Inference-Header-Content-Length", std::to_string(header.size())}});
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
    const std::size_t json_size = std::stoul(r.header("Inference-Header-Content-Length"));
    const OutputTensor expected = direct(model, sample);
    ASSERT_EQ(r.body.size(), json_size + expected.byte_size);
    EXPECT_EQ(std::memcmp(r.body.data() + json_size, expected.data.get(), expected.byte_size), 0);
  }
}

TEST_F(ClientIntegrationTest, TheErrorContractOverTheWire) {
  auto code_of = [](const modelgate::Response& r) {
    return std::string(json::parse(r.body).as_object().at("code").as_string());
  };
  modelgate::Client anonymous(options(""));
  EXPECT_EQ(anonymous.server_ready().status, 200);
  modelgate::Response r = anonymous.model_metadata("fashion-mlp");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(code_of(r), "missing_credentials");
  modelgate::Client wrong(
      options(admin_key_->substr(0, 55) + (admin_key_->back() == 'a' ? "b" : "a")));
  r = wrong.model_metadata("fashion-mlp");
  EXPECT_EQ(code_of(r), "invalid_key");
  r = client_.model_metadata("nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(code_of(r), "model_not_found");
  r = client_.model_metadata("fashion-mlp", "42");
  EXPECT_EQ(code_of(r), "version_not_found");
  r = client_.infer(
      "fashion-mlp", "",
      R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,2],"data":[1,2]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code_of(r), "bad_request");
  EXPECT_NE(r.body.find("image"), std::string::npos);
  r = client_.request("POST", "/v2/models/fashion-mlp/infer", std::string(65 << 20, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(code_of(r), "payload_too_large");
  // An infer-scope key on the admin API.
  auto key = json::parse(client_.request("POST", "/admin/v1/tenants", R"({"name":"t1"})").body);
  r = client_.request("POST", "/admin/v1/keys", R"({"tenant":"t1","scopes":"infer"})");
  ASSERT_EQ(r.status, 201) << r.body;
  modelgate::Client tenant(
      options(std::string(json::parse(r.body).as_object().at("key").as_string())));
  EXPECT_EQ(tenant.model_metadata("fashion-mlp").status, 200);
  r = tenant.list_models();
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code_of(r), "forbidden");
  // A version that is registered but not loaded.
  ASSERT_EQ(client_.upload_version("fashion-mlp", kModels / "fashion-mlp.onnx").status, 201);
  r = client_.infer("fashion-mlp", "2", "{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(code_of(r), "model_not_ready");
}

// Revocation applies to the very next request, also on a kept-alive connection; the SDK
// signs when asked and the server accepts it.
TEST_F(ClientIntegrationTest, RevocationOnAnOpenConnectionAndSignedRequests) {
  ASSERT_EQ(client_.request("POST", "/admin/v1/tenants", R"({"name":"t2"})").status, 201);
  modelgate::Response created =
      client_.request("POST", "/admin/v1/keys", R"({"tenant":"t2","scopes":"infer"})");
  ASSERT_EQ(created.status, 201);
  const auto issued = json::parse(created.body).as_object();
  const std::string key(issued.at("key").as_string()), id(issued.at("id").as_string());
  modelgate::ClientOptions signed_options = options(key);
  signed_options.sign = true;
  modelgate::Client signer(signed_options);
  EXPECT_EQ(signer.model_metadata("text-classifier").status, 200);
  modelgate::Client tenant(options(key));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(tenant.model_metadata("fashion-mlp").status, 200);
  ASSERT_EQ(client_.request("DELETE", "/admin/v1/keys/" + id).status, 200);
  modelgate::Response after = tenant.model_metadata("fashion-mlp");
  EXPECT_EQ(after.status, 401);
  EXPECT_NE(after.body.find("revoked"), std::string::npos);
  EXPECT_EQ(signer.model_metadata("text-classifier").status, 401);
}

// docs/contracts.md "Version switches" over the wire: two clients infer continuously while the
// default alias moves between two versions 20 times; no request fails.
TEST_F(ClientIntegrationTest, PromotingUnderLoadFailsNoRequest) {
  const std::string request =
      read_file(fs::path(MG_EXAMPLES_DIR) / "requests" / "text-classifier.json");
  modelgate::Response uploaded =
      client_.upload_version("text-classifier", kModels / "text-classifier.onnx");
  ASSERT_EQ(uploaded.status, 201) << uploaded.body;
  const int64_t second = json::parse(uploaded.body).as_object().at("version").as_int64();
  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> load;
  std::mutex first_failure_mutex;
  std::string first_failure;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&] {
      modelgate::Client c(options(*admin_key_));
      while (!done) {
        modelgate::Response r = c.infer("text-classifier", "", request);
        if (r.status == 200) {
          ++answered;
        } else {
          ++failed;
          std::lock_guard lock(first_failure_mutex);
          if (first_failure.empty()) first_failure = r.body;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    const int64_t target = i % 2 == 0 ? second : 1;
    ASSERT_EQ(client_.set_alias("text-classifier", "default", target).status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  done = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(failed, 0) << first_failure;
  EXPECT_GT(answered, 20);
  std::cout << answered << " requests answered during 20 switches\n";
}

TEST_F(ClientIntegrationTest, OneConnectionCarriesManyRequests) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(client_.model_metadata("text-classifier").status, 200);
  }
}

// A request's head and body go out as separate writes; with Nagle's algorithm on, the body
// waited for the server's delayed ACK of the head: ~44 ms per request on a kept-alive
// connection instead of ~0.2 ms (bench/RESULTS.md).
TEST_F(ClientIntegrationTest, TheConnectionSendsWithoutNaglesDelay) {
  ASSERT_EQ(client_.server_ready().status, 200);  // connected
  const int fd = testing::own_socket_with_peer(static_cast<uint16_t>(port_));
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(testing::sends_without_delay(fd));
}

// The SDK's gRPC transport gives what the HTTPS client gives: the same health and metadata
// JSON, and the same outputs for every seed model's request.
TEST_F(ClientIntegrationTest, GrpcTransportAnswersAsHttpsDoes) {
  modelgate::GrpcClient grpc(grpc_options(*admin_key_));
  EXPECT_EQ(json::parse(grpc.server_live().body), json::parse(R"({"live":true})"));
  EXPECT_EQ(json::parse(grpc.server_ready().body), json::parse(R"({"ready":true})"));
  EXPECT_EQ(json::parse(grpc.model_ready("fashion-cnn").body), json::parse(R"({"ready":true})"));
  const auto server = json::parse(grpc.server_metadata().body).as_object();
  const auto server_https = json::parse(client_.request("GET", "/v2").body).as_object();
  EXPECT_EQ(server.at("name"), server_https.at("name"));
  EXPECT_EQ(server.at("extensions"), server_https.at("extensions"));
  for (const std::string model : {"fashion-mlp", "fashion-cnn", "text-classifier"}) {
    SCOPED_TRACE(model);
    const auto metadata = json::parse(grpc.model_metadata(model).body).as_object();
    const auto metadata_https = json::parse(client_.model_metadata(model).body).as_object();
    for (const char* field : {"name", "platform", "inputs", "outputs"})
      EXPECT_EQ(metadata.at(field), metadata_https.at(field)) << field;
  }
  for (const std::string model : {"fashion-mlp", "text-classifier"}) {
    SCOPED_TRACE(model);
    const std::string request =
        read_file(fs::path(MG_EXAMPLES_DIR) / "requests" / (model + ".json"));
    const modelgate::GrpcResponse answer = grpc.infer(model, "", request);
    ASSERT_TRUE(answer.ok()) << answer.message;
    const modelgate::Response https = client_.infer(model, "", request);
    ASSERT_EQ(https.status, 200) << https.body;
    const auto outputs = json::parse(answer.body).as_object().at("outputs").as_array();
    const auto outputs_https = json::parse(https.body).as_object().at("outputs").as_array();
    ASSERT_EQ(outputs.size(), outputs_https.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const auto& a = outputs[i].as_object();
      const auto& b = outputs_https[i].as_object();
      for (const char* field : {"name", "datatype", "shape"}) EXPECT_EQ(a.at(field), b.at(field));
      const auto& got = a.at("data").as_array();
      const auto& want = b.at("data").as_array();
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        EXPECT_EQ(static_cast<float>(got[k].to_number<double>()),
                  static_cast<float>(want[k].to_number<double>()))
            << k;
      }
    }
  }
}

// The binary tensor extension's JSON, with the bytes beside it, goes over gRPC as
// raw_input_contents: the same answer as the same image in JSON.
TEST_F(ClientIntegrationTest, GrpcTransportTakesBinaryInputsAsHttpsDoes) {
  modelgate::GrpcClient grpc(grpc_options(*admin_key_));
  const std::string request =
      read_file(fs::path(MG_EXAMPLES_DIR) / "requests" / "fashion-mlp.json");
  const modelgate::GrpcResponse typed = grpc.infer("fashion-mlp", "", request);
  ASSERT_TRUE(typed.ok()) << typed.message;
  std::string floats;
  const json::value parsed = json::parse(request);  // kept: the loop walks into it
  for (const auto& v : parsed.at("inputs").as_array()[0].at("data").as_array()) {
    const auto f = static_cast<float>(v.to_number<double>());
    floats.append(reinterpret_cast<const char*>(&f), 4);
  }
  const std::string header = R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28],)"
                             R"("parameters":{"binary_data_size":3136}}]})";
  const modelgate::GrpcResponse binary = grpc.infer("fashion-mlp", "", header, floats);
  ASSERT_TRUE(binary.ok()) << binary.message;
  EXPECT_EQ(json::parse(binary.body).at("outputs"), json::parse(typed.body).at("outputs"));
  EXPECT_THROW(grpc.infer("fashion-mlp", "", header, floats + "x"), std::invalid_argument);
  EXPECT_THROW(grpc.infer("fashion-mlp", "",
                          R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],)"
                          R"("parameters":{"binary_data_size":4}},)"
                          R"({"name":"b","datatype":"FP32","shape":[1],"data":[1]}]})",
                          floats.substr(0, 4)),
               std::invalid_argument);  // gRPC: every input binary or none
}

// Refusals come back as answers with the code of docs/grpc.md's table and the code word;
// a signed client works; one client serves many threads at once.
TEST_F(ClientIntegrationTest, GrpcTransportRefusalsSigningAndSharing) {
  modelgate::GrpcClient stranger(grpc_options("mg_notakey"));
  modelgate::GrpcResponse r = stranger.model_metadata("fashion-mlp");
  EXPECT_EQ(r.code, 16);  // UNAUTHENTICATED
  EXPECT_EQ(r.error_code, "invalid_key");
  EXPECT_TRUE(r.body.empty());
  modelgate::GrpcClient admin(grpc_options(*admin_key_));
  r = admin.model_metadata("no-such-model");
  EXPECT_EQ(r.code, 5);  // NOT_FOUND
  EXPECT_EQ(r.error_code, "model_not_found");
  r = admin.infer("fashion-mlp", "",
                  R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,2],"data":[1,2]}]})");
  EXPECT_EQ(r.code, 3);  // INVALID_ARGUMENT
  EXPECT_EQ(r.error_code, "bad_request");
  EXPECT_EQ(admin.call("NoSuchRpc", "").code, 12);  // UNIMPLEMENTED
  EXPECT_THROW(admin.infer("fashion-mlp", "", "{not json"), std::invalid_argument);
  EXPECT_THROW(admin.infer("fashion-mlp", "",
                           R"({"inputs":[{"name":"image","datatype":"FP32",)"
                           R"("shape":[1],"parameters":{"binary_data_size":4}}]})"),
               std::invalid_argument);
  modelgate::GrpcClientOptions nowhere = grpc_options(*admin_key_);
  nowhere.address = "127.0.0.1:1";
  nowhere.timeout = std::chrono::seconds(5);
  r = modelgate::GrpcClient(nowhere).server_live();
  EXPECT_EQ(r.code, 14);  // UNAVAILABLE, from gRPC itself
  EXPECT_TRUE(r.error_code.empty());

  modelgate::GrpcClientOptions signed_options = grpc_options(tenant_key("grpc-sdk"));
  signed_options.sign = true;
  modelgate::GrpcClient signer(signed_options);
  const std::string request =
      read_file(fs::path(MG_EXAMPLES_DIR) / "requests" / "fashion-mlp.json");
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) answered += signer.infer("fashion-mlp", "", request).ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(answered, 100);
}

}  // namespace
}  // namespace mg::gateway

// The router as a pure function: every endpoint and error of this stage, against a real
// registry (temp dir), the real libmg_cpu.so and the seed models. No sockets.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cmath>
#include <future>
#include <mutex>
#include <thread>

#include "common/event_loop.h"
#include "gateway/api/errors.h"
#include "gateway/api/kserve_codec.h"
#include "gateway/http/asio_event_loop.h"
#include "tests/gateway/api/router_fixture.h"

namespace mg::gateway {
namespace {

TEST_F(RouterTest, HealthAndServerMetadata) {
  EXPECT_EQ(call("GET", "/v2/health/live").status, 200);
  EXPECT_EQ(body_of(call("GET", "/v2/health/ready"))["ready"].as_bool(), true);
  auto server = body_of(call("GET", "/v2"));
  EXPECT_EQ(server["name"].as_string(), "modelgate");
  EXPECT_EQ(server["extensions"].as_array()[0].as_string(), "binary_tensor_data");
}

TEST_F(RouterTest, ModelMetadataAndReadiness) {
  auto meta = body_of(call("GET", "/v2/models/fashion-mlp"));
  EXPECT_EQ(meta["name"].as_string(), "fashion-mlp");
  EXPECT_EQ(meta["platform"].as_string(), "cpu");
  auto input = meta["inputs"].as_array()[0].as_object();
  EXPECT_EQ(input["name"].as_string(), "image");
  EXPECT_EQ(input["datatype"].as_string(), "FP32");
  EXPECT_EQ(json::serialize(input["shape"]), "[-1,28,28]");
  EXPECT_EQ(call("GET", "/v2/models/fashion-mlp/versions/1").status, 200);
  EXPECT_EQ(body_of(call("GET", "/v2/models/fashion-mlp/ready"))["ready"].as_bool(), true);
  EXPECT_EQ(
      body_of(call("GET", "/v2/models/fashion-mlp/versions/default/ready"))["ready"].as_bool(),
      true);
}

TEST_F(RouterTest, JsonInferenceMatchesTheReference) {
  HttpResponse r = call("POST", "/v2/models/fashion-mlp/infer", mlp_request());
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = body_of(r);
  EXPECT_EQ(body["id"].as_string(), "req-42");
  EXPECT_EQ(body["model_name"].as_string(), "fashion-mlp");
  EXPECT_EQ(body["model_version"].as_string(), "1");
  auto out = body["outputs"].as_array()[0].as_object();
  EXPECT_EQ(out["name"].as_string(), "probabilities");
  EXPECT_EQ(json::serialize(out["shape"]), "[1,10]");
  auto expected = reference_probabilities();
  auto data = out["data"].as_array();
  ASSERT_EQ(data.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(data[i].to_number<double>(), expected[i], 1e-6);
}

// On a socket thread (the server's own Asio event loop; no sockets), the inference requests
// taken while the handlers that were ready together run are gathered and run as one batch
// once those handlers have run; each caller gets its own image's answer. A request taken
// alone later runs alone.
TEST_F(RouterTest, RequestsTakenTogetherOnASocketThreadShareOneBatch) {
  const std::string images = read_file(kModels / "fashion-mlp.input.bin");
  const std::string expected = read_file(kModels / "fashion-mlp.output.bin");
  auto request_for = [&](int image) {
    json::array data;
    for (int i = 0; i < 784; ++i) {
      float v;
      std::memcpy(&v, images.data() + (image * 784 + i) * 4, 4);
      data.emplace_back(static_cast<double>(v));
    }
    json::object body{{"id", "img-" + std::to_string(image)},
                      {"inputs", json::array{json::object{{"name", "image"},
                                                          {"datatype", "FP32"},
                                                          {"shape", json::array{1, 28, 28}},
                                                          {"data", data}}}}};
    return HttpRequest{"POST",
                       "/v2/models/fashion-mlp/infer",
                       {{"Authorization", "Bearer " + key_}},
                       json::serialize(body)};
  };
  const auto version = models_->find("fashion-mlp", 1);
  ASSERT_NE(version, nullptr);
  boost::asio::io_context context;
  auto loop = make_event_loop(context);
  EventLoop::set_current(loop.get());
  constexpr int kTogether = 5;
  std::vector<std::optional<HttpResponse>> answers(kTogether + 1);
  auto take = [&](int image) {
    route_async(request_for(image), *services_,
                [&answers, image](HttpResponse r) { answers[image] = std::move(r); });
  };
  boost::asio::post(context, [&] {  // one pass of ready handlers
    for (int image = 0; image < kTogether; ++image) take(image);
  });
  context.run();
  EXPECT_EQ(version->batcher().batches_run(), 1u);
  EXPECT_EQ(version->batcher().rows_run(), static_cast<uint64_t>(kTogether));
  context.restart();
  boost::asio::post(context, [&] { take(kTogether); });
  context.run();
  EventLoop::set_current(nullptr);
  EXPECT_EQ(version->batcher().batches_run(), 2u);
  for (int image = 0; image <= kTogether; ++image) {
    ASSERT_TRUE(answers[image]) << image;
    ASSERT_EQ(answers[image]->status, 200) << answers[image]->body;
    auto body = body_of(*answers[image]);
    EXPECT_EQ(body["id"].as_string(), "img-" + std::to_string(image));
    auto out = body["outputs"].as_array()[0].as_object();
    EXPECT_EQ(json::serialize(out["shape"]), "[1,10]");
    auto data = out["data"].as_array();
    ASSERT_EQ(data.size(), 10u);
    for (int k = 0; k < 10; ++k) {
      float want;
      std::memcpy(&want, expected.data() + (image * 10 + k) * 4, 4);
      EXPECT_NEAR(data[k].to_number<double>(), want, 1e-5) << image << ":" << k;
    }
  }
}

TEST_F(RouterTest, VersionsAndAliasesInThePath) {
  registry_->set_alias("fashion-mlp", "production", 1, "test");
  for (const char* target : {"/v2/models/fashion-mlp/versions/1/infer",
                             "/v2/models/fashion-mlp/versions/production/infer"}) {
    EXPECT_EQ(call("POST", target, mlp_request()).status, 200) << target;
  }
}

TEST_F(RouterTest, NestedDataIsAccepted) {
  json::array rows;
  for (int r = 0; r < 28; ++r) {
    json::array row;
    for (int c = 0; c < 28; ++c) row.emplace_back(0.0);
    rows.emplace_back(row);
  }
  json::object request{{"inputs", json::array{json::object{{"name", "image"},
                                                           {"datatype", "FP32"},
                                                           {"shape", json::array{1, 28, 28}},
                                                           {"data", json::array{rows}}}}}};
  EXPECT_EQ(call("POST", "/v2/models/fashion-mlp/infer", json::serialize(request)).status, 200);
}

TEST_F(RouterTest, BinaryTensorsBothWays) {
  std::string image = read_file(kModels / "fashion-mlp.input.bin").substr(0, 784 * 4);
  std::string header = R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28],)"
                       R"("parameters":{"binary_data_size":3136}}],)"
                       R"("outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]})";
  HttpResponse r = call("POST", "/v2/models/fashion-mlp/infer", header + image,
                        {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::size_t json_size = 0;
  for (const auto& [k, v] : r.headers) {
    if (k == "Inference-Header-Content-Length") json_size = std::stoul(v);
  }
  ASSERT_GT(json_size, 0u);
  auto meta = json::parse(r.body.substr(0, json_size)).as_object();
  auto out = meta["outputs"].as_array()[0].as_object();
  EXPECT_EQ(out["parameters"].as_object()["binary_data_size"].as_int64(), 40);
  ASSERT_EQ(r.body.size(), json_size + 40);
  std::vector<float> p(10);
  std::memcpy(p.data(), r.body.data() + json_size, 40);
  auto expected = reference_probabilities();
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(p[i], expected[i], 1e-6);
}

// Binary tensor bytes sit after a JSON header of any length: the decoder hands them on as
// a view into the body, unchanged and uncopied, and the request is answered whatever the
// offset (the plugin host aligns them: BackendExecute.MisalignedInputsReachTheBackendAligned).
TEST_F(RouterTest, BinaryInputsAreDecodedInPlaceAtAnyOffset) {
  const std::string image = read_file(kModels / "fashion-mlp.input.bin").substr(0, 784 * 4);
  for (int pad = 0; pad < 16; ++pad) {
    const std::string header = R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28],)"
                               R"("parameters":{"binary_data_size":3136}}]})" +
                               std::string(pad, ' ');
    HttpRequest request{"POST",
                        "/v2/models/fashion-mlp/infer",
                        {{"Inference-Header-Content-Length", std::to_string(header.size())},
                         {"Authorization", "Bearer " + key_}},
                        header + image};
    const InferRequest decoded = decode_infer_request(request);
    EXPECT_EQ(static_cast<const void*>(decoded.inputs[0].data.data()),
              static_cast<const void*>(request.body.data() + header.size()))
        << pad;
    EXPECT_EQ(route(request, *services_).status, 200) << pad;
  }
}

// Found by kserve_binary_fuzzer: a binary_data_size that disagrees with the shape and
// datatype was accepted by the decoder (the router's metadata check caught it later).
TEST_F(RouterTest, BinaryDataSizeMustMatchShapeAndDatatype) {
  auto decode = [](const std::string& header, std::size_t body_bytes) {
    HttpRequest request{"POST",
                        "/v2/models/m/infer",
                        {{"Inference-Header-Content-Length", std::to_string(header.size())}},
                        header + std::string(body_bytes, '\0')};
    return decode_infer_request(request);
  };
  const std::string fp64 = R"({"inputs":[{"name":"x","datatype":"FP64","shape":[2,3],)"
                           R"("parameters":{"binary_data_size":24}}]})";
  try {
    decode(fp64, 24);
    FAIL() << "24 bytes for six FP64 values were accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("input 'x': binary_data_size 24 is not the 48 bytes"),
              std::string::npos)
        << e.what();
  }
  const std::string huge =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[4294967296,4294967296],)"
      R"("parameters":{"binary_data_size":0}}]})";
  EXPECT_THROW(decode(huge, 0), ApiError);
  const std::string fine = R"({"inputs":[{"name":"x","datatype":"FP64","shape":[2,3],)"
                           R"("parameters":{"binary_data_size":48}}]})";
  EXPECT_EQ(decode(fine, 48).inputs[0].data.size(), 48u);
}

// JSON outputs print each number as the shortest text that reads back to the same value
// of its own type (0.1 for 0.1f, not 0.10000000149011612); NaN and infinities as null;
// strings escaped.
TEST(KServeEncoding, ResponsesPrintShortestNumbersAndEscapeStrings) {
  const float floats[] = {0.1f, 2.0f, -1e-5f, std::nanf(""), INFINITY};
  const int8_t small[] = {-128, 127};
  const uint8_t bytes[] = {0, 255};
  const std::byte flags[] = {std::byte{1}, std::byte{0}};
  const char text[] = "\x05\0\0\0a\"b\\c\x02\0\0\0\n\x01";
  auto span_of = [](const auto& values) { return std::as_bytes(std::span(values)); };
  std::vector<InferOutput> outputs = {
      {"f", DType::kFp32, {5}, span_of(floats)},
      {"i8", DType::kInt8, {2}, span_of(small)},
      {"u8", DType::kUint8, {2}, span_of(bytes)},
      {"b", DType::kBool, {2}, span_of(flags)},
      {"s", DType::kBytes, {2}, std::as_bytes(std::span(text, sizeof text - 1))}};
  const HttpResponse r = encode_infer_response("m\"x", 3, "id-1", outputs);
  EXPECT_EQ(r.body,
            R"({"model_name":"m\"x","model_version":"3","id":"id-1","outputs":[)"
            R"({"name":"f","datatype":"FP32","shape":[5],"data":[0.1,2,-1e-05,null,null]},)"
            R"({"name":"i8","datatype":"INT8","shape":[2],"data":[-128,127]},)"
            R"({"name":"u8","datatype":"UINT8","shape":[2],"data":[0,255]},)"
            R"({"name":"b","datatype":"BOOL","shape":[2],"data":[true,false]},)"
            R"({"name":"s","datatype":"BYTES","shape":[2],"data":["a\"b\\c","\u000a\u0001"]}]})");
  EXPECT_NO_THROW(boost::json::parse(r.body));
}

TEST_F(RouterTest, BadRequestsNameTheInputAndWhatWasExpected) {
  const std::string target = "/v2/models/fashion-mlp/infer";
  expect_error(call("POST", target, "{not json"), 400, "bad_request", "not valid JSON");
  expect_error(call("POST", target, "[]"), 400, "bad_request", "JSON object");
  expect_error(call("POST", target, R"({"inputs":[]})"), 400, "bad_request", "non-empty");
  auto with_input = [&](const std::string& input) {
    return call("POST", target, R"({"inputs":[)" + input + "]}");
  };
  expect_error(with_input(R"({"name":"image","datatype":"INT64","shape":[1,28,28],"data":[0]})"),
               400, "bad_request", "input 'image'");
  expect_error(with_input(R"({"name":"image","datatype":"FP32","shape":[1,28,28],"data":[1,2,3]})"),
               400, "bad_request", "needs 784 elements");
  std::string zeros(784 * 2 - 1, '0');
  for (std::size_t i = 1; i < zeros.size(); i += 2) zeros[i] = ',';
  expect_error(
      with_input(R"({"name":"image","datatype":"INT64","shape":[1,28,28],"data":[)" + zeros + "]}"),
      400, "bad_request", "expected dtype FP32, got INT64");
  expect_error(
      with_input(R"({"name":"image","datatype":"FP32","shape":[1,784],"data":[)" + zeros + "]}"),
      400, "bad_request", "expected shape [-1, 28, 28]");
  expect_error(with_input(R"({"name":"pixels","datatype":"FP32","shape":[1],"data":[1]})"), 400,
               "bad_request", "'pixels' is not an input of this model (inputs: 'image')");
  expect_error(with_input(R"({"name":"image","datatype":"FLOAT","shape":[1],"data":[1]})"), 400,
               "bad_request", "unknown datatype 'FLOAT'");
  expect_error(with_input(R"({"name":"image","datatype":"FP32","shape":[1,28,28],"data":[)" +
                          zeros.substr(2) + R"(,"x"]})"),
               400, "bad_request", "element 783 is not a number");
  expect_error(call("POST", target, mlp_request(R"("outputs":[{"name":"logits"}])")), 400,
               "bad_request", "'logits' is not an output");
  expect_error(
      call("POST", target, mlp_request(), {{"Inference-Header-Content-Length", "99999999"}}), 400,
      "bad_request", "Inference-Header-Content-Length");
}

TEST_F(RouterTest, OversizedBatchIsRefused) {
  std::string zeros;
  for (int i = 0; i < 9 * 784; ++i) zeros += i ? ",0" : "0";
  expect_error(call("POST", "/v2/models/fashion-mlp/infer",
                    R"({"inputs":[{"name":"image","datatype":"FP32","shape":[9,28,28],"data":[)" +
                        zeros + "]}]}"),
               400, "bad_request", "exceeds the model's max batch size 8");
}

TEST_F(RouterTest, BackendRefusalOfAValueIsABadRequest) {
  std::string tokens = "5";
  for (int i = 1; i < 32; ++i) tokens += i == 3 ? ",999999" : ",5";
  expect_error(call("POST", "/v2/models/text-classifier/infer",
                    R"({"inputs":[{"name":"tokens","datatype":"INT64","shape":[1,32],"data":[)" +
                        tokens + "]}]}"),
               400, "bad_request", "out of range");
}

TEST_F(RouterTest, UnknownModelVersionAndUnloadedVersion) {
  expect_error(call("POST", "/v2/models/nope/infer", mlp_request()), 404, "model_not_found",
               "no model 'nope'");
  expect_error(call("POST", "/v2/models/fashion-mlp/versions/7/infer", mlp_request()), 404,
               "version_not_found", "no version or alias '7'");
  expect_error(call("GET", "/v2/models/fashion-mlp/versions/canary"), 404, "version_not_found",
               "'canary'");
  models_->unload("fashion-mlp", 1, "test");
  expect_error(call("POST", "/v2/models/fashion-mlp/infer", mlp_request()), 503, "model_not_ready",
               "not loaded");
  // KServe v2: readiness is the status code, which is all tritonclient's is_model_ready reads.
  expect_error(call("GET", "/v2/models/fashion-mlp/ready"), 503, "model_not_ready", "not loaded");
}

// A misspelt isolation fails the load with its reason instead of running the plugin inline.
TEST_F(RouterTest, AMisspeltIsolationFailsTheLoad) {
  register_model("typo", "cpu", "any bytes", R"({"isolation": "proces"})");
  try {
    models_->load("typo", 1, "test");
    FAIL() << "loaded with isolation \"proces\"";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.code(), MG_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("\"isolation\" must be"), std::string::npos) << e.what();
  }
  const auto version = registry_->find_version("typo", 1);
  EXPECT_EQ(version->state, registry::VersionState::kFailed);
  EXPECT_NE(version->state_reason.find("isolation"), std::string::npos);
  register_model("slow", "cpu", "any bytes", R"({"batch_timeout_ms": 0})");
  EXPECT_THROW(models_->load("slow", 1, "test"), BackendError);
}

// The server is not ready while a version an alias serves is not loaded (here: it failed
// to load); it is again once it loads. The answer names no model (no key is needed).
TEST_F(RouterTest, ServerIsNotReadyWhileAnAliasedVersionIsNotLoaded) {
  EXPECT_EQ(call("GET", "/v2/health/ready", "", {{"X-None", ""}}).status, 200);
  register_model("broken", "cpu", "not an onnx model", "{}");
  EXPECT_ANY_THROW(models_->load("broken", 1, "test"));
  HttpResponse r = route(HttpRequest{"GET", "/v2/health/ready", {}, ""}, *services_);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(body_of(r)["ready"].as_bool(), false);
  EXPECT_EQ(r.body.find("broken"), std::string::npos) << r.body;
  EXPECT_EQ(call("GET", "/v2/health/live").status, 200);  // alive all the same
  models_->unload("text-classifier", 1, "test");
  EXPECT_EQ(body_of(call("GET", "/v2/health/ready"))["error"].as_string(),
            "2 aliased model version(s) are not loaded or not ready (see the server log and "
            "`mgctl model list`)");
}

// A 500 tells the tenant nothing of the cause; the server log gets the cause with the
// request id, so an operator can find it from the client's X-Request-Id.
TEST_F(RouterTest, EveryServerErrorIsLoggedWithItsRequestId) {
  std::vector<std::string> lines;
  std::mutex lines_mutex;
  const mg::LogSink previous = mg::set_log_sink([&](mg::LogLevel, std::string_view line) {
    std::lock_guard lock(lines_mutex);
    lines.emplace_back(line);
  });
  BackendManager test_backends;
  test_backends.discover({MG_TEST_PLUGIN_DIR});
  ModelRepository test_models(*registry_, test_backends);
  test_models.set_worker_binary(MG_WORKER_BINARY);  // test_good runs out of process
  register_model("failing", "test_good", "TESTMODEL weights", R"({"mode": "fail_execute"})");
  test_models.load("failing", 1, "test");
  Services services{*registry_, test_models, test_backends, *auth_, "test"};
  HttpResponse r = route(
      HttpRequest{"POST",
                  "/v2/models/failing/infer",
                  {{"Authorization", "Bearer " + key_}, {"X-Request-Id", "trace-500"}},
                  R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]})"},
      services);
  mg::set_log_sink(previous);
  expect_error(r, 500, "internal", "the model failed to run this request");
  EXPECT_EQ(r.body.find("on purpose"), std::string::npos) << r.body;  // the cause stays inside
  bool logged = false;
  for (const auto& line : lines) {
    logged = logged || (line.find("trace-500") != std::string::npos &&
                        line.find("execute failed on purpose") != std::string::npos);
  }
  EXPECT_TRUE(logged) << "no log line with the request id and the cause";
}

// A model in a worker process runs inline on an HTTPS socket thread (route_async answers
// it later from that thread's event loop), but a listener without an event loop (gRPC)
// must not take it on its own thread: route() would wait there for the worker.
TEST_F(RouterTest, AWorkerModelIsNotAnsweredAtOnce) {
  BackendManager test_backends;
  test_backends.discover({MG_TEST_PLUGIN_DIR});
  ModelRepository test_models(*registry_, test_backends);
  test_models.set_worker_binary(MG_WORKER_BINARY);  // test_good runs out of process
  register_model("remote", "test_good", "TESTMODEL weights", "{}");
  test_models.load("remote", 1, "test");
  Services services{*registry_, test_models, test_backends, *auth_, "test"};
  const HttpRequest infer{
      "POST",
      "/v2/models/remote/infer",
      {{"Authorization", "Bearer " + key_}},
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]})"};
  EXPECT_TRUE(runs_inline(infer, services));
  EXPECT_FALSE(answers_at_once(infer, services));
  // Reads and refusals are answered at once either way.
  const HttpRequest read{"GET", "/v2/models/remote", {{"Authorization", "Bearer " + key_}}, ""};
  EXPECT_TRUE(answers_at_once(read, services));
  HttpRequest unknown = infer;
  unknown.target = "/v2/models/no-such-model/infer";
  EXPECT_TRUE(answers_at_once(unknown, services));
}

// The JSON part of an infer request is capped (JSON costs ~13x its size to decode); the
// binary extension carries large tensors past the cap. Large bodies never run inline.
TEST_F(RouterTest, JsonPartsAreCappedAndLargeBodiesNeverRunInline) {
  services_->max_json_bytes = 1000;
  const std::string json = mlp_request();  // ~5 kB of JSON
  expect_error(call("POST", "/v2/models/fashion-mlp/infer", json), 413, "payload_too_large",
               "binary tensor extension");
  // The same image as binary data after a small JSON header passes.
  std::string input = read_file(kModels / "fashion-mlp.input.bin").substr(0, 784 * 4);
  const std::string header = R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28],)"
                             R"("parameters":{"binary_data_size":3136}}]})";
  HttpResponse binary = call("POST", "/v2/models/fashion-mlp/infer", header + input,
                             {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  EXPECT_EQ(binary.status, 200) << binary.body;
  services_->max_json_bytes = std::size_t{8} << 20;
  EXPECT_EQ(call("POST", "/v2/models/fashion-mlp/infer", json).status, 200);
  // A fast model's small request may run on the socket thread; a large one never does.
  ASSERT_EQ(call("POST", "/v2/models/fashion-mlp/infer", json).status, 200);  // measured
  // (Whether the model counts as fast depends on this machine's speed: under a sanitizer it
  // may not, and then neither request runs inline.)
  HttpRequest small{"POST", "/v2/models/fashion-mlp/infer", {}, json};
  HttpRequest large{"POST", "/v2/models/fashion-mlp/infer", {}, std::string(100 << 10, ' ')};
  if (runs_inline(small, *services_)) {
    EXPECT_FALSE(runs_inline(large, *services_));
  }
}

// An inference wait has a deadline: a request still waiting for its batch when it passes
// is taken out of the queue (it never runs) and answered 503 deadline_exceeded.
TEST_F(RouterTest, AnInferenceWaitHasADeadline) {
  add_model_file(
      "waiting", kModels / "fashion-mlp.onnx",
      R"({"max_batch_size": 8, "preferred_batch_sizes": [8], "max_queue_delay_us": 10000000})",
      true);
  services_->inference_timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  expect_error(call("POST", "/v2/models/waiting/infer", mlp_request()), 503, "deadline_exceeded",
               "did not start this request within 300 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(9));  // not 10 s
  EXPECT_EQ(models_->find("waiting", 1)->batcher().batches_run(), 0u);  // and it never ran
  // A model that answers in time is not affected by the deadline.
  EXPECT_EQ(call("POST", "/v2/models/fashion-mlp/infer", mlp_request()).status, 200);
}

// A caller's own deadline (a gRPC call's) shortens the wait: a request still queued when
// it passes is taken out (it never runs) and answered 503 deadline_exceeded.
TEST_F(RouterTest, ACallersDeadlineDropsAQueuedRequest) {
  add_model_file(
      "waiting", kModels / "fashion-mlp.onnx",
      R"({"max_batch_size": 8, "preferred_batch_sizes": [8], "max_queue_delay_us": 10000000})",
      true);
  HttpRequest request{
      "POST", "/v2/models/waiting/infer", {{"Authorization", "Bearer " + key_}}, mlp_request()};
  const auto started = std::chrono::steady_clock::now();
  request.deadline = started + std::chrono::milliseconds(200);
  expect_error(route(request, *services_), 503, "deadline_exceeded", "the call's deadline");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(9));  // not 10 s
  EXPECT_EQ(models_->find("waiting", 1)->batcher().batches_run(), 0u);  // and it never ran
  // A deadline far off changes nothing.
  request.target = "/v2/models/fashion-mlp/infer";
  request.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  EXPECT_EQ(route(request, *services_).status, 200);
}

// While other tenants have requests in flight, one tenant holds at most its concurrency
// cap; alone on the server it is not capped.
TEST_F(RouterTest, OneTenantCannotHoldEveryWorkerWhileOthersWait) {
  add_model_file(
      "waiting", kModels / "fashion-mlp.onnx",
      R"({"max_batch_size": 8, "preferred_batch_sizes": [4], "max_queue_delay_us": 10000000})",
      true);
  registry_->create_tenant("beta", 0, registry::QuotaPeriod::kMonth, "test");
  const std::string beta = auth_->issue_key(KeySpec{"beta", registry::kScopeInfer}, "test").key;
  limits_->concurrency.set_cap(2);
  auto infer_as = [&](const std::string& key) {
    return std::async(std::launch::async, [this, key] {
      return call("POST", "/v2/models/waiting/infer", mlp_request(),
                  {{"Authorization", "Bearer " + key}});
    });
  };
  auto wait_for = [&](const std::string& tenant, std::size_t n) {
    for (int i = 0; i < 1000 && limits_->concurrency.in_flight(tenant) < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(limits_->concurrency.in_flight(tenant), n);
  };
  // A tenant alone is not capped: three in flight (the batch waits for a fourth row).
  std::vector<std::future<HttpResponse>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(infer_as(key_));
  wait_for("acme", 3);
  calls.push_back(infer_as(beta));  // the fourth row: the batch runs
  for (auto& c : calls) EXPECT_EQ(c.get().status, 200);
  calls.clear();
  EXPECT_EQ(limits_->concurrency.in_flight("acme"), 0u);
  // Now with another tenant waiting: acme, at its cap of 2, is refused at once.
  for (int i = 0; i < 2; ++i) calls.push_back(infer_as(key_));
  wait_for("acme", 2);
  calls.push_back(infer_as(beta));
  wait_for("beta", 1);
  expect_error(call("POST", "/v2/models/waiting/infer", mlp_request()), 429, "rate_limited",
               "inference requests in flight");
  calls.push_back(infer_as(beta));  // the fourth row: the batch runs, everyone is answered
  for (auto& c : calls) EXPECT_EQ(c.get().status, 200);
}

// /v2/models/config is never the metadata of a model named "config": the names KServe and
// Triton paths use cannot be model names (/v2/models/stats is the statistics extension).
TEST_F(RouterTest, TritonExtensionPathsAreNotModelNames) {
  for (const char* target : {"/v2/models/trace", "/v2/models/config", "/v2/models/ready"}) {
    expect_error(call("GET", target), 404, "not_found", "extension");
  }
  for (const char* name : {"stats", "config", "ready", "versions", "infer"}) {
    expect_error(admin("POST", "/admin/v1/models", std::string(R"({"name":")") + name + "\"}"), 400,
                 "bad_request", "reserved");
  }
  EXPECT_EQ(call("GET", "/v2/models/fashion-mlp").status, 200);
}

// docs/contracts.md "Version switches": continuous inference while the default alias moves back
// and forth 20 times between two versions; not one request may fail, and both versions
// must have answered.
TEST_F(RouterTest, PromotingUnderLoadFailsNoRequest) {
  std::string bytes = read_file(kModels / "fashion-mlp.onnx");
  auto artifact = registry_->artifacts().put(std::as_bytes(std::span(bytes.data(), bytes.size())));
  registry_->add_version("fashion-mlp", artifact, "v2", "test");
  const std::string request = mlp_request();
  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, failed{0}, served_by_v2{0};
  std::string first_failure;
  std::mutex failure_mutex;
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&] {
      while (!done.load()) {
        HttpResponse r = call("POST", "/v2/models/fashion-mlp/infer", request);
        if (r.status == 200) {
          ++ok;
          if (r.body.find(R"("model_version":"2")") != std::string::npos) ++served_by_v2;
        } else {
          ++failed;
          std::lock_guard lock(failure_mutex);
          if (first_failure.empty()) first_failure = r.body;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i)
    models_->switch_alias("fashion-mlp", "default", i % 2 ? 1 : 2, "test");
  done = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(ok.load(), 20);
  EXPECT_GT(served_by_v2.load(), 0);
  EXPECT_EQ(registry_->resolve("fashion-mlp", "default"), 1);
  // The version the alias left was unloaded.
  EXPECT_EQ(models_->find("fashion-mlp", 2), nullptr);
  std::printf("%d requests during 20 switches, %d answered by version 2\n", ok.load(),
              served_by_v2.load());
}

TEST_F(RouterTest, UnknownEndpointsAndMethods) {
  EXPECT_EQ(call("GET", "/v3/anything").status, 404);
  EXPECT_EQ(call("GET", "/v2/models/fashion-mlp/infer").status, 405);
  EXPECT_EQ(call("POST", "/v2/health/live").status, 405);
}

}  // namespace
}  // namespace mg::gateway

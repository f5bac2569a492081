// What the KServe v2 JSON codec costs per request (the speed targets): decoding a batch-1
// MLP request (the committed Fashion-MNIST example, mostly "0.0", and the same shape with
// 784 dense random floats) and encoding its 10-float response, without HTTP or a model.
// Reference in the same run: Boost.JSON (the decoder before simdjson) only parsing the
// same texts into a tree, without reading a single number out of it.
// Run: build/bench/kserve_codec_bench
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "gateway/api/kserve_codec.h"

namespace {

using namespace mg::gateway;

HttpRequest request_with(std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.target = "/v2/models/fashion-mlp/infer";
  request.body = std::move(body);
  return request;
}

std::string example_body() {
  std::ifstream in(MG_EXAMPLES_DIR "/requests/fashion-mlp.json", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// 784 uniform floats in [0, 1), each printed in its shortest form (~10 characters).
std::string dense_body() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
  std::string body =
      R"({"id":"dense","inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28],"data":[)";
  for (int i = 0; i < 784; ++i) {
    char buffer[32];
    auto end = std::to_chars(buffer, buffer + sizeof buffer, uniform(rng)).ptr;
    if (i > 0) body += ',';
    body.append(buffer, end);
  }
  return body + "]}]}";
}

void decode(benchmark::State& state, const HttpRequest& request) {
  for (auto _ : state) {
    InferRequest decoded = decode_infer_request(request);
    benchmark::DoNotOptimize(decoded.inputs.front().data.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(request.body.size()));
}

void BM_DecodeExampleMlpRequest(benchmark::State& state) {
  decode(state, request_with(example_body()));
}
BENCHMARK(BM_DecodeExampleMlpRequest);

void BM_DecodeDenseMlpRequest(benchmark::State& state) {
  decode(state, request_with(dense_body()));
}
BENCHMARK(BM_DecodeDenseMlpRequest);

void parse_with_boost_json(benchmark::State& state, const std::string& body) {
  for (auto _ : state) {
    boost::json::value tree = boost::json::parse(body);
    benchmark::DoNotOptimize(&tree);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(body.size()));
}

void BM_BoostJsonTreeOfExampleRequest(benchmark::State& state) {
  parse_with_boost_json(state, example_body());
}
BENCHMARK(BM_BoostJsonTreeOfExampleRequest);

void BM_BoostJsonTreeOfDenseRequest(benchmark::State& state) {
  parse_with_boost_json(state, dense_body());
}
BENCHMARK(BM_BoostJsonTreeOfDenseRequest);

void BM_EncodeMlpResponse(benchmark::State& state) {
  std::vector<float> logits = {-3.25F, 0.125F, 7.5F, -1.0F, 2.71828F,
                               0.1F,   -0.2F,  3.3F, 4.4F,  -5.55F};
  std::vector<InferOutput> outputs(1);
  outputs[0].name = "logits";
  outputs[0].dtype = DType::kFp32;
  outputs[0].shape = {1, 10};
  outputs[0].data = std::as_bytes(std::span(logits));
  for (auto _ : state) {
    HttpResponse response = encode_infer_response("fashion-mlp", 1, "first-test-image", outputs);
    benchmark::DoNotOptimize(response.body.data());
  }
}
BENCHMARK(BM_EncodeMlpResponse);

}  // namespace

BENCHMARK_MAIN();

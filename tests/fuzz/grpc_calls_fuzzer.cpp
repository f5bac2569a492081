// Fuzzes the gRPC listener's translation of calls: the first byte picks the RPC, the rest
// is the request message as a client sends it. Every message must translate to an HTTP
// request or a refusal with a status code (never a crash or a silent OK without a
// request); a translated infer request's JSON header must be as long as it says. The same
// bytes are also read as a router answer (status 200, an Inference-Header-Content-Length
// from the first bytes) and translated back, which must not crash either.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/grpc/grpc_calls.h"
#include "tests/fuzz/fuzz_finding.h"

using namespace mg::gateway;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr const char* kPaths[] = {
      "/inference.GRPCInferenceService/ModelInfer",
      "/inference.GRPCInferenceService/ModelStreamInfer",
      "/inference.GRPCInferenceService/ModelMetadata",
      "/inference.GRPCInferenceService/ModelReady",
      "/inference.GRPCInferenceService/ServerMetadata",
      "/inference.GRPCInferenceService/ModelConfig",
      "/inference.GRPCInferenceService/ModelStatistics",
      "/inference.GRPCInferenceService/RepositoryIndex",
      "/inference.GRPCInferenceService/RepositoryModelLoad",
      "/inference.GRPCInferenceService/NotServed",
  };
  const std::string_view path = kPaths[data[0] % std::size(kPaths)];
  const Rpc rpc = rpc_of(path);
  const std::string_view message(reinterpret_cast<const char*>(data + 1), size - 1);
  const Translated t = translate_request(rpc, path, message, {{"authorization", "Bearer x"}});
  if (t.refusal.ok()) {
    if (t.request.target.empty()) mg::fuzz::finding("translated without a target");
    if (t.request.target.find_first_of("?# ") != std::string::npos)
      mg::fuzz::finding("a name reached the target unencoded");
    // A bearer call carries no signed form (its message is not hashed); the same call
    // signed covers the RPC's path and the message's digest.
    if (t.request.signed_as) mg::fuzz::finding("a bearer call hashed");
    const Translated signed_call =
        translate_request(rpc, path, message, {{"x-mg-key-id", "k"}, {"x-mg-signature", "s"}});
    if (!signed_call.request.signed_as || signed_call.request.signed_as->target != path ||
        signed_call.request.signed_as->body_sha256_hex.size() != 64) {
      mg::fuzz::finding("a signed call without its signed form");
    }
    const std::string_view length = t.request.header("Inference-Header-Content-Length");
    if (!length.empty() && std::stoull(std::string(length)) > t.request.body.size())
      mg::fuzz::finding("the JSON header is longer than the body");
  } else if (t.refusal.code == 0) {
    mg::fuzz::finding("a refusal with status OK");
  }
  HttpResponse answer;
  answer.body = std::string(message);
  answer.headers.emplace_back("Inference-Header-Content-Length",
                              std::to_string(size > 2 ? data[1] : 0));
  const CallAnswer back = translate_response(rpc, answer, "id");
  if (!back.status.ok() && back.status.code == 0) mg::fuzz::finding("an error with status OK");
  answer.status = 429;
  if (status_of_error(answer).code != 8) mg::fuzz::finding("429 is not RESOURCE_EXHAUSTED");
  return 0;
}

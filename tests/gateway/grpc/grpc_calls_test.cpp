// A call's request message as the HTTP request it stands for (gateway/grpc/grpc_calls.h):
// the metadata that travels as headers, and what a signature covers.
#include "gateway/grpc/grpc_calls.h"

#include <grpc_service.pb.h>
#include <gtest/gtest.h>

#include "registry/sha256.h"

namespace mg::gateway {
namespace {

constexpr std::string_view kModelInfer = "/inference.GRPCInferenceService/ModelInfer";

std::string infer_message() {
  inference::ModelInferRequest call;
  call.set_model_name("fashion-mlp");
  auto* input = call.add_inputs();
  input->set_name("image");
  input->set_datatype("FP32");
  input->add_shape(1);
  input->add_shape(2);
  call.add_raw_input_contents(std::string(8, '\0'));
  return call.SerializeAsString();
}

const std::pair<std::string, std::string>* find(const HttpRequest& request, std::string_view name) {
  for (const auto& header : request.headers)
    if (header.first == name) return &header;
  return nullptr;
}

TEST(GrpcCalls, ABearerCallCarriesItsKeyAndNoDigest) {
  const std::string message = infer_message();
  const Translated t = translate_request(
      Rpc::kModelInfer, kModelInfer, message,
      {{":authority", "localhost"}, {"grpc-timeout", "1S"}, {"authorization", "Bearer k"}});
  ASSERT_TRUE(t.refusal.ok()) << t.refusal.message;
  EXPECT_EQ(t.request.method, "POST");
  EXPECT_EQ(t.request.target, "/v2/models/fashion-mlp/infer");
  EXPECT_EQ(t.request.protocol, "grpc");
  ASSERT_NE(find(t.request, "authorization"), nullptr);
  EXPECT_EQ(find(t.request, ":authority"), nullptr);  // gRPC's own metadata stays out
  EXPECT_EQ(find(t.request, "grpc-timeout"), nullptr);
  // Nothing to verify a digest against: the message is not hashed.
  EXPECT_FALSE(t.request.signed_as.has_value());
}

TEST(GrpcCalls, ASignedCallCoversTheRpcPathAndTheMessagesBytes) {
  const std::string message = infer_message();
  const Translated t = translate_request(Rpc::kModelInfer, kModelInfer, message,
                                         {{"x-mg-key-id", "abc"},
                                          {"x-mg-timestamp", "1"},
                                          {"x-mg-nonce", "n"},
                                          {"x-mg-signature", "00"}});
  ASSERT_TRUE(t.refusal.ok()) << t.refusal.message;
  ASSERT_TRUE(t.request.signed_as.has_value());
  EXPECT_EQ(t.request.signed_as->target, kModelInfer);
  EXPECT_EQ(t.request.signed_as->body_sha256_hex,
            registry::sha256_hex(std::as_bytes(std::span(message.data(), message.size()))));
}

}  // namespace
}  // namespace mg::gateway

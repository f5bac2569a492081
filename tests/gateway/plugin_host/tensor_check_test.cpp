// Shape, size and BYTES-layout checks: the host's guard on data crossing the ABI.
#include "gateway/plugin_host/tensor_check.h"

#include <gtest/gtest.h>

#include <string>

namespace mg::gateway {
namespace {

const TensorDesc kImage{"image", DType::kFp32, {-1, 28, 28}};

TensorRef image(std::vector<int64_t> shape, uint64_t byte_size) {
  static const float data[8] = {};
  return TensorRef{"image", DType::kFp32, std::move(shape), data, byte_size};
}

TEST(TensorCheck, AcceptsMatchingTensor) {
  EXPECT_EQ(check_tensor(kImage, image({2, 28, 28}, 2 * 28 * 28 * 4), 2u), std::nullopt);
}

TEST(TensorCheck, NamesTheTensorAndWhatWasExpected) {
  auto wrong_dtype = image({1, 28, 28}, 28 * 28 * 4);
  wrong_dtype.dtype = DType::kInt64;
  EXPECT_EQ(*check_tensor(kImage, wrong_dtype, std::nullopt),
            "tensor 'image': expected dtype FP32, got INT64");
  EXPECT_EQ(*check_tensor(kImage, image({1, 784}, 784 * 4), std::nullopt),
            "tensor 'image': expected shape [-1, 28, 28] (rank 3), got [1, 784]");
  EXPECT_EQ(*check_tensor(kImage, image({1, 28, 27}, 28 * 27 * 4), std::nullopt),
            "tensor 'image': expected shape [-1, 28, 28], got [1, 28, 27]");
  EXPECT_EQ(*check_tensor(kImage, image({1, 28, 28}, 100), std::nullopt),
            "tensor 'image': shape [1, 28, 28] of FP32 needs 3136 bytes, got 100");
  EXPECT_EQ(*check_tensor(kImage, image({3, 28, 28}, 3 * 3136), 2u),
            "tensor 'image': expected 2 rows in dimension 0, got shape [3, 28, 28]");
}

TEST(TensorCheck, RejectsNegativeAndOverflowingShapes) {
  EXPECT_TRUE(check_tensor(kImage, image({-1, 28, 28}, 0), std::nullopt));
  const TensorDesc any{"t", DType::kFp32, {-1, -1, -1}};
  TensorRef huge{"t", DType::kFp32, {1 << 30, 1 << 30, 1 << 30}, nullptr, 0};
  EXPECT_NE(check_tensor(any, huge, std::nullopt)->find("too many elements"), std::string::npos);
  EXPECT_EQ(element_count({int64_t{1} << 62, 4}), std::nullopt);
  EXPECT_EQ(element_count({0, int64_t{1} << 62}), 0u);
}

std::string bytes_tensor(const std::vector<std::string>& elements) {
  std::string out;
  for (const auto& e : elements) {
    uint32_t n = static_cast<uint32_t>(e.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    out += e;
  }
  return out;
}

TEST(TensorCheck, BytesLayoutIsWalkedExactly) {
  std::string data = bytes_tensor({"hello", "", "world!"});
  EXPECT_EQ(check_bytes_layout("s", data.data(), data.size(), 3), std::nullopt);
  EXPECT_NE(check_bytes_layout("s", data.data(), data.size(), 4)->find("truncated"),
            std::string::npos);
  EXPECT_NE(check_bytes_layout("s", data.data(), data.size(), 2)->find("left over"),
            std::string::npos);
  std::string lying = bytes_tensor({"abc"});
  lying[0] = 100;  // claims 100 bytes, has 3
  EXPECT_NE(check_bytes_layout("s", lying.data(), lying.size(), 1)->find("declares 100 bytes"),
            std::string::npos);
}

TEST(TensorCheck, BatchNeedsEveryInputOnceAndKnownOutputs) {
  ModelMetadata metadata;
  metadata.inputs = {kImage};
  metadata.outputs = {{"probs", DType::kFp32, {-1, 10}}};
  metadata.max_batch_size = 4;
  BatchInput batch;
  batch.request_rows = {1};
  EXPECT_EQ(*check_batch(metadata, batch), "missing input 'image'");
  batch.inputs = {image({1, 28, 28}, 3136), image({1, 28, 28}, 3136)};
  EXPECT_EQ(*check_batch(metadata, batch), "input 'image' given twice");
  batch.inputs.pop_back();
  EXPECT_EQ(check_batch(metadata, batch), std::nullopt);
  batch.outputs = {"logits"};
  EXPECT_EQ(*check_batch(metadata, batch), "output 'logits' is not an output of this model");
  batch.outputs = {"probs"};
  EXPECT_EQ(check_batch(metadata, batch), std::nullopt);
  batch.outputs = {"probs", "probs"};
  EXPECT_EQ(*check_batch(metadata, batch), "output 'probs' requested twice");
  batch.outputs.clear();
  batch.request_rows = {};
  EXPECT_EQ(*check_batch(metadata, batch), "batch has no requests");
  metadata.max_batch_size = 0;
  batch.request_rows = {1, 1};
  EXPECT_EQ(*check_batch(metadata, batch),
            "model does not batch: a batch must hold exactly one request");
}

TEST(DTypeNames, RoundTripKServeNames) {
  for (const char* name : {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                           "INT64", "FP16", "FP32", "FP64", "BYTES", "BF16"}) {
    auto dtype = dtype_from_name(name);
    ASSERT_TRUE(dtype) << name;
    EXPECT_EQ(dtype_name(*dtype), name);
  }
  EXPECT_EQ(dtype_from_name("FLOAT"), std::nullopt);
  EXPECT_EQ(dtype_from_abi(99), std::nullopt);
  EXPECT_EQ(dtype_size(DType::kBf16), 2u);
  EXPECT_EQ(dtype_size(DType::kBytes), 0u);
}

}  // namespace
}  // namespace mg::gateway

// decode_infer_request on its own: the JSON forms of every datatype, and the inputs a
// hostile or careless client sends (the router tests cover the same through a model).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "gateway/api/errors.h"
#include "gateway/api/kserve_codec.h"

namespace {

using namespace mg::gateway;

HttpRequest request_with(std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.target = "/v2/models/m/infer";
  request.body = std::move(body);
  return request;
}

InferRequest decode(const std::string& body) { return decode_infer_request(request_with(body)); }

std::string input(const std::string& datatype, const std::string& shape, const std::string& data) {
  return R"({"inputs":[{"name":"x","datatype":")" + datatype + R"(","shape":)" + shape +
         R"(,"data":)" + data + "}]}";
}

// The message of the 400 the body gets (fails the test when it is accepted).
std::string refusal(const std::string& body) {
  try {
    decode(body);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400) << body.substr(0, 200);
    EXPECT_EQ(e.code(), "bad_request");
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << body.substr(0, 200);
  return "";
}

template <typename T>
std::vector<T> values(const InferInput& in) {
  std::vector<T> out(in.data.size() / sizeof(T));
  std::memcpy(out.data(), in.data.data(), in.data.size());
  return out;
}

TEST(KServeDecode, EveryDatatypeFlatAndNested) {
  const InferRequest r = decode(
      R"({"id":"a\"b","parameters":{"binary_data_output":true},"inputs":[)"
      R"({"name":"f","datatype":"FP32","shape":[2,2],"data":[[0.5,-1],[3e2,7]]},)"
      R"({"name":"d","datatype":"FP64","shape":[1],"data":[0.1]},)"
      R"({"name":"i","datatype":"INT64","shape":[3],"data":[-9223372036854775808,0,9223372036854775807]},)"
      R"({"name":"u","datatype":"UINT64","shape":[1],"data":[18446744073709551615]},)"
      R"({"name":"s","datatype":"INT8","shape":[2],"data":[-128,127]},)"
      R"({"name":"b","datatype":"BOOL","shape":[3],"data":[true,false,true]},)"
      R"({"name":"t","datatype":"BYTES","shape":[2],"data":["h\u00e9",""]}],)"
      R"("outputs":[{"name":"y"},{"name":"z","parameters":{"binary_data":false}}]})");
  EXPECT_EQ(r.id, "a\"b");
  ASSERT_EQ(r.inputs.size(), 7u);
  EXPECT_EQ(values<float>(r.inputs[0]), (std::vector<float>{0.5F, -1.0F, 300.0F, 7.0F}));
  EXPECT_EQ(r.inputs[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values<double>(r.inputs[1]), (std::vector<double>{0.1}));
  EXPECT_EQ(values<int64_t>(r.inputs[2]), (std::vector<int64_t>{INT64_MIN, 0, INT64_MAX}));
  EXPECT_EQ(values<uint64_t>(r.inputs[3]), (std::vector<uint64_t>{UINT64_MAX}));
  EXPECT_EQ(values<int8_t>(r.inputs[4]), (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(values<uint8_t>(r.inputs[5]), (std::vector<uint8_t>{1, 0, 1}));
  const std::string bytes(reinterpret_cast<const char*>(r.inputs[6].data.data()),
                          r.inputs[6].data.size());
  EXPECT_EQ(bytes, std::string("\x03\0\0\0h\xc3\xa9\0\0\0\0", 11));
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_TRUE(r.outputs[0].binary);  // binary_data_output applies to every output
}

TEST(KServeDecode, ValuesADatatypeCannotHoldAreRefusedByElement) {
  EXPECT_NE(refusal(input("INT8", "[2]", "[1,128]")).find("element 1 is out of range"),
            std::string::npos);
  EXPECT_NE(refusal(input("UINT8", "[1]", "[-1]")).find("element 0 is out of range"),
            std::string::npos);
  EXPECT_NE(refusal(input("INT32", "[1]", "[1.5]")).find("element 0 is not an integer"),
            std::string::npos);
  EXPECT_NE(refusal(input("FP32", "[2]", "[1,null]")).find("element 1 is not a number"),
            std::string::npos);
  EXPECT_NE(refusal(input("BOOL", "[1]", "[1]")).find("element 0 is not a boolean"),
            std::string::npos);
  EXPECT_NE(refusal(input("BYTES", "[1]", "[1]")).find("element 0 is not a string"),
            std::string::npos);
  EXPECT_NE(refusal(input("FP16", "[1]", "[1]")).find("no JSON form"), std::string::npos);
}

TEST(KServeDecode, ShapeAndDataMustAgree) {
  EXPECT_NE(refusal(input("FP32", "[3]", "[1,2]")).find("shape needs 3 elements, \"data\" has 2"),
            std::string::npos);
  EXPECT_NE(refusal(input("FP32", "[1]", "[1,2]")).find("shape needs 1 elements, \"data\" has 2"),
            std::string::npos);
  EXPECT_NE(refusal(input("BOOL", "[1]", "[true,true]")).find("needs 1 elements"),
            std::string::npos);
  // A shape far larger than its data could ever be sizes nothing; the message counts.
  EXPECT_NE(refusal(input("FP64", "[1000000000000]", "[1,2,3]"))
                .find("shape needs 1000000000000 elements, \"data\" has 3"),
            std::string::npos);
  EXPECT_NE(refusal(input("FP32", "[4611686018427387904,4]", "[1]")).find("too many elements"),
            std::string::npos);
  EXPECT_NE(refusal(input("FP32", "[-1]", "[1]")).find("non-negative integers"), std::string::npos);
}

TEST(KServeDecode, MalformedAndHostileJsonIsA400) {
  EXPECT_NE(refusal("").find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal("{\"inputs\":[}").find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal("{\"inputs\":[]} trailing").find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal("{\"id\":\"\xff\"}").find("not valid JSON"), std::string::npos);  // UTF-8
  EXPECT_NE(refusal(input("FP32", "[1]", "[1e999]")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal(input("UINT64", "[1]", "[18446744073709551616]")).find("not valid JSON"),
            std::string::npos);
  // Nesting past the cap, in "data" and anywhere else.
  const std::string deep = std::string(100, '[') + "1" + std::string(100, ']');
  EXPECT_NE(refusal(input("FP32", "[1]", deep)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal(R"({"x":)" + deep + "}").find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal("[]").find("JSON object"), std::string::npos);
  EXPECT_NE(refusal(R"({"inputs":{}})").find("non-empty \"inputs\""), std::string::npos);
  EXPECT_NE(refusal(R"({"inputs":[1]})").find("JSON object"), std::string::npos);
  EXPECT_NE(refusal(R"({"inputs":[{"datatype":"FP32"}]})").find("has no \"name\""),
            std::string::npos);
  EXPECT_NE(refusal(R"({"id":7,"inputs":[]})").find("\"id\" must be a string"), std::string::npos);
  EXPECT_NE(refusal(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})")
                .find("neither \"data\" nor binary_data_size"),
            std::string::npos);
  EXPECT_NE(refusal(input("FP32", "[1]", "[1]").replace(0, 1, R"({"outputs":3,)"))
                .find("\"outputs\" must be an array"),
            std::string::npos);
}

TEST(KServeDecode, LargeDocumentsDecodeOnAParserOfTheirOwn) {
  // Over the size the per-thread parser keeps: decoded by a parser of its own, and the
  // next small request still decodes on this thread.
  std::string data = "[";
  for (int i = 0; i < 300000; ++i) data += i ? ",0.25" : "0.25";
  data += "]";
  const InferRequest big = decode(input("FP32", "[300000]", data));
  ASSERT_EQ(big.inputs[0].data.size(), 300000u * 4);
  EXPECT_EQ(values<float>(big.inputs[0])[299999], 0.25F);
  EXPECT_EQ(values<float>(decode(input("FP32", "[1]", "[2]")).inputs[0]),
            (std::vector<float>{2.0F}));
}

TEST(KServeDecode, AJsonPartLengthGivenByTheCallerIsHeldToTheBody) {
  // The length json_part_length read is passed on; one past the body's end is refused, not
  // read.
  const std::string json = input("FP32", "[1]", "[2]");
  const HttpRequest request = request_with(json);
  EXPECT_EQ(values<float>(decode_infer_request(request, json.size(), 1 << 20).inputs[0]),
            (std::vector<float>{2.0F}));
  try {
    decode_infer_request(request, json.size() + 1, 1 << 20);
    ADD_FAILURE() << "a length past the body was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("past the body's end"), std::string::npos);
  }
}

}  // namespace

// Content-Encoding on request bodies: gzip and deflate (zlib or raw) are decompressed
// within the body limit, a zip bomb gets 413 without allocating past it, a corrupt stream
// 400, any other encoding 415; through the router, a gzip'd inference matches the plain one.
#include "gateway/api/content_encoding.h"

#include <zlib.h>

#include "gateway/api/errors.h"
#include "tests/gateway/api/router_fixture.h"

namespace mg::gateway {
namespace {

// Compresses with zlib: window bits 31 (gzip), 15 (zlib) or -15 (raw deflate).
std::string compress(const std::string& plain, int bits) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, plain.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  stream.avail_in = static_cast<uInt>(plain.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

void expect_api_error(const std::function<void()>& call, int status, const std::string& code) {
  try {
    call();
    ADD_FAILURE() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_EQ(e.code(), code) << e.what();
  }
}

TEST(ContentEncoding, GzipAndBothDeflatesDecompress) {
  const std::string plain = R"({"inputs":[{"name":"x","data":[1,2,3]}]})";
  EXPECT_EQ(decode_content("gzip", compress(plain, 31), 1 << 20), plain);
  EXPECT_EQ(decode_content("GZIP", compress(plain, 31), 1 << 20), plain);
  EXPECT_EQ(decode_content("deflate", compress(plain, 15), 1 << 20), plain);
  EXPECT_EQ(decode_content("deflate", compress(plain, -15), 1 << 20), plain);
  EXPECT_FALSE(decode_content("identity", plain, 1 << 20));
  EXPECT_FALSE(decode_content("", plain, 1 << 20));
  const std::string big(3 << 20, 'a');  // grows its buffer several times
  EXPECT_EQ(decode_content("gzip", compress(big, 31), 4 << 20), big);
}

TEST(ContentEncoding, BombsCorruptStreamsAndUnknownEncodingsAreRefused) {
  const std::string bomb = compress(std::string(64 << 20, '\0'), 31);  // ~64 KiB → 64 MiB
  expect_api_error([&] { decode_content("gzip", bomb, 1 << 20); }, 413, "payload_too_large");
  std::string corrupt = compress(std::string(1000, 'x'), 31);
  corrupt[corrupt.size() / 2] ^= 0x55;
  expect_api_error([&] { decode_content("gzip", corrupt, 1 << 20); }, 400, "bad_request");
  const std::string whole = compress("hello", 31);
  expect_api_error([&] { decode_content("gzip", whole.substr(0, whole.size() - 3), 1 << 20); }, 400,
                   "bad_request");
  expect_api_error([&] { decode_content("gzip", whole + "trailing", 1 << 20); }, 400,
                   "bad_request");
  expect_api_error([&] { decode_content("gzip", "not gzip at all", 1 << 20); }, 400, "bad_request");
  expect_api_error([&] { decode_content("br", "x", 1 << 20); }, 415, "unsupported_media_type");
  expect_api_error([&] { decode_content("gzip, br", "x", 1 << 20); }, 415,
                   "unsupported_media_type");
}

using CompressedRequests = RouterTest;

TEST_F(CompressedRequests, AGzippedInferenceMatchesThePlainOne) {
  HttpResponse plain = call("POST", "/v2/models/fashion-mlp/infer", mlp_request());
  HttpResponse gzipped = call("POST", "/v2/models/fashion-mlp/infer", compress(mlp_request(), 31),
                              {{"Content-Encoding", "gzip"}});
  ASSERT_EQ(gzipped.status, 200) << gzipped.body;
  EXPECT_EQ(gzipped.body, plain.body);
  expect_error(
      call("POST", "/v2/models/fashion-mlp/infer", mlp_request(), {{"Content-Encoding", "zstd"}}),
      415, "unsupported_media_type", "zstd");
  services_->max_decoded_body = 1000;  // the server's body limit applies after decompression
  expect_error(call("POST", "/v2/models/fashion-mlp/infer", compress(mlp_request(), 31),
                    {{"Content-Encoding", "gzip"}}),
               413, "payload_too_large", "1000 bytes");
}

}  // namespace
}  // namespace mg::gateway

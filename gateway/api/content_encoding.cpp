#include "gateway/api/content_encoding.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "gateway/api/errors.h"

namespace mg::gateway {
namespace {

bool is(std::string_view value, std::string_view name) {
  return value.size() == name.size() &&
         std::equal(value.begin(), value.end(), name.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

ApiError too_large(std::size_t limit) {
  return ApiError(413, "payload_too_large",
                  "the decompressed body would exceed " + std::to_string(limit) + " bytes");
}

// Inflates `body` with zlib's window bits `bits` (31: gzip, 15: zlib, -15: raw deflate).
// Output grows by doubling up to limit + 1 bytes, so a zip bomb costs at most that.
std::string inflate_all(std::string_view body, int bits, std::size_t limit) {
  z_stream stream{};
  if (inflateInit2(&stream, bits) != Z_OK) throw ApiError(500, "internal", "zlib unavailable");
  const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, inflateEnd);
  const char* format = bits == 31 ? "gzip" : "deflate";
  std::string out;
  std::size_t consumed = 0, produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() > limit) throw too_large(limit);
      out.resize(std::min(std::max<std::size_t>(out.size() * 2, 64 << 10), limit + 1));
    }
    // zlib counts in uInt: at most 1 GiB in and out per call.
    const auto in_now = static_cast<uInt>(std::min<std::size_t>(body.size() - consumed, 1 << 30));
    const auto out_now = static_cast<uInt>(std::min<std::size_t>(out.size() - produced, 1 << 30));
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data() + consumed));
    stream.avail_in = in_now;
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = out_now;
    const int status = inflate(&stream, Z_NO_FLUSH);
    consumed += in_now - stream.avail_in;
    produced += out_now - stream.avail_out;
    if (produced > limit) throw too_large(limit);
    if (status == Z_STREAM_END) {
      if (consumed != body.size()) {
        throw bad_request(std::string("the ") + format + " body has data after its end");
      }
      out.resize(produced);
      return out;
    }
    if (status == Z_BUF_ERROR) {  // no progress: out of input, or of output space (grow)
      if (stream.avail_out != 0) {
        throw bad_request(std::string("the ") + format + " body is truncated");
      }
      continue;
    }
    if (status != Z_OK) {
      throw bad_request(std::string("the body is not valid ") + format +
                        " data: " + (stream.msg ? stream.msg : "corrupt stream"));
    }
  }
}

// RFC 1950's two-byte header: method 8 (deflate), a window of at most 32 KiB, a checksum.
bool has_zlib_header(std::string_view body) {
  if (body.size() < 2) return false;
  const auto cmf = static_cast<unsigned char>(body[0]), flg = static_cast<unsigned char>(body[1]);
  return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
}

}  // namespace

std::optional<std::string> decode_content(std::string_view encoding, std::string_view body,
                                          std::size_t limit) {
  encoding = trimmed(encoding);
  if (encoding.empty() || is(encoding, "identity")) return std::nullopt;
  if (is(encoding, "gzip") || is(encoding, "x-gzip")) return inflate_all(body, 31, limit);
  if (is(encoding, "deflate")) {
    // HTTP's deflate is the zlib format; some clients send raw deflate: both are taken.
    return inflate_all(body, has_zlib_header(body) ? 15 : -15, limit);
  }
  throw ApiError(415, "unsupported_media_type",
                 "Content-Encoding '" + std::string(encoding.substr(0, 32)) +
                     "' is not supported: send gzip, deflate or identity");
}

}  // namespace mg::gateway

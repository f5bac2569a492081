#include "common/base64.h"

#include <openssl/evp.h>

#include <climits>
#include <memory>

namespace mg {

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  const std::unique_ptr<EVP_ENCODE_CTX, void (*)(EVP_ENCODE_CTX*)> ctx(EVP_ENCODE_CTX_new(),
                                                                       EVP_ENCODE_CTX_free);
  if (!ctx) return std::nullopt;
  EVP_DecodeInit(ctx.get());
  // The update/final pair (not EVP_DecodeBlock) knows the padding: no trailing zero bytes
  // to strip, which would eat real ones.
  int written = 0, last = 0;
  auto* data = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_DecodeUpdate(ctx.get(), data, &written, reinterpret_cast<const unsigned char*>(text.data()),
                       static_cast<int>(text.size())) < 0 ||
      EVP_DecodeFinal(ctx.get(), data + written, &last) != 1) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(written + last));
  return out;
}

}  // namespace mg

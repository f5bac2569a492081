// The one base64 decoder: exact bytes (a file ending in zero bytes keeps them: a decoder
// that stripped them changed signature files), padding honoured, anything else refused.
#include "common/base64.h"

#include <gtest/gtest.h>

namespace mg {
namespace {

TEST(Base64, DecodesExactlyAndRefusesWhatIsNotBase64) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8h"), "hello!");
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_EQ(decode_base64("AAA="), std::string(2, '\0'));  // real zero bytes are kept
  EXPECT_EQ(decode_base64("aGVs\nbG8="), "hello");         // line breaks, as PEM has them
  EXPECT_EQ(decode_base64("%%%"), std::nullopt);
  EXPECT_EQ(decode_base64("aGVsbG8"), std::nullopt);       // truncated
  EXPECT_EQ(decode_base64("aGVsbG8=aGVs"), std::nullopt);  // data after the padding
}

}  // namespace
}  // namespace mg

// Fuzzes raw text inputs and the vocabulary files they are tokenised with. Input: a flags
// byte (tokeniser, case, padding and truncation ends), a length byte, then a vocabulary
// file up to the first NUL and, after it, the request's serialised BYTES elements. A
// vocabulary either parses into ids that are its line numbers or throws
// std::invalid_argument; two texts either become exactly 2 × length ids, each a vocabulary
// id, the unknown id or the padding id, with as many non-padding ids as the text has tokens
// (up to length) — or throw RawInputError; nothing else, no crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string_view>

#include "gateway/preprocess/preprocessing.h"
#include "gateway/preprocess/text_tokens.h"
#include "tests/fuzz/fuzz_finding.h"

namespace {

using namespace mg::gateway;

// Tokens of `text` as the spec splits it, counted without the tokeniser's code.
std::size_t token_count(std::string_view text, const TextSpec& spec) {
  std::size_t count = 0;
  bool inside = false;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    const bool alnum = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
    const bool separator = spec.split == TextSpec::Split::kAlphanumeric
                               ? !alnum
                               : c == ' ' || spec.filters.find(c) != std::string::npos;
    if (!separator && !inside) ++count;
    inside = !separator;
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t nul = input.find('\0');
  const std::string_view file = input.substr(0, nul);
  const std::string_view request = nul == std::string_view::npos ? "" : input.substr(nul + 1);

  TextSpec spec;
  spec.split = (data[0] & 1) != 0 ? TextSpec::Split::kWhitespace : TextSpec::Split::kAlphanumeric;
  spec.filters = std::string(kKerasFilters);
  spec.lowercase = (data[0] & 2) == 0;
  spec.pad_front = (data[0] & 4) != 0;
  spec.truncate_front = (data[0] & 8) != 0;
  spec.max_bytes = 4096;
  spec.length = data[1] % 40 + 1;
  spec.padding_id = 0;
  spec.unknown_id = 1;
  Vocabulary vocabulary;
  try {
    vocabulary = parse_vocabulary(file);
    const auto lines = static_cast<int64_t>(std::count(file.begin(), file.end(), '\n') + 1);
    for (const auto& [token, id] : vocabulary) {
      if (id < 0 || id >= lines || token.empty()) mg::fuzz::finding("an id is not a line number");
    }
  } catch (const std::invalid_argument&) {
    vocabulary = parse_vocabulary("<pad>\n<unk>\nthe\na\n");
  }
  const auto size_of_vocabulary = static_cast<int64_t>(vocabulary.size());
  spec.vocabulary = std::make_shared<const Vocabulary>(std::move(vocabulary));

  RawInput raw;
  raw.input = "tokens";
  raw.kind = RawInput::Kind::kText;
  raw.text = spec;
  const TensorDesc declared{"tokens", DType::kInt64, {-1, spec.length}};
  try {
    const RawTensor tensor = raw_to_tensor(
        raw, declared, true, std::as_bytes(std::span(request.data(), request.size())), 2, false);
    if (tensor.data.size() != 2u * spec.length * sizeof(int64_t))
      mg::fuzz::finding("not 2 x length ids");
    const auto* ids = reinterpret_cast<const int64_t*>(tensor.data.data());
    for (std::size_t i = 0; i < 2u * spec.length; ++i) {
      if (ids[i] < 0 || ids[i] >= std::max<int64_t>(size_of_vocabulary, 2))
        mg::fuzz::finding("an id outside the vocabulary");
    }
    // The first text's non-padding ids count its tokens (its element is the first).
    uint32_t length = 0;
    std::memcpy(&length, request.data(), 4);
    const std::size_t tokens =
        std::min<std::size_t>(token_count(request.substr(4, length), spec), spec.length);
    const std::size_t padding =
        static_cast<std::size_t>(std::count(ids, ids + spec.length, int64_t{0}));
    // A token whose id is 0 (the vocabulary's first line) is not padding, hence ≥.
    if (spec.length - std::min<std::size_t>(padding, spec.length) > tokens)
      mg::fuzz::finding("more ids than tokens");
    if (!spec.pad_front && tokens < spec.length && ids[tokens] != 0 && padding > 0)
      mg::fuzz::finding("padding not after the ids");
  } catch (const RawInputError&) {
  }
  return 0;
}

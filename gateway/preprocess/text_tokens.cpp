#include "gateway/preprocess/text_tokens.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <vector>

namespace mg::gateway {
namespace {

constexpr std::size_t kMaxTokenBytes = 1024;
constexpr std::size_t kMaxVocabulary = std::size_t{16} << 20;

bool is_ascii_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

Vocabulary parse_vocabulary(std::string_view file) {
  Vocabulary vocabulary;
  std::size_t line = 0;
  for_each_line(file, [&](std::string_view token) {
    ++line;
    const std::string where = "the vocabulary's line " + std::to_string(line);
    if (token.empty()) throw std::invalid_argument(where + " is empty");
    if (token.size() > kMaxTokenBytes) throw std::invalid_argument(where + " is over 1 KiB");
    if (line > kMaxVocabulary) throw std::invalid_argument("the vocabulary has over 16 M lines");
    if (!vocabulary.emplace(std::string(token), static_cast<int64_t>(line - 1)).second) {
      throw std::invalid_argument(where + " repeats the token '" + std::string(token) + "'");
    }
  });
  if (vocabulary.empty()) throw std::invalid_argument("the vocabulary is empty");
  return vocabulary;
}

void text_to_ids(std::string_view text, const TextSpec& spec, std::span<int64_t> row) {
  if (text.size() > spec.max_bytes) {
    throw RawInputError("the text is " + std::to_string(text.size()) +
                        " bytes, over the limit of " + std::to_string(spec.max_bytes));
  }
  std::array<bool, 256> separator{};
  for (int c = 0; c < 256; ++c) {
    const auto byte = static_cast<unsigned char>(c);
    separator[byte] =
        spec.split == TextSpec::Split::kAlphanumeric ? !is_ascii_alnum(byte) : byte == ' ';
  }
  if (spec.split == TextSpec::Split::kWhitespace) {
    for (char c : spec.filters) separator[static_cast<unsigned char>(c)] = true;
  }
  // Only the ids that can be kept are remembered: the first `length` (truncation "post"),
  // or a ring of the last `length` ("pre").
  std::vector<int64_t> ids;
  ids.reserve(spec.length);
  std::size_t seen = 0;
  std::string token;
  auto emit = [&] {
    if (token.empty()) return;
    const auto found = spec.vocabulary->find(token);
    const int64_t id = found == spec.vocabulary->end() ? spec.unknown_id : found->second;
    if (ids.size() < spec.length) {
      ids.push_back(id);
    } else if (spec.truncate_front && spec.length > 0) {
      ids[seen % spec.length] = id;
    }
    ++seen;
    token.clear();
  };
  for (char c : text) {
    if (separator[static_cast<unsigned char>(c)]) {
      emit();
    } else if (token.size() <= kMaxTokenBytes) {  // longer is in no vocabulary anyway
      token.push_back(spec.lowercase ? lower(c) : c);
    }
  }
  emit();
  if (spec.truncate_front && seen > spec.length) {
    std::rotate(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(seen % spec.length),
                ids.end());
  }
  const std::size_t padding = row.size() - ids.size();
  auto out = row.begin();
  if (spec.pad_front) out = std::fill_n(out, padding, spec.padding_id);
  out = std::copy(ids.begin(), ids.end(), out);
  if (!spec.pad_front) std::fill_n(out, padding, spec.padding_id);
}

}  // namespace mg::gateway

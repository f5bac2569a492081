#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/preprocess/raw_input_error.h"

namespace mg::gateway {

// A tokeniser's vocabulary: token → id, where the id is the token's line number (from 0)
// in the vocabulary file, one token per line — the file the seed text model's trainer
// writes ("<pad>", "<unk>", then words by frequency), and Keras's word index written out
// in order. Throws std::invalid_argument for a file that is not one (empty, a repeated
// token, an empty line, a line over 1 KiB, more than 16 M lines).
using Vocabulary = std::unordered_map<std::string, int64_t>;
// Calls line(text) for each line of a text file, as vocabularies and labels files are read:
// a final newline ends the last line (it does not start an empty one), and "\r\n" counts as
// a newline. One line at a time: a caller may stop a huge file early by throwing.
template <class Line>
void for_each_line(std::string_view file, Line&& line) {
  while (!file.empty()) {
    const std::size_t end = file.find('\n');
    std::string_view text = file.substr(0, end);
    file = end == std::string_view::npos ? std::string_view() : file.substr(end + 1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    line(text);
  }
}
Vocabulary parse_vocabulary(std::string_view file);

// How a model wants a text as its input tensor (a model config's "preprocess" entry of
// type "text", docs/preprocessing.md).
struct TextSpec {
  enum class Split {
    kAlphanumeric,  // tokens are runs of ASCII letters and digits; anything else separates
    kWhitespace,    // the filter characters become spaces, then split on spaces (Keras)
  };
  Split split = Split::kAlphanumeric;
  bool lowercase = true;  // ASCII letters only
  std::string filters;    // kWhitespace: the characters removed (Keras's default set)
  std::shared_ptr<const Vocabulary> vocabulary;
  int64_t unknown_id = 1;  // for a token not in the vocabulary
  int64_t padding_id = 0;
  uint32_t length = 0;           // ids per text: the model's row
  bool pad_front = false;        // "padding": "pre" (Keras's pad_sequences default) or "post"
  bool truncate_front = false;   // "truncation": "pre" keeps a long text's last tokens
  uint32_t max_bytes = 1 << 20;  // longest text accepted
};

// The filters of Keras's Tokenizer: !"#$%&()*+,-./:;<=>?@[\]^_`{|}~ tab and newline.
inline constexpr std::string_view kKerasFilters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";

// Tokenises `text` and writes spec.length ids into `row` (padded and truncated as the
// spec says). Throws RawInputError for a text over spec.max_bytes.
void text_to_ids(std::string_view text, const TextSpec& spec, std::span<int64_t> row);

}  // namespace mg::gateway

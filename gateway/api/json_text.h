#pragma once

#include <string_view>

namespace mg::gateway {

// Passes `text` to `put` (a callable taking std::string_view) as the inside of a JSON
// string: quotes, backslashes and control bytes escaped (\u00XX), every other byte as it
// is. Runs of plain bytes go out in one piece each — the hand-written encoders that use it
// (the access log line, infer responses) run on every request, and a byte at a time or a
// JSON library's serializer with its own string cost several times as much.
template <class Put>
void put_json_text(std::string_view text, Put&& put) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t run = 0;  // where the plain bytes not passed on yet start
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(text.substr(run, i - run));
    run = i + 1;
    if (c < 0x20) {
      const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      put(std::string_view(escaped, sizeof escaped));
    } else {
      const char escaped[] = {'\\', static_cast<char>(c)};
      put(std::string_view(escaped, sizeof escaped));
    }
  }
  put(text.substr(run));
}

// The most bytes put_json_text passes on per byte of text.
inline constexpr std::size_t kMaxJsonTextGrowth = 6;

}  // namespace mg::gateway

#include "gateway/http/http_types.h"

#include <algorithm>

namespace mg::gateway {

// Header names are HTTP tokens: ORing 0x20 folds their letters' case and maps no other
// token character onto a letter of the names looked up here (letters, digits and '-').
std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(),
                   [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
      return value;
    }
  }
  return {};
}

namespace {

struct AfterSent {
  std::function<void()> job;
  ~AfterSent() {
    if (job) job();
  }
};

}  // namespace

std::shared_ptr<void> after_sent_job(std::function<void()> job) {
  auto held = std::make_shared<AfterSent>();
  held->job = std::move(job);
  return held;
}

}  // namespace mg::gateway

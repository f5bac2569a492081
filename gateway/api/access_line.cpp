#include "gateway/api/access_line.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <random>
#include <string_view>

#include "gateway/api/json_text.h"
#include "gateway/metrics/access_log.h"

namespace mg::gateway {

std::string request_id_of(const HttpRequest& request) {
  const std::string_view given = request.header("X-Request-Id");
  if (!given.empty() && given.size() <= 128 &&
      given.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
          std::string_view::npos) {
    return std::string(given);
  }
  thread_local std::mt19937_64 random{std::random_device{}()};
  // 16 hex digits, written directly (snprintf's format parsing cost more than the rest).
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (uint64_t bits = random(); char& digit : id) {
    digit = kHex[bits >> 60];
    bits <<= 4;
  }
  return id;
}

namespace {

// Writes a line into a buffer sized beforehand for its longest possible form, so each
// piece is a copy and a pointer bump: std::string's append checks capacity and updates
// the length each time (~50 instructions, and a line has ~40 pieces).
class LineWriter {
 public:
  explicit LineWriter(char* at) : at_(at) {}

  void raw(std::string_view text) {
    std::memcpy(at_, text.data(), text.size());
    at_ += text.size();
  }
  void raw(char c) { *at_++ = c; }
  void integer(int64_t value) { at_ = std::to_chars(at_, at_ + kMaxNumber, value).ptr; }

  void json_text(std::string_view text) {
    put_json_text(text, [this](std::string_view piece) { raw(piece); });
  }

  // Seconds as milliseconds with three decimals, from the whole microseconds (the
  // floating-point std::to_chars with a precision cost five times as much).
  void milliseconds(double seconds) {
    // Clamped to what a request can take (and to what fits an int64_t): nothing overflows.
    if (std::isnan(seconds)) seconds = 0;
    int64_t micros = std::llround(std::clamp(seconds, -1e9, 1e9) * 1e6);
    if (micros < 0) {
      raw('-');
      micros = -micros;
    }
    integer(micros / 1000);
    thousandths(static_cast<int>(micros % 1000));
  }

  // "YYYY-MM-DDTHH:MM:SS.mmmZ", now: the part up to the seconds is formatted once per
  // second per thread (gmtime and strftime cost more than the rest of the line).
  void time_now() {
    thread_local std::time_t cached_second = -1;
    thread_local std::array<char, 32> cached{};
    thread_local std::size_t cached_length = 0;
    const int64_t ms_since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
    const std::time_t second = static_cast<std::time_t>(ms_since_epoch / 1000);
    if (second != cached_second) {
      std::tm utc{};
      gmtime_r(&second, &utc);
      cached_length = std::strftime(cached.data(), cached.size(), "%Y-%m-%dT%H:%M:%S", &utc);
      cached_second = second;
    }
    raw(std::string_view(cached.data(), cached_length));
    thousandths(static_cast<int>(ms_since_epoch % 1000));
    raw('Z');
  }

  char* end() const { return at_; }

 private:
  // ".ddd" for 0 <= value < 1000.
  void thousandths(int value) {
    raw('.');
    raw(static_cast<char>('0' + value / 100));
    raw(static_cast<char>('0' + value / 10 % 10));
    raw(static_cast<char>('0' + value % 10));
  }

  static constexpr std::size_t kMaxNumber = 24;  // an int64_t's digits and sign, and more
  char* at_;
};

}  // namespace

// One access log line, formatted by hand: this runs for every request, and building a
// JSON tree for it cost more than the request itself on the fastest paths. Numbers go
// through std::to_chars (snprintf's format parsing and locale cost more).
void write_access_log(AccessLog& log, const HttpRequest& request, const HttpResponse& response,
                      const InferenceInfo& info, const std::string& request_id,
                      const std::string& outcome, double seconds) {
  const std::string_view target = request.target;
  const std::string_view path = target.substr(0, std::min<std::size_t>(target.find('?'), 200));
  const std::string_view texts[] = {request_id, request.protocol, request.method, path,
                                    outcome,    info.tenant,      info.key_id,    info.model};
  // The longest the line can be: its names, punctuation, time and numbers take under 400
  // bytes; each text at most kMaxJsonTextGrowth bytes per byte.
  std::size_t longest = 512;
  for (const std::string_view text : texts) longest += kMaxJsonTextGrowth * text.size();
  thread_local std::string line;  // only grows: a thread's lines reuse one buffer
  if (line.size() < longest) line.resize(longest);

  LineWriter out(line.data());
  auto name = [&](std::string_view field) {
    out.raw(",\"");
    out.raw(field);
    out.raw("\":");
  };
  auto text_field = [&](std::string_view field, std::string_view value) {
    name(field);
    out.raw('"');
    out.json_text(value);
    out.raw('"');
  };
  auto integer_field = [&](std::string_view field, int64_t value) {
    name(field);
    out.integer(value);
  };
  auto ms_field = [&](std::string_view field, double seconds_value) {
    name(field);
    out.milliseconds(seconds_value);
  };
  out.raw("{\"time\":\"");
  out.time_now();
  out.raw('"');
  text_field("request_id", request_id);
  text_field("protocol", request.protocol);
  text_field("method", request.method);
  text_field("path", path);
  integer_field("status", response.status);
  text_field("code", outcome);
  text_field("tenant", info.tenant);
  text_field("key_id", info.key_id);
  if (info.version > 0) {
    text_field("model", info.model);
    integer_field("version", info.version);
  }
  ms_field("total_ms", seconds);
  if (info.queue_seconds >= 0) {
    ms_field("queue_ms", info.queue_seconds);
    ms_field("compute_ms", info.compute_seconds);
  }
  integer_field("bytes_in", static_cast<int64_t>(request.body.size()));
  integer_field("bytes_out", static_cast<int64_t>(response.body.size()));
  out.raw('}');
  log.write(std::string_view(line.data(), static_cast<std::size_t>(out.end() - line.data())));
}

}  // namespace mg::gateway

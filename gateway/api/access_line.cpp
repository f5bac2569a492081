#include "gateway/api/access_line.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <string_view>

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

// Appends text as the inside of a JSON string (quotes, backslashes, control bytes escaped).
void append_json_text(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
}

// The line's time, "YYYY-MM-DDTHH:MM:SS.mmmZ": the part up to the seconds is formatted
// once per second per thread (gmtime and strftime cost more than the rest of the line).
void append_time(std::string& line) {
  thread_local std::time_t cached_second = -1;
  thread_local char cached[32];
  const auto now = std::chrono::system_clock::now();
  const int64_t ms_since_epoch =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t second = static_cast<std::time_t>(ms_since_epoch / 1000);
  if (second != cached_second) {
    std::tm utc{};
    gmtime_r(&second, &utc);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &utc);
    cached_second = second;
  }
  const int ms = static_cast<int>(ms_since_epoch % 1000);
  line += cached;
  line += '.';
  line += static_cast<char>('0' + ms / 100);
  line += static_cast<char>('0' + ms / 10 % 10);
  line += static_cast<char>('0' + ms % 10);
  line += 'Z';
}

}  // namespace

// One access log line, formatted by hand: this runs for every request, and building a
// JSON tree for it cost more than the request itself on the fastest paths. Numbers go
// through std::to_chars (snprintf's format parsing and locale cost more).
void write_access_log(AccessLog& log, const HttpRequest& request, const HttpResponse& response,
                      const InferenceInfo& info, const std::string& request_id,
                      const std::string& outcome, double seconds) {
  thread_local std::string line;
  line.clear();
  line += "{\"time\":\"";
  append_time(line);
  line += '"';
  char number[64];
  auto text_field = [&](const char* name, std::string_view value) {
    line += ",\"";
    line += name;
    line += "\":\"";
    append_json_text(line, value);
    line += '"';
  };
  auto integer_field = [&](const char* name, int64_t value) {
    line += ",\"";
    line += name;
    line += "\":";
    line.append(number, std::to_chars(number, number + sizeof number, value).ptr);
  };
  auto ms_field = [&](const char* name, double seconds_value) {  // milliseconds, 3 decimals
    line += ",\"";
    line += name;
    line += "\":";
    line.append(number, std::to_chars(number, number + sizeof number, seconds_value * 1e3,
                                      std::chars_format::fixed, 3)
                            .ptr);
  };
  const std::string_view target = request.target;
  text_field("request_id", request_id);
  text_field("protocol", request.protocol);
  text_field("method", request.method);
  text_field("path", target.substr(0, std::min<std::size_t>(target.find('?'), 200)));
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
  line += '}';
  log.write(line);
}

}  // namespace mg::gateway

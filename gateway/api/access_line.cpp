#include "gateway/api/access_line.h"

#include <algorithm>
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
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(random()));
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

}  // namespace

// One access log line, formatted by hand: this runs for every request, and building a
// JSON tree for it cost more than the request itself on the fastest paths.
void write_access_log(AccessLog& log, const HttpRequest& request, const HttpResponse& response,
                      const InferenceInfo& info, const std::string& request_id,
                      const std::string& outcome, double seconds) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char head[64];
  std::strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &utc);
  thread_local std::string line;
  line.clear();
  char number[64];
  line += "{\"time\":\"";
  line += head;
  std::snprintf(number, sizeof number, ".%03dZ\"", static_cast<int>(ms));
  line += number;
  auto text_field = [&](const char* name, std::string_view value) {
    line += ",\"";
    line += name;
    line += "\":\"";
    append_json_text(line, value);
    line += '"';
  };
  auto number_field = [&](const char* name, double value, const char* format) {
    line += ",\"";
    line += name;
    line += "\":";
    std::snprintf(number, sizeof number, format, value);
    line += number;
  };
  const std::string_view target = request.target;
  text_field("request_id", request_id);
  text_field("method", request.method);
  text_field("path", target.substr(0, std::min<std::size_t>(target.find('?'), 200)));
  number_field("status", response.status, "%.0f");
  text_field("code", outcome);
  text_field("tenant", info.tenant);
  text_field("key_id", info.key_id);
  if (info.version > 0) {
    text_field("model", info.model);
    number_field("version", static_cast<double>(info.version), "%.0f");
  }
  number_field("total_ms", seconds * 1e3, "%.3f");
  if (info.queue_seconds >= 0) {
    number_field("queue_ms", info.queue_seconds * 1e3, "%.3f");
    number_field("compute_ms", info.compute_seconds * 1e3, "%.3f");
  }
  number_field("bytes_in", static_cast<double>(request.body.size()), "%.0f");
  number_field("bytes_out", static_cast<double>(response.body.size()), "%.0f");
  line += '}';
  log.write(line);
}

}  // namespace mg::gateway

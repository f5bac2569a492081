// The access log line, formatted by hand for speed: one JSON object per request whose
// time, integers and milliseconds come out as documented (docs/operations.md), and whose
// text fields are escaped.
#include "gateway/api/access_line.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gateway/metrics/access_log.h"

namespace mg::gateway {
namespace {

TEST(AccessLine, FieldsAreFormattedAndEscaped) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    AccessLog log(out, false);
    HttpRequest request{"POST", "/v2/models/m/infer?x=1", {}, std::string(1234, 'b')};
    HttpResponse response;
    response.status = 503;
    response.body = std::string(77, 'r');
    InferenceInfo info;
    info.model = "m";
    info.version = 12;
    info.tenant = "t\"1\n";
    info.key_id = "k";
    info.queue_seconds = 0.0015;
    info.compute_seconds = 0.25;
    write_access_log(log, request, response, info, "rid", "overloaded", 1.0625);
  }  // the writer thread flushes at exit
  std::rewind(out);
  char buffer[4096];
  const std::size_t n = std::fread(buffer, 1, sizeof buffer, out);
  std::fclose(out);
  const std::string line(buffer, n);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_TRUE(
      std::regex_search(line, std::regex(R"(^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",)")))
      << line;
  EXPECT_NE(
      line.find(
          R"("request_id":"rid","protocol":"http","method":"POST","path":"/v2/models/m/infer",)"
          R"("status":503,"code":"overloaded","tenant":"t\"1\u000a","key_id":"k",)"
          R"("model":"m","version":12,"total_ms":1062.500,"queue_ms":1.500,)"
          R"("compute_ms":250.000,"bytes_in":1234,"bytes_out":77})"),
      std::string::npos)
      << line;
  boost::system::error_code ec;
  boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << "not one JSON object: " << line;
}

// The line written for a request with the given key id and total time, read back.
std::string line_for(const std::string& key_id, double seconds) {
  std::FILE* out = std::tmpfile();
  if (out == nullptr) return "";
  {
    AccessLog log(out, false);
    HttpRequest request{"GET", "/v2/health/ready", {}, ""};
    InferenceInfo info;
    info.key_id = key_id;
    write_access_log(log, request, HttpResponse{}, info, "rid", "ok", seconds);
  }
  std::rewind(out);
  std::string line(1 << 16, '\0');
  line.resize(std::fread(line.data(), 1, line.size(), out));
  std::fclose(out);
  return line;
}

TEST(AccessLine, EscapesBetweenPlainRunsAndMillisecondsRounded) {
  const std::string line = line_for(std::string("a\"b\\c\x01"
                                                "d\x1f") +
                                        "\"\"e",
                                    0.0123456);
  EXPECT_NE(line.find(R"("key_id":"a\"b\\c\u0001d\u001f\"\"e")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("total_ms":12.346,)"), std::string::npos) << line;
  EXPECT_NE(line_for("", 0).find(R"("key_id":"","total_ms":0.000,)"), std::string::npos);
  EXPECT_NE(line_for("\n", 12.0000004).find(R"("key_id":"\u000a","total_ms":12000.000,)"),
            std::string::npos);
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(line, ec);
  ASSERT_FALSE(ec) << line;
  EXPECT_EQ(parsed.at("key_id").as_string(),
            "a\"b\\c\x01"
            "d\x1f\"\"e");
}

// Every text at its longest escaped form (six bytes per byte), a number at its widest, a
// time beyond any request's: the line is written whole, valid JSON, every value intact.
TEST(AccessLine, TheLongestLinesComeOutWhole) {
  const std::string controls(5000, '\x01');
  const std::string line = line_for(controls, 1e300);
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(line, ec);
  ASSERT_FALSE(ec) << line.substr(0, 200);
  EXPECT_EQ(parsed.at("key_id").as_string(), controls);
  EXPECT_NE(line.find(R"("total_ms":1000000000000.000,)"), std::string::npos);
  EXPECT_NE(line_for("", -0.0025).find(R"("total_ms":-2.500,)"), std::string::npos);
  EXPECT_NE(line_for("", std::nan("")).find(R"("total_ms":0.000,)"), std::string::npos);
}

TEST(AccessLine, ASaneClientRequestIdIsKeptAndAnyOtherReplacedByAFreshOne) {
  auto id_for = [](std::string given) {
    HttpRequest request{"GET", "/v2/health/live", {}, ""};
    if (!given.empty()) request.headers.emplace_back("X-Request-Id", given);
    return request_id_of(request);
  };
  EXPECT_EQ(id_for("trace-42.a_B"), "trace-42.a_B");
  const std::regex fresh("[0-9a-f]{16}");
  for (const std::string& given :
       std::vector<std::string>{"", "has space", "quote\"", std::string(129, 'a')}) {
    const std::string id = id_for(given);
    EXPECT_TRUE(std::regex_match(id, fresh)) << given << " -> " << id;
  }
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(id_for(""));
  EXPECT_EQ(ids.size(), 1000u);  // 64 random bits each
  // Every digit position takes more than one value (no digit left at its initial '0').
  for (std::size_t position = 0; position < 16; ++position) {
    std::set<char> seen;
    for (const auto& id : ids) seen.insert(id[position]);
    EXPECT_GT(seen.size(), 8u) << "position " << position;
  }
}

}  // namespace
}  // namespace mg::gateway

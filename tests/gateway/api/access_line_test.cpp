// The access log line, formatted by hand for speed: one JSON object per request whose
// time, integers and milliseconds come out as documented (docs/operations.md), and whose
// text fields are escaped.
#include "gateway/api/access_line.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
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

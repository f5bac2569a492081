// The listener writes an answer's head by hand: here it is checked against what Beast's
// serializer wrote for the same answer before (the same status line, the same header lines
// in any order, the same body), and for what it refuses to write.
#include "gateway/http/response_head.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/beast/http.hpp>
#include <cctype>
#include <sstream>
#include <string>
#include <vector>

namespace mg::gateway {
namespace {

namespace http = boost::beast::http;

// The answer as the listener serialized it with Beast.
std::string by_beast(const HttpResponse& response, bool keep_alive) {
  http::response<http::string_body> message;
  message.version(11);
  message.result(static_cast<unsigned>(response.status));
  message.set(http::field::server, "modelgate");
  message.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) message.set(name, value);
  message.body() = response.body;
  message.keep_alive(keep_alive);
  message.prepare_payload();
  std::ostringstream out;
  out << message;
  return out.str();
}

std::string by_hand(const HttpResponse& response, bool keep_alive) {
  std::string out;
  append_response_head(out, response, keep_alive);
  if (status_allows_body(response.status)) out += response.body;
  return out;
}

struct Parts {
  std::string status_line;
  std::vector<std::string> fields;  // sorted
  std::string body;
};

Parts parts_of(const std::string& wire) {
  Parts parts;
  const std::size_t end = wire.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos) << wire;
  parts.body = wire.substr(end + 4);
  std::istringstream head(wire.substr(0, end));
  std::string line;
  auto without_cr = [](std::string text) {
    if (!text.empty() && text.back() == '\r') text.pop_back();
    return text;
  };
  std::getline(head, line);
  parts.status_line = without_cr(line);
  while (std::getline(head, line)) {
    // Names are case-insensitive: Beast kept the spelling of the last set(), this the
    // canonical one.
    line = without_cr(line);
    const std::size_t colon = line.find(':');
    std::transform(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), line.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    parts.fields.push_back(line);
  }
  std::sort(parts.fields.begin(), parts.fields.end());
  return parts;
}

void expect_same(const HttpResponse& response, bool keep_alive) {
  const Parts beast = parts_of(by_beast(response, keep_alive));
  const Parts hand = parts_of(by_hand(response, keep_alive));
  EXPECT_EQ(hand.status_line, beast.status_line);
  EXPECT_EQ(hand.fields, beast.fields);
  EXPECT_EQ(hand.body, beast.body);
}

HttpResponse answer(int status, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

TEST(ResponseHead, IsWhatBeastWroteForTheSameAnswer) {
  struct Case {
    const char* what;
    HttpResponse response;
  };
  HttpResponse binary =
      answer(200, std::string("\0\1\2", 3), {{"Inference-Header-Content-Length", "42"}});
  binary.content_type = "application/octet-stream";
  const std::vector<Case> cases = {
      {"a JSON answer", answer(200, R"({"ready":true})", {{"X-Request-Id", "abc"}})},
      {"a binary answer", binary},
      {"an empty body", answer(404, "")},
      {"shed", answer(503, R"({"code":"overloaded"})", {{"Retry-After", "1"}})},
      {"rate limited",
       answer(429, "{}",
              {{"RateLimit-Limit", "10"}, {"RateLimit-Remaining", "0"}, {"RateLimit-Reset", "3"}})},
      {"a repeated header: the last one", answer(200, "x", {{"X-A", "1"}, {"x-a", "2"}})},
      {"a content type among the headers",
       answer(200, "x", {{"content-type", "text/plain"}, {"X-B", "b"}})},
      {"the server named again", answer(200, "x", {{"Server", "other"}})},
      {"an unusual status", answer(418, "teapot")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    expect_same(c.response, true);
    expect_same(c.response, false);
  }
}

TEST(ResponseHead, NeverTakesFramingOrLineBreaksFromTheResponse) {
  const HttpResponse response = answer(200, "four",
                                       {{"Content-Length", "999"},
                                        {"Transfer-Encoding", "chunked"},
                                        {"Connection", "upgrade"},
                                        {"X-Split", "a\r\nSet-Cookie: x=1"},
                                        {"X-Nul", std::string("a\0b", 3)},
                                        {"Bad\nName", "v"},
                                        {"X-Kept", "yes"}});
  const Parts hand = parts_of(by_hand(response, false));
  EXPECT_EQ(hand.status_line, "HTTP/1.1 200 OK");
  const std::vector<std::string> expected = {"connection: close", "content-length: 4",
                                             "content-type: application/json", "server: modelgate",
                                             "x-kept: yes"};
  EXPECT_EQ(hand.fields, expected);
  EXPECT_EQ(hand.body, "four");
}

TEST(ResponseHead, AStatusThatCannotBeWrittenIsA500) {
  const Parts hand = parts_of(by_hand(answer(1200, "x"), true));
  EXPECT_EQ(hand.status_line, "HTTP/1.1 500 Internal Server Error");
}

// Where this differs from Beast 1.81, which wrote "Content-Length: 0" on a 204: a server
// must not send one with 1xx or 204 (RFC 9110, 8.6).
TEST(ResponseHead, NoBodyAndNoLengthWhereTheStatusForbidsOne) {
  for (int status : {101, 204, 304}) {
    SCOPED_TRACE(status);
    std::string head;
    append_response_head(head, answer(status, "ignored"), true);
    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
    EXPECT_FALSE(status_allows_body(status));
  }
  EXPECT_TRUE(status_allows_body(200));
  EXPECT_TRUE(status_allows_body(404));
}

}  // namespace
}  // namespace mg::gateway

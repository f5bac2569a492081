// RequestParser: Beast's parser writing into an HttpRequest, fed the bytes a client sends.
#include "gateway/http/request_parser.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <string>
#include <vector>

namespace mg::gateway {
namespace {

namespace http = boost::beast::http;

// Feeds `bytes` to the parser `step` bytes at a time (as reads might cut them), the way the
// listener does: what a call leaves unparsed is given again with the next bytes.
boost::beast::error_code feed(RequestParser& parser, const std::string& bytes, std::size_t step) {
  std::string pending;
  std::size_t at = 0;
  boost::beast::error_code ec;
  while (!parser.is_done() && (at < bytes.size() || !pending.empty())) {
    const std::size_t take = std::min(step, bytes.size() - at);
    pending.append(bytes, at, take);
    at += take;
    const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
    pending.erase(0, used);
    if (ec == http::error::need_more) {
      ec = {};
      if (take == 0) break;
      continue;
    }
    if (ec) return ec;
  }
  return ec;
}

TEST(RequestParser, HeadAndBodyLandInTheRequestWhateverTheReadsCut) {
  const std::string body(3000, 'x');
  const std::string bytes =
      "POST /v2/models/m/infer?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer k\r\n"
      "Inference-Header-Content-Length: 12\r\nContent-Length: 3000\r\n\r\n" +
      body;
  for (const std::size_t step : {bytes.size(), std::size_t{1}, std::size_t{7}, std::size_t{500}}) {
    RequestParser parser;
    parser.body_limit(boost::none);
    ASSERT_FALSE(feed(parser, bytes, step)) << "step " << step;
    ASSERT_TRUE(parser.is_done());
    const HttpRequest& r = parser.request();
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v2/models/m/infer?x=1");
    ASSERT_EQ(r.headers.size(), 4u);
    EXPECT_EQ(r.headers[1].first, "Authorization");
    EXPECT_EQ(r.header("authorization"), "Bearer k");
    EXPECT_EQ(r.header("Inference-Header-Content-Length"), "12");
    EXPECT_EQ(r.body, body);
    EXPECT_TRUE(parser.keep_alive());
    EXPECT_FALSE(parser.expects_continue());
  }
}

TEST(RequestParser, AChunkedBodyIsJoinedAndHeldToTheBodyLimit) {
  const std::string bytes =
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
  RequestParser parser;
  parser.body_limit(boost::none);
  ASSERT_FALSE(feed(parser, bytes, 3));
  EXPECT_EQ(parser.request().body, "hello, world");
  EXPECT_FALSE(parser.keep_alive());

  RequestParser limited;
  limited.body_limit(8);
  EXPECT_EQ(feed(limited, bytes, bytes.size()), http::error::body_limit);
}

TEST(RequestParser, AStreamedBodyFillsTheWindowThenAsksForAnother) {
  const std::string body = "0123456789abcdefghij";  // 20 bytes through a 8-byte window
  const std::string bytes =
      "PUT /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n" +
      body;
  RequestParser parser;
  parser.body_limit(boost::none);
  boost::beast::error_code ec;
  std::size_t used = parser.put(boost::asio::buffer(bytes), ec);
  ASSERT_FALSE(ec);
  ASSERT_TRUE(parser.is_header_done());
  EXPECT_TRUE(parser.expects_continue());
  std::string rest = bytes.substr(used), received;
  std::vector<char> window(8);
  while (!parser.is_done()) {
    parser.stream_into(window.data(), window.size());
    used = parser.put(boost::asio::buffer(rest), ec);
    rest.erase(0, used);
    ASSERT_TRUE(!ec || ec == http::error::need_buffer) << ec.message();
    received.append(window.data(), window.size() - parser.window_room());
  }
  EXPECT_EQ(received, body);
  EXPECT_TRUE(parser.request().body.empty());  // nothing buffered
}

}  // namespace
}  // namespace mg::gateway

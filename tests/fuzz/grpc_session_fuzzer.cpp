// Fuzzes the gRPC listener's HTTP/2 side (gateway/grpc/grpc_session.h): any bytes after
// the client's connection preface, fed in two pieces, as frames from a hostile client.
// Every request the session hands out is answered (an inference answer, a router error, or
// refused), and its output taken, as the connection does. Properties: no crash, no leak,
// and every buffered request byte given back to the server's budget once the session is
// gone. Seeds: tests/fuzz/make_grpc_session_seeds.py.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/grpc/grpc_session.h"
#include "tests/fuzz/fuzz_finding.h"

using namespace mg::gateway;

namespace {

void answer_all(GrpcSession& session, unsigned& turn) {
  for (int round = 0; round < 64; ++round) {
    auto requests = session.take_requests();
    if (requests.empty()) return;
    for (auto& ready : requests) {
      switch (turn++ % 3) {
        case 0: {
          HttpResponse answer;
          answer.body = R"({"model_name":"m","id":"a","outputs":[]})";
          session.answer(ready.stream_id, std::move(answer));
          break;
        }
        case 1: {
          HttpResponse error;
          error.status = 429;
          error.headers.emplace_back("Retry-After", "1");
          error.body = R"({"error":"slow down","code":"rate_limited"})";
          session.answer(ready.stream_id, std::move(error));
          break;
        }
        default:
          session.refuse(ready.stream_id, {14, "overloaded: retry", {}});
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::atomic<std::size_t> buffered{0};
  {
    GrpcSessionLimits limits;
    limits.max_message_bytes = 4096;
    limits.max_concurrent_streams = 16;
    limits.buffered = &buffered;
    limits.buffered_budget = 16384;
    GrpcSession session(limits);
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    unsigned turn = 0;
    std::string out;
    bool open = session.receive(kPreface);
    for (std::string_view piece : {bytes.substr(0, size / 2), bytes.substr(size / 2)}) {
      if (open) open = session.receive(piece);
      answer_all(session, turn);
      out.clear();
      session.take_output(out);
    }
    session.go_away();
    answer_all(session, turn);
    out.clear();
    session.take_output(out);
  }
  if (buffered != 0) mg::fuzz::finding("buffered request bytes not given back");
  return 0;
}

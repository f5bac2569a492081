// The client SDK's HTTPS transport on one kept-alive connection, no load: the time of each
// of 60 sequential KServe JSON requests (a request body from a file) to a running server,
// as p50 / p90 / max. Run: bench/gateway/answer_size_latency.sh (it starts the server), or
// build/bench/sdk_request_latency PORT API_KEY CA_FILE MODEL REQUEST_JSON
#include <modelgate/client.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PORT API_KEY CA_FILE MODEL REQUEST_JSON\n", argv[0]);
    return 2;
  }
  modelgate::ClientOptions options;
  options.server = std::string("https://127.0.0.1:") + argv[1];
  options.api_key = argv[2];
  options.ca_file = argv[3];
  std::ifstream in(argv[5], std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  modelgate::Client client(options);
  std::vector<double> ms;
  for (int i = 0; i < 60; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const modelgate::Response answer = client.infer(argv[4], "", body.str());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    if (answer.status != 200) {
      std::fprintf(stderr, "status %d: %s\n", answer.status, answer.body.c_str());
      return 1;
    }
  }
  std::sort(ms.begin(), ms.end());
  std::printf("SDK, %zu sequential requests on one connection: p50 %.2f ms  p90 %.2f  max %.2f\n",
              ms.size(), ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back());
  return 0;
}

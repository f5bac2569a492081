// A gRPC load generator for the KServe v2 ModelInfer RPC (wrk's counterpart): keeps
// CONCURRENCY calls in flight over CHANNELS TLS connections for SECONDS, from 2 threads
// (each with its own completion queue), all sending one fixed serialized request message
// through gRPC's generic stub. Prints, as bench/gateway/post.lua does for wrk:
//   RESULT rps=… p50_ms=… p99_ms=… requests=… errors=…
// usage: grpc_load HOST:PORT CA.pem API_KEY REQUEST.bin [CONCURRENCY] [SECONDS] [CHANNELS]
// (REQUEST.bin: a serialized inference.ModelInferRequest, as make_grpc_request.py writes.)
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr char kModelInfer[] = "/inference.GRPCInferenceService/ModelInfer";

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  Clock::time_point start;
};

struct Worker {
  std::vector<double> latencies_ms;
  uint64_t errors = 0;
};

void run(std::vector<std::unique_ptr<grpc::GenericStub>>& stubs, const std::string& key,
         const grpc::ByteBuffer& request, int in_flight, Clock::time_point until, int first_stub,
         Worker& out) {
  grpc::CompletionQueue queue;
  int next_stub = first_stub;
  auto start_call = [&] {
    auto* call = new Call;
    call->context.AddMetadata("authorization", "Bearer " + key);
    call->start = Clock::now();
    auto& stub = *stubs[static_cast<std::size_t>(next_stub++) % stubs.size()];
    call->reader = stub.PrepareUnaryCall(&call->context, kModelInfer, request, &queue);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  };
  for (int i = 0; i < in_flight; ++i) start_call();
  int outstanding = in_flight;
  void* tag = nullptr;
  bool ok = false;
  while (outstanding > 0 && queue.Next(&tag, &ok)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    --outstanding;
    if (ok && call->status.ok()) {
      out.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - call->start).count());
    } else {
      ++out.errors;
    }
    if (Clock::now() < until) {
      start_call();
      ++outstanding;
    }
  }
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: grpc_load HOST:PORT CA.pem API_KEY REQUEST.bin [CONCURRENCY] [SECONDS] "
                 "[CHANNELS]\n");
    return 2;
  }
  const int concurrency = argc > 5 ? std::stoi(argv[5]) : 64;
  const int seconds = argc > 6 ? std::stoi(argv[6]) : 10;
  const int channels = argc > 7 ? std::stoi(argv[7]) : 2;
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = read_file(argv[2]);
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("mg.channel", c);  // distinct arguments: a connection of its own
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(std::make_unique<grpc::GenericStub>(
        grpc::CreateCustomChannel(argv[1], grpc::SslCredentials(tls), args)));
  }
  const std::string message = read_file(argv[4]);
  grpc::Slice slice(message);
  const grpc::ByteBuffer request(&slice, 1);
  // Warm-up: connections and the server's first requests out of the measurement.
  {
    Worker warm;
    run(stubs, argv[3], request, std::min(concurrency, 8), Clock::now() + std::chrono::seconds(1),
        0, warm);
  }
  const auto start = Clock::now();
  const auto until = start + std::chrono::seconds(seconds);
  std::vector<Worker> workers(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    const int share = concurrency / 2 + (t == 0 ? concurrency % 2 : 0);
    threads.emplace_back([&, t, share] {
      run(stubs, argv[3], request, share, until, t, workers[static_cast<std::size_t>(t)]);
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  uint64_t errors = 0;
  for (auto& w : workers) {
    all.insert(all.end(), w.latencies_ms.begin(), w.latencies_ms.end());
    errors += w.errors;
  }
  std::sort(all.begin(), all.end());
  auto percentile = [&](double p) {
    return all.empty() ? 0.0
                       : all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))];
  };
  std::printf("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f requests=%zu errors=%llu\n",
              static_cast<double>(all.size()) / elapsed, percentile(0.50), percentile(0.99),
              all.size(), static_cast<unsigned long long>(errors));
  return errors > 0 && all.empty() ? 1 : 0;
}

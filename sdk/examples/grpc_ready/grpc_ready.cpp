// Asks a ModelGate server over gRPC whether it is ready and a model's metadata.
// usage: grpc_ready HOST:PORT CA_FILE API_KEY [MODEL]
// Prints each answer's JSON, or its gRPC status code and message; exits 0 when ready.
#include <modelgate/grpc_client.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: grpc_ready HOST:PORT CA_FILE API_KEY [MODEL]\n";
    return 2;
  }
  modelgate::GrpcClientOptions options;
  options.address = argv[1];
  options.ca_file = argv[2];
  options.api_key = argv[3];
  options.timeout = std::chrono::seconds(10);
  modelgate::GrpcClient client(options);
  const modelgate::GrpcResponse ready = client.server_ready();
  if (!ready.ok()) {
    std::cout << "status " << ready.code << ": " << ready.message << "\n";
    return 1;
  }
  std::cout << ready.body << "\n";
  if (argc > 4) {
    const modelgate::GrpcResponse metadata = client.model_metadata(argv[4]);
    std::cout << (metadata.ok()
                      ? metadata.body
                      : "status " + std::to_string(metadata.code) + ": " + metadata.message)
              << "\n";
  }
  return 0;
}

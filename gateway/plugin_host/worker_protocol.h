#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/plugin_host/tensor.h"

// What the server and a backend worker process (modelgate-worker) say to each other
// (docs/architecture.md "Backends out of process"). Messages go over Unix SOCK_SEQPACKET
// sockets, which keep message boundaries and carry file descriptors; tensor bytes never
// do: they sit in shared memory (memfd) that both sides map once and reuse.
//
// A message is a flat little-endian encoding written by Writer and read back by Reader;
// both processes are the same build, so there is no versioning beyond the first field.
namespace mg::gateway::worker {

// A message that does not parse, or a peer that broke the protocol.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Largest control message either side accepts (names, shapes, configs; never tensors).
constexpr std::size_t kMaxMessageBytes = 4 << 20;

enum class Kind : uint32_t { kLoad = 1, kLoaded = 2, kExecute = 3, kExecuted = 4 };

class Writer {
 public:
  explicit Writer(Kind kind) { u32(static_cast<uint32_t>(kind)); }
  Writer& u32(uint32_t v);
  Writer& u64(uint64_t v);
  Writer& i64(int64_t v) { return u64(static_cast<uint64_t>(v)); }
  Writer& str(std::string_view s);
  Writer& shape(const std::vector<int64_t>& shape);
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// Reads what Writer wrote; every read past the end, and any count larger than what is
// left, throws ProtocolError.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  Kind kind();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string str();
  std::vector<int64_t> shape();
  // A count of items each at least `item_bytes` long still to come (a bound on hostile
  // counts before anything is allocated for them).
  uint32_t count(std::size_t item_bytes);

 private:
  std::string_view take(std::size_t n);
  std::string_view rest_;
};

// Sends one message with `fds` attached (SCM_RIGHTS). Throws ProtocolError when the peer
// is gone or the socket fails.
void send_message(int socket, const std::string& bytes, std::span<const int> fds = {});
// Receives one message into `bytes`, appending any descriptors that came with it to `fds`
// (the caller owns them). Returns false when the peer has closed its end.
bool receive_message(int socket, std::string& bytes, std::vector<int>& fds);

// A shared memory region: a memfd mapped read-write. Moves, does not copy; unmaps and
// closes on destruction.
class SharedMemory {
 public:
  SharedMemory() = default;
  // A new region of `bytes` (rounded up to a page).
  static SharedMemory create(const char* name, std::size_t bytes);
  // Maps a region the other side created; takes ownership of `fd`.
  static SharedMemory adopt(int fd);
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  ~SharedMemory();

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  int fd() const { return fd_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  int fd_ = -1;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Where tensor i of a message lives in its region.
struct Placed {
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

// Offsets for tensors of these sizes laid out one after another, each 64-byte aligned
// (inputs are promised 16); `total` receives the bytes the region needs.
std::vector<Placed> lay_out(std::span<const uint64_t> sizes, uint64_t& total);

// Checks a placed tensor lies inside a region of `region_bytes`; throws ProtocolError.
void check_inside(const Placed& placed, std::size_t region_bytes);

}  // namespace mg::gateway::worker

#include "gateway/plugin_host/worker_protocol.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace mg::gateway::worker {

Writer& Writer::u32(uint32_t v) {
  char raw[4];
  for (int i = 0; i < 4; ++i) raw[i] = static_cast<char>(v >> (8 * i));
  bytes_.append(raw, 4);
  return *this;
}

Writer& Writer::u64(uint64_t v) {
  char raw[8];
  for (int i = 0; i < 8; ++i) raw[i] = static_cast<char>(v >> (8 * i));
  bytes_.append(raw, 8);
  return *this;
}

Writer& Writer::str(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  bytes_.append(s);
  return *this;
}

Writer& Writer::shape(const std::vector<int64_t>& shape) {
  u32(static_cast<uint32_t>(shape.size()));
  for (int64_t d : shape) i64(d);
  return *this;
}

std::string_view Reader::take(std::size_t n) {
  if (n > rest_.size()) throw ProtocolError("worker message: truncated");
  std::string_view out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return out;
}

Kind Reader::kind() { return static_cast<Kind>(u32()); }

uint32_t Reader::u32() {
  const std::string_view raw = take(4);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(raw[i])} << (8 * i);
  return v;
}

uint64_t Reader::u64() {
  const std::string_view raw = take(8);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(raw[i])} << (8 * i);
  return v;
}

uint32_t Reader::count(std::size_t item_bytes) {
  const uint32_t n = u32();
  if (item_bytes > 0 && n > rest_.size() / item_bytes) {
    throw ProtocolError("worker message: a count larger than the message");
  }
  return n;
}

std::string Reader::str() {
  const uint32_t n = u32();
  return std::string(take(n));
}

std::vector<int64_t> Reader::shape() {
  const uint32_t rank = count(8);
  std::vector<int64_t> shape(rank);
  for (auto& d : shape) d = i64();
  return shape;
}

void send_message(int socket, const std::string& bytes, std::span<const int> fds) {
  iovec io{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    throw ProtocolError(std::string("worker socket: send failed: ") + std::strerror(errno));
  }
}

bool receive_message(int socket, std::string& bytes, std::vector<int>& fds) {
  // One buffer of the largest message per thread, never cleared: sizing (zero-filling)
  // 4 MiB for every message of a few hundred bytes was most of a worker's time.
  thread_local const std::unique_ptr<char[]> buffer =
      std::make_unique_for_overwrite<char[]>(kMaxMessageBytes);
  iovec io{buffer.get(), kMaxMessageBytes};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 64)];
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t got;
  do {
    got = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0 && errno == ECONNRESET) got = 0;  // the peer died with data unread
  if (got < 0) {
    throw ProtocolError(std::string("worker socket: receive failed: ") + std::strerror(errno));
  }
  for (cmsghdr* h = CMSG_FIRSTHDR(&message); h != nullptr; h = CMSG_NXTHDR(&message, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
      fds.push_back(fd);
    }
  }
  if (got == 0) {
    bytes.clear();
    return false;
  }
  if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    throw ProtocolError("worker socket: a message larger than the protocol allows");
  }
  bytes.assign(buffer.get(), static_cast<std::size_t>(got));
  return true;
}

SharedMemory SharedMemory::create(const char* name, std::size_t bytes) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  bytes = std::max(page, (bytes + page - 1) / page * page);
  const int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("memfd_create: ") + std::strerror(errno));
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error(std::string("shared memory of ") + std::to_string(bytes) +
                             " bytes: " + std::strerror(e));
  }
  return adopt(fd);
}

SharedMemory SharedMemory::adopt(int fd) {
  const off_t end = ::lseek(fd, 0, SEEK_END);
  if (end <= 0) {
    ::close(fd);
    throw ProtocolError("shared memory: an empty or unreadable region");
  }
  void* data =
      ::mmap(nullptr, static_cast<std::size_t>(end), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error(std::string("shared memory: mmap failed: ") + std::strerror(e));
  }
  SharedMemory region;
  region.fd_ = fd;
  region.data_ = static_cast<std::byte*>(data);
  region.size_ = static_cast<std::size_t>(end);
  return region;
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : fd_(other.fd_), data_(other.data_), size_(other.size_) {
  other.fd_ = -1;
  other.data_ = nullptr;
  other.size_ = 0;
}

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
  if (this != &other) {
    this->~SharedMemory();
    new (this) SharedMemory(std::move(other));
  }
  return *this;
}

SharedMemory::~SharedMemory() {
  if (data_ != nullptr) ::munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  fd_ = -1;
}

std::vector<Placed> lay_out(std::span<const uint64_t> sizes, uint64_t& total) {
  std::vector<Placed> placed;
  uint64_t offset = 0;
  for (uint64_t bytes : sizes) {
    placed.push_back(Placed{offset, bytes});
    offset += (bytes + 63) / 64 * 64;
  }
  total = offset;
  return placed;
}

void check_inside(const Placed& placed, std::size_t region_bytes) {
  if (placed.offset > region_bytes || placed.bytes > region_bytes - placed.offset) {
    throw ProtocolError("worker message: a tensor outside its shared memory");
  }
}

}  // namespace mg::gateway::worker

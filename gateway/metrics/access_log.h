#pragma once

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace mg::gateway {

// The structured access log: one JSON object per line per request (issue 7). Requests
// append to a buffer; a background thread writes it out every 200 ms (and at exit), so a
// request never waits on a write to disk or a pipe.
class AccessLog {
 public:
  // "stdout", "stderr", a file path (appended to), or "off" (nullptr).
  static std::unique_ptr<AccessLog> open(const std::string& where);
  explicit AccessLog(std::FILE* out, bool owned);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void write(const std::string& line);  // without the newline

 private:
  void flush_loop();

  std::FILE* out_;
  bool owned_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string pending_;
  bool stopping_ = false;
  std::thread writer_;  // last
};

}  // namespace mg::gateway

#include "common/log.h"

#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

namespace mg {
namespace {

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "log";
}

void write_stderr(LogLevel level, std::string_view message) {
  std::string line(level_name(level));
  line += ": ";
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::mutex& sink_mutex() {
  static std::mutex mutex;
  return mutex;
}

LogSink& current_sink() {
  static LogSink sink = write_stderr;
  return sink;
}

}  // namespace

LogSink set_log_sink(LogSink sink) {
  std::lock_guard lock(sink_mutex());
  if (!sink) sink = write_stderr;
  return std::exchange(current_sink(), std::move(sink));
}

void log(LogLevel level, std::string_view message) {
  std::lock_guard lock(sink_mutex());
  current_sink()(level, message);
}

}  // namespace mg

#pragma once

#include <functional>
#include <string_view>

namespace mg {

enum class LogLevel { kError = 1, kWarn = 2, kInfo = 3, kDebug = 4 };

// Where log lines go. The default writes "<level>: <message>" to stderr. Thread-safe.
using LogSink = std::function<void(LogLevel, std::string_view)>;

// Replaces the process-wide sink and returns the previous one (tests capture lines with
// it). Plugins log through the C ABI's host table, which carries no context pointer, so
// the sink is process-wide by necessity.
LogSink set_log_sink(LogSink sink);
void log(LogLevel level, std::string_view message);

}  // namespace mg

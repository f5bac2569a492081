#include "gateway/metrics/scrape_collectors.h"

#include <sys/resource.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace mg::gateway {

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  auto add = [&](const char* name, const char* help, prometheus::MetricType type, double value) {
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    families.push_back(prometheus::MetricFamily{name, help, type, {metric}});
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(fields)),
                             std::istream_iterator<std::string>());
  if (f.size() > 22) {  // f[0] is field 3 (state): utime 14, stime 15, start 22, vsize 23, rss 24
    add("process_cpu_seconds_total", "User and system CPU time", prometheus::MetricType::Counter,
        (std::stod(f[11]) + std::stod(f[12])) / ticks);
    add("process_virtual_memory_bytes", "Virtual memory size", prometheus::MetricType::Gauge,
        std::stod(f[20]));
    add("process_resident_memory_bytes", "Resident memory size", prometheus::MetricType::Gauge,
        std::stod(f[21]) * page);
    std::ifstream uptime("/proc/uptime");
    double up = 0;
    uptime >> up;
    const double now = static_cast<double>(std::time(nullptr));
    add("process_start_time_seconds", "Start time since the epoch", prometheus::MetricType::Gauge,
        now - up + std::stod(f[19]) / ticks);
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  add("process_open_fds", "Open file descriptors", prometheus::MetricType::Gauge, fds);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    add("process_max_fds", "File descriptor limit", prometheus::MetricType::Gauge,
        static_cast<double>(limit.rlim_cur));
  }
  return families;
}

std::vector<prometheus::MetricFamily> StateCollector::Collect() const {
  prometheus::MetricFamily states{"modelgate_model_state",
                                  "1 for each model version's current state",
                                  prometheus::MetricType::Gauge,
                                  {}};
  for (const auto& v : state_.versions()) {
    prometheus::ClientMetric metric;
    metric.label = {{"model", v.model}, {"state", v.state}, {"version", std::to_string(v.version)}};
    metric.gauge.value = 1;
    states.metric.push_back(std::move(metric));
  }
  prometheus::MetricFamily backends{"modelgate_backend_info",
                                    "1 for each backend plugin found, with its state",
                                    prometheus::MetricType::Gauge,
                                    {}};
  for (const auto& b : state_.backends()) {
    prometheus::ClientMetric metric;
    metric.label = {
        {"abi", b.abi}, {"backend", b.backend}, {"state", b.state}, {"version", b.version}};
    metric.gauge.value = 1;
    backends.metric.push_back(std::move(metric));
  }
  prometheus::MetricFamily dependencies{
      "modelgate_dependency_up",
      "Cluster mode: 1 while the service answers (postgres: the catalogue check; redis: the "
      "shared limits), 0 while it does not",
      prometheus::MetricType::Gauge,
      {}};
  for (const auto& d : state_.dependencies()) {
    prometheus::ClientMetric metric;
    metric.label = {{"dependency", d.name}};
    metric.gauge.value = d.up ? 1 : 0;
    dependencies.metric.push_back(std::move(metric));
  }
  prometheus::MetricFamily workers{
      "modelgate_worker_resident_bytes",
      "Resident memory of each model version's backend worker process (0 while restarting)",
      prometheus::MetricType::Gauge,
      {}};
  for (const auto& w : state_.workers()) {
    prometheus::ClientMetric metric;
    metric.label = {{"model", w.model}, {"version", std::to_string(w.version)}};
    metric.gauge.value = static_cast<double>(w.resident_bytes);
    workers.metric.push_back(std::move(metric));
  }
  std::vector<prometheus::MetricFamily> families;
  add_shadow_families(families);
  if (!workers.metric.empty()) families.push_back(std::move(workers));
  families.push_back(std::move(states));
  families.push_back(std::move(backends));
  if (!dependencies.metric.empty()) families.push_back(std::move(dependencies));
  return families;
}

void StateCollector::add_shadow_families(std::vector<prometheus::MetricFamily>& families) const {
  const auto shadows = state_.shadows();
  if (shadows.empty()) return;
  struct Figure {
    const char* name;
    const char* help;
    prometheus::MetricType type;
    double (*value)(const ServerState::ShadowState&);
  };
  static const Figure kFigures[] = {
      {"modelgate_shadow_copies_total", "Requests copied to a shadow candidate",
       prometheus::MetricType::Counter,
       [](const ServerState::ShadowState& s) { return static_cast<double>(s.copies); }},
      {"modelgate_shadow_errors_total",
       "Copies the shadow candidate failed (never seen by callers)",
       prometheus::MetricType::Counter,
       [](const ServerState::ShadowState& s) { return static_cast<double>(s.errors); }},
      {"modelgate_shadow_dropped_total",
       "Copies not run because the shadow's queue was full (the server was busy)",
       prometheus::MetricType::Counter,
       [](const ServerState::ShadowState& s) { return static_cast<double>(s.dropped); }},
      {"modelgate_shadow_rows_total", "Rows of the candidate's answers compared",
       prometheus::MetricType::Counter,
       [](const ServerState::ShadowState& s) { return static_cast<double>(s.rows); }},
      {"modelgate_shadow_agreed_rows_total",
       "Compared rows whose top-1 class matched the served answer's",
       prometheus::MetricType::Counter,
       [](const ServerState::ShadowState& s) { return static_cast<double>(s.agreed_rows); }},
      {"modelgate_shadow_max_abs_diff",
       "Largest absolute difference between the candidate's and the served scores",
       prometheus::MetricType::Gauge,
       [](const ServerState::ShadowState& s) { return s.max_abs_diff; }},
  };
  for (const Figure& f : kFigures) {
    prometheus::MetricFamily family{f.name, f.help, f.type, {}};
    for (const auto& shadow : shadows) {
      prometheus::ClientMetric metric;
      metric.label = {{"model", shadow.model}, {"version", std::to_string(shadow.version)}};
      if (f.type == prometheus::MetricType::Counter) {
        metric.counter.value = f.value(shadow);
      } else {
        metric.gauge.value = f.value(shadow);
      }
      family.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(family));
  }
}

}  // namespace mg::gateway

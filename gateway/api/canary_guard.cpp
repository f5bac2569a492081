#include "gateway/api/canary_guard.h"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/log.h"
#include "gateway/serving/model_repository.h"
#include "registry/registry.h"

namespace mg::gateway {

CanaryThresholds canary_thresholds(const boost::json::object& canary) {
  CanaryThresholds t;
  // The value of `key` when present; `within` says whether it is acceptable, `what`
  // describes the acceptable values for the refusal.
  const auto number = [&canary](const char* key, bool (*within)(double),
                                const char* what) -> std::optional<double> {
    const boost::json::value* v = canary.if_contains(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_number() || !within(v->to_number<double>())) {
      throw std::invalid_argument(std::string("canary: '") + key + "' must be " + what);
    }
    return v->to_number<double>();
  };
  for (const auto& [key, value] : canary) {
    if (key != "max_error_rate" && key != "max_p99_ms" && key != "min_requests") {
      throw std::invalid_argument("canary: unknown key '" + std::string(key) +
                                  "' (max_error_rate, max_p99_ms, min_requests)");
    }
  }
  t.max_error_rate = number(
      "max_error_rate", [](double x) { return x >= 0 && x <= 1; }, "a share from 0 to 1");
  t.max_p99_ms = number(
      "max_p99_ms", [](double x) { return x > 0 && x <= 1e9; },
      "a positive number of milliseconds");
  if (const auto n = number(
          "min_requests", [](double x) { return x >= 1 && x <= 1e12 && x == std::floor(x); },
          "a whole number of at least 1")) {
    t.min_requests = static_cast<uint64_t>(*n);
  }
  if (!t.max_error_rate && !t.max_p99_ms) {
    throw std::invalid_argument("canary: set max_error_rate, max_p99_ms or both");
  }
  return t;
}

boost::json::object canary_json(const CanaryThresholds& t) {
  boost::json::object out{{"min_requests", t.min_requests}};
  if (t.max_error_rate) out["max_error_rate"] = *t.max_error_rate;
  if (t.max_p99_ms) out["max_p99_ms"] = *t.max_p99_ms;
  return out;
}

namespace {

// The model config's "canary"; nullopt when it has none or it is malformed (it is checked
// when set through the admin API, but a config given at creation is not) — then `why`
// says what is wrong.
std::optional<CanaryThresholds> thresholds_of(const std::string& config_json, std::string& why) {
  boost::system::error_code ec;
  const boost::json::value config = boost::json::parse(config_json, ec);
  const boost::json::value* canary =
      !ec && config.is_object() ? config.as_object().if_contains("canary") : nullptr;
  if (canary == nullptr || !canary->is_object()) return std::nullopt;
  try {
    return canary_thresholds(canary->as_object());
  } catch (const std::invalid_argument& e) {
    why = e.what();
    return std::nullopt;
  }
}

// Why a canary version's window fails `t`; "" when it passes (or has too few requests).
std::string failing_figures(int64_t version, uint64_t ok, uint64_t failed, double p99_ms,
                            const CanaryThresholds& t) {
  char figures[200];
  const uint64_t total = ok + failed;
  if (total < t.min_requests) return "";
  const double rate = static_cast<double>(failed) / static_cast<double>(total);
  if (t.max_error_rate && rate > *t.max_error_rate) {
    std::snprintf(figures, sizeof figures,
                  "version %lld failed %llu of %llu requests (%.1f %%, max_error_rate %.1f %%)",
                  static_cast<long long>(version), static_cast<unsigned long long>(failed),
                  static_cast<unsigned long long>(total), 100 * rate, 100 * *t.max_error_rate);
    return figures;
  }
  if (t.max_p99_ms && ok >= t.min_requests && p99_ms > *t.max_p99_ms) {
    std::snprintf(figures, sizeof figures,
                  "version %lld answered %llu requests with a p99 of %.3f ms (max_p99_ms %.3f)",
                  static_cast<long long>(version), static_cast<unsigned long long>(ok), p99_ms,
                  *t.max_p99_ms);
    return figures;
  }
  return "";
}

}  // namespace

std::vector<std::string> CanaryGuard::check() {
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const registry::Catalog> catalog = s_.registry.catalog();
  std::vector<std::string> rolled_back;
  std::set<std::tuple<std::string, std::string, int64_t>> live;
  for (const auto& [model, entry] : catalog->models) {
    if (entry.splits.empty()) continue;  // no canary: its config is not read every second
    std::string why;
    const auto thresholds = thresholds_of(entry.model.config_json, why);
    if (!thresholds) {
      // Said once per config, not every second.
      if (!why.empty() && warned_.insert(model + '\n' + entry.model.config_json).second) {
        log(LogLevel::kWarn, "model " + model + ": ignoring its canary config: " + why);
      }
      continue;
    }
    for (const auto& [alias, split] : entry.splits) {
      for (std::size_t i = 1; i < split.versions.size(); ++i) {
        const int64_t version = split.versions[i].version;
        const auto loaded = s_.models.find(model, version);
        if (loaded == nullptr) continue;
        const VersionStats::Snapshot stats = loaded->stats()->snapshot();
        const LatencyHistogram::Counts latency = loaded->stats()->latency().snapshot();
        const auto key = std::make_tuple(model, alias, version);
        live.insert(key);
        const auto [it, first] =
            seen_.try_emplace(key, Seen{stats.success.count, stats.fail.count, latency});
        if (first) continue;
        const uint64_t ok = stats.success.count - it->second.ok;
        const uint64_t failed = stats.fail.count - it->second.failed;
        const double p99_ms = std::chrono::duration<double, std::milli>(
                                  LatencyHistogram::quantile(latency, it->second.latency, 0.99))
                                  .count();
        const std::string figures = failing_figures(version, ok, failed, p99_ms, *thresholds);
        if (figures.empty()) continue;
        try {
          s_.models.switch_alias(model, alias, split.versions.front().version, "canary-guard");
          log(LogLevel::kWarn, "canary of " + model + ":" + alias + " rolled back to version " +
                                   std::to_string(split.versions.front().version) + ": " + figures);
          rolled_back.push_back(model + ":" + alias);
        } catch (const std::exception& e) {
          log(LogLevel::kError, "canary of " + model + ":" + alias + " (" + figures +
                                    ") could not be rolled back: " + e.what());
        }
        break;  // this alias is decided
      }
    }
  }
  std::erase_if(seen_, [&live](const auto& item) { return live.count(item.first) == 0; });
  return rolled_back;
}

void CanaryGuard::start(std::chrono::milliseconds period) {
  thread_ = std::thread([this, period] {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, period, [this] { return stopping_; })) return;
      }
      try {
        check();
      } catch (const std::exception& e) {
        log(LogLevel::kError, std::string("canary guard: ") + e.what());
      }
    }
  });
}

void CanaryGuard::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace mg::gateway

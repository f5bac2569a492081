#include "gateway/api/canary_guard.h"

#include <boost/json.hpp>
#include <cstdio>
#include <set>

#include "common/log.h"
#include "gateway/serving/model_repository.h"
#include "registry/registry.h"

namespace mg::gateway {
namespace {

struct Thresholds {
  double max_error_rate = 1;
  uint64_t min_requests = 100;
};

// The model config's "canary"; nullopt when it has none or it is malformed.
std::optional<Thresholds> thresholds_of(const std::string& config_json) {
  boost::system::error_code ec;
  const boost::json::value config = boost::json::parse(config_json, ec);
  const boost::json::value* canary =
      !ec && config.is_object() ? config.as_object().if_contains("canary") : nullptr;
  if (canary == nullptr || !canary->is_object()) return std::nullopt;
  const boost::json::object& c = canary->as_object();
  const boost::json::value* rate = c.if_contains("max_error_rate");
  if (rate == nullptr || !rate->is_number()) return std::nullopt;
  Thresholds t;
  t.max_error_rate = rate->to_number<double>();
  if (const boost::json::value* n = c.if_contains("min_requests"); n != nullptr && n->is_int64()) {
    t.min_requests = static_cast<uint64_t>(std::max<int64_t>(1, n->as_int64()));
  }
  if (t.max_error_rate < 0 || t.max_error_rate > 1) return std::nullopt;
  return t;
}

}  // namespace

std::vector<std::string> CanaryGuard::check() {
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const registry::Catalog> catalog = s_.registry.catalog();
  std::vector<std::string> rolled_back;
  std::set<std::tuple<std::string, std::string, int64_t>> live;
  for (const auto& [model, entry] : catalog->models) {
    if (entry.splits.empty()) continue;  // no canary: its config is not read every second
    const auto thresholds = thresholds_of(entry.model.config_json);
    if (!thresholds) continue;
    for (const auto& [alias, split] : entry.splits) {
      for (std::size_t i = 1; i < split.versions.size(); ++i) {
        const int64_t version = split.versions[i].version;
        const auto loaded = s_.models.find(model, version);
        if (loaded == nullptr) continue;
        const VersionStats::Snapshot stats = loaded->stats()->snapshot();
        const auto key = std::make_tuple(model, alias, version);
        live.insert(key);
        const auto [it, first] =
            seen_.try_emplace(key, Seen{stats.success.count, stats.fail.count});
        if (first) continue;
        const uint64_t ok = stats.success.count - it->second.ok;
        const uint64_t failed = stats.fail.count - it->second.failed;
        if (ok + failed < thresholds->min_requests) continue;
        const double rate = static_cast<double>(failed) / static_cast<double>(ok + failed);
        if (rate <= thresholds->max_error_rate) continue;
        char figures[160];
        std::snprintf(figures, sizeof figures,
                      "version %lld failed %llu of %llu requests (%.1f %%, max_error_rate %.1f %%)",
                      static_cast<long long>(version), static_cast<unsigned long long>(failed),
                      static_cast<unsigned long long>(ok + failed), 100 * rate,
                      100 * thresholds->max_error_rate);
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

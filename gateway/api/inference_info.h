#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gateway/limits/rate_limiter.h"
#include "gateway/serving/version_stats.h"
#include "registry/records.h"

namespace mg::gateway {

// What metrics, usage and the RateLimit headers learn about a request as it is handled.
struct InferenceInfo {
  std::string model;
  int64_t version = 0;  // 0 until the path resolved to a registered version
  uint64_t items = 0;
  std::string tenant, key_id;                       // once authenticated
  double queue_seconds = -1, compute_seconds = -1;  // once batched
  // Decoding and validating the request, encoding its answer (Triton's compute_input and
  // compute_output); -1 until done.
  double input_seconds = -1, output_seconds = -1;
  std::shared_ptr<VersionStats> stats;  // the version's, once the path resolved to a loaded one
  std::optional<LimitState> limit;      // the tighter of the key's rate and the tenant's quota
  // Cluster mode: the usage the shared admit step already counted for this request (one
  // request of one item on the version its path resolved to), corrected by the answer.
  std::optional<registry::UsageRow> counted_usage;
};

}  // namespace mg::gateway

#include "gateway/serving/loop_gather.h"

#include <utility>
#include <vector>

#include "gateway/plugin_host/backend_error.h"
#include "gateway/serving/model_repository.h"

namespace mg::gateway {
namespace {

// One loop's requests waiting for the handlers ready with them to finish. If the loop ends
// first (a server stopped without draining), they go with it unanswered.
struct Gather {
  std::vector<std::pair<std::shared_ptr<LoadedVersion>, DynamicBatcher::Gathered>> staged;
};

// Names the loop's Gather in EventLoop::local.
constexpr char kGatherKey = 0;

Gather& gather_of(EventLoop& loop) {
  std::shared_ptr<void>& slot = loop.local(&kGatherKey);
  if (!slot) slot = std::make_shared<Gather>();
  return *static_cast<Gather*>(slot.get());
}

// Runs what was staged: each version's requests together, versions in the order their
// first request came.
void run_staged(EventLoop& loop) {
  auto staged = std::move(gather_of(loop).staged);
  gather_of(loop).staged.clear();
  std::vector<DynamicBatcher::Gathered> group;
  try {
    group.reserve(staged.size());  // the only step that may throw
  } catch (const std::bad_alloc&) {
    for (auto& [version, request] : staged) {
      request.done(
          RequestResult{Failure{MG_ERROR_OUT_OF_MEMORY, "out of memory running the batch"}});
    }
    return;
  }
  for (std::size_t first = 0; first < staged.size(); ++first) {
    std::shared_ptr<LoadedVersion> version = std::move(staged[first].first);
    if (!version) continue;  // run with an earlier version's group
    group.clear();
    group.push_back(std::move(staged[first].second));
    for (std::size_t i = first + 1; i < staged.size(); ++i) {
      if (staged[i].first != version) continue;
      group.push_back(std::move(staged[i].second));
      staged[i].first.reset();
    }
    version->run_gathered(group);
  }
}

}  // namespace

void gather_on_loop(EventLoop& loop, std::shared_ptr<LoadedVersion> version,
                    DynamicBatcher::Gathered request) {
  Gather& gather = gather_of(loop);
  if (gather.staged.empty()) loop.post([&loop] { run_staged(loop); });
  gather.staged.emplace_back(std::move(version), std::move(request));
}

}  // namespace mg::gateway

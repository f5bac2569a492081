#pragma once

#include <memory>

#include "common/event_loop.h"
#include "gateway/serving/batcher.h"

namespace mg::gateway {

class LoadedVersion;

// Gathers the inference requests a socket thread takes while it runs the handlers that
// were ready together (one pass over what epoll reported), and runs them once those
// handlers have run (EventLoop::post), as one batch per model version on that same thread
// (LoadedVersion::run_gathered). On a server whose socket threads run small models
// themselves, this is dynamic batching without a queue delay and without a thread
// hand-off: requests that arrived together share an execute call, and a request that
// arrived alone runs alone, as soon as before. Call on the loop's own thread.
void gather_on_loop(EventLoop& loop, std::shared_ptr<LoadedVersion> version,
                    DynamicBatcher::Gathered request);

}  // namespace mg::gateway

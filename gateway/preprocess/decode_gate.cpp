#include "gateway/preprocess/decode_gate.h"

#include <algorithm>
#include <thread>

namespace mg::gateway {

DecodeGate::DecodeGate(int slots) : free_(std::max(slots, 1)) {}

std::shared_ptr<void> DecodeGate::enter() {
  {
    std::unique_lock lock(mutex_);
    freed_.wait(lock, [this] { return free_ > 0; });
    --free_;
    max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
  }
  // The handle owns nothing but its release: the deleter gives the slot back.
  return std::shared_ptr<void>(this, [](DecodeGate* gate) {
    {
      std::lock_guard lock(gate->mutex_);
      ++gate->free_;
      --gate->in_flight_;
    }
    gate->freed_.notify_one();
  });
}

int DecodeGate::max_in_flight() const {
  std::lock_guard lock(mutex_);
  return max_in_flight_;
}

DecodeGate& large_image_gate() {
  static DecodeGate gate(std::max(2, static_cast<int>(std::thread::hardware_concurrency())));
  return gate;
}

}  // namespace mg::gateway

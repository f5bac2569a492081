#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace mg::gateway {

// Bounds how many large images are decoded at once. A request may carry images of up to
// max_pixels each (24 Mpixel: 72 MiB as RGB), and every handler thread may be decoding
// one: without a bound, 32 handler threads could hold 2.3 GiB of pixels and every core.
// A decode past the gate's pixel count waits for one of its slots; smaller ones never do.
class DecodeGate {
 public:
  explicit DecodeGate(int slots);
  // Waits for a slot; the slot is free again when the returned handle is released.
  std::shared_ptr<void> enter();
  // The most slots ever held at once (tests check the bound with it).
  int max_in_flight() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  int free_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
};

// The server's gate: as many slots as cores (at least 2).
DecodeGate& large_image_gate();

}  // namespace mg::gateway

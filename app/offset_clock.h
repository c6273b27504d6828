// OffsetClock: the system clock shifted by an offset read from a file, for
// end-to-end tests of time-dependent behaviour through the real binary (key
// rotation grace, rate-limit refill) without sleeping. `tally serve
// --clock-offset-file F` uses it; the file holds milliseconds as text and is
// re-read by Poll(). Never used unless that flag is given.
// Thread-safe: the offset is an atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/clock.h"

namespace app {

class OffsetClock final : public core::Clock {
 public:
  explicit OffsetClock(std::string path) : path_(std::move(path)) { Poll(); }
  int64_t NowMs() const override { return base_.NowMs() + offset_ms_.load(); }
  int64_t MonotonicNs() const override { return base_.MonotonicNs() + offset_ms_.load() * 1'000'000; }
  // Re-reads the offset; a missing or unreadable file leaves it unchanged.
  void Poll() {
    std::ifstream in(path_);
    long long ms = 0;
    if (in >> ms) offset_ms_.store(ms);
  }

 private:
  const std::string path_;
  core::SystemClock base_;
  std::atomic<int64_t> offset_ms_{0};
};

}  // namespace app

#include "config/config.h"

namespace config {

std::vector<TierLimits> DefaultTiers() {
  constexpr int64_t kGiB = 1LL << 30;
  // name, rpm, ingest rpm, events/month, retention days, members, projects, bandwidth/month
  return {
      {"free", 60, 600, 100'000, 7, 3, 3, 1 * kGiB},
      {"standard", 300, 6'000, 1'000'000, 30, 10, 10, 10 * kGiB},
      {"growth", 300, 6'000, 1'000'000, 30, 10, 10, 10 * kGiB},
      {"pro", 1'000, 60'000, 10'000'000, 90, 50, 50, 100 * kGiB},
      {"scale", 1'000, 60'000, 10'000'000, 90, 50, 50, 100 * kGiB},
      // The operator's own tier (the bootstrap account): generous, ingest unlimited.
      {"enterprise", 10'000, 0, 0, 365, 0, 0, 0},
  };
}

const TierLimits* FindTier(const std::vector<TierLimits>& tiers, const std::string& name) {
  for (const TierLimits& t : tiers) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace config

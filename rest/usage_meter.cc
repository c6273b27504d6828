#include "rest/usage_meter.h"

#include <functional>

namespace rest {
namespace {

constexpr int64_t kHourMs = 3'600'000;

int64_t HourStart(int64_t ms) { return ms - ((ms % kHourMs) + kHourMs) % kHourMs; }

}  // namespace

void UsageMeter::Record(const std::string& account_id, const std::string& project_id,
                        const std::string& capability, int64_t ingress_bytes,
                        int64_t egress_bytes, int64_t now_ms) {
  Shard& shard = shards_[std::hash<std::string>{}(account_id) % kShards];
  std::lock_guard lock(shard.mu);
  Counts& c = shard.pending[Key{account_id, project_id, HourStart(now_ms), capability}];
  ++c.requests;
  c.ingress += ingress_bytes;
  c.egress += egress_bytes;
}

core::Status UsageMeter::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::array<std::map<Key, Counts>, kShards> taken;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    taken[i].swap(shards_[i].pending);
  }
  std::vector<control::UsageRow> rows;
  for (const auto& shard : taken) {
    for (const auto& [key, c] : shard) {
      rows.push_back(control::UsageRow{std::get<0>(key), std::get<1>(key), std::get<2>(key),
                                       std::get<3>(key), c.requests, c.ingress, c.egress});
    }
  }
  if (rows.empty()) return {};
  core::Status status = db_.AddUsage(rows);
  if (!status) {
    // Put the counts back so the next flush retries them.
    for (size_t i = 0; i < kShards; ++i) {
      std::lock_guard lock(shards_[i].mu);
      for (const auto& [key, c] : taken[i]) {
        Counts& dst = shards_[i].pending[key];
        dst.requests += c.requests;
        dst.ingress += c.ingress;
        dst.egress += c.egress;
      }
    }
  }
  return status;
}

core::Result<std::vector<control::UsageRow>> UsageMeter::Query(const std::string& account_id,
                                                                int64_t start_ms, int64_t end_ms) {
  std::lock_guard flush_lock(flush_mu_);
  auto rows = db_.QueryUsage(account_id, start_ms, end_ms);
  if (!rows) return rows;
  Shard& shard = shards_[std::hash<std::string>{}(account_id) % kShards];
  std::lock_guard lock(shard.mu);
  for (const auto& [key, c] : shard.pending) {
    const auto& [account, project, hour, capability] = key;
    if (account != account_id || hour < start_ms || hour >= end_ms) continue;
    rows->push_back(control::UsageRow{account, project, hour, capability, c.requests, c.ingress,
                                      c.egress});
  }
  return rows;
}

}  // namespace rest

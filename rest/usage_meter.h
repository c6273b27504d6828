// UsageMeter: counts requests and HTTP bytes per account, project, hour and
// capability (the route name, e.g. "metrics.report"), for the account usage and
// bandwidth routes (API.md section 4). Counts are kept in memory and written to
// the ControlPlane by Flush() (a runner calls it every auth.usage_flush_interval
// and at shutdown); Query() returns stored plus not-yet-flushed counts, so reads
// are exact at any moment. A crash loses at most one flush interval of counts.
//
// Thread-safe: Record() locks one of kShards mutexes; Flush() and Query() are
// serialised by flush_mu_ so a query never sees counts in flight between the
// two places.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "store/control/control_plane.h"

namespace rest {

class UsageMeter {
 public:
  explicit UsageMeter(control::ControlPlane& db) : db_(db) {}

  void Record(const std::string& account_id, const std::string& project_id,
              const std::string& capability, int64_t ingress_bytes, int64_t egress_bytes,
              int64_t now_ms);

  core::Status Flush();

  // Usage rows of the account with hour_start in [start_ms, end_ms), stored and pending.
  core::Result<std::vector<control::UsageRow>> Query(const std::string& account_id,
                                                     int64_t start_ms, int64_t end_ms);

 private:
  static constexpr size_t kShards = 8;
  using Key = std::tuple<std::string, std::string, int64_t, std::string>;
  struct Counts {
    int64_t requests = 0;
    int64_t ingress = 0;
    int64_t egress = 0;
  };
  struct Shard {
    std::mutex mu;
    std::map<Key, Counts> pending;  // guarded by mu
  };

  control::ControlPlane& db_;
  std::mutex flush_mu_;
  std::array<Shard, kShards> shards_;
};

}  // namespace rest

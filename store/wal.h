// Wal: the write-ahead log (DESIGN.md section 4).
//
// Segment files `<dir>/<00000001>.wal` hold records framed as
//   [length u32 LE][crc32c u32 LE][type u8][payload: length bytes]
// with the CRC over type and payload. Append() returns once the record is
// durable under the policy: kAlways = written and fdatasync'ed, with concurrent
// appends sharing one write and one fdatasync (group commit: the first waiter
// becomes the leader and flushes everyone's records); kInterval = written to
// the OS, synced by Sync() from a runner (bounded loss window); kNever = written.
//
// After a failed write or sync, the segment is truncated back to the last good
// size on the next Append, so a full disk costs the failed requests only and the
// log recovers when space returns.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"

namespace store {

enum class WalSync { kAlways, kInterval, kNever };

struct WalOptions {
  std::string dir;
  WalSync sync = WalSync::kAlways;
  uint64_t segment_bytes = 64ull << 20;  // a new segment starts past this size
  // Times fdatasync calls for the latency histogram; null = not timed.
  const core::Clock* clock = nullptr;
};

// Upper bounds (seconds) of the fsync latency histogram in WalStats.
inline constexpr double kFsyncBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                           0.05,   0.1,   0.25,   0.5,   1,    2.5};
inline constexpr size_t kFsyncBucketCount = sizeof(kFsyncBuckets) / sizeof(kFsyncBuckets[0]);

struct WalReplayStats {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t segments = 0;
  uint64_t truncated_bytes = 0;   // torn/corrupt tail removed from the last segment
  uint64_t dropped_bytes = 0;     // with repair: bytes dropped after mid-log damage
  std::vector<std::string> notes;  // what was truncated or dropped, for the log
};

struct WalStats {
  uint64_t appended_records = 0;
  uint64_t appended_bytes = 0;
  uint64_t syncs = 0;
  uint64_t failures = 0;
  uint64_t current_segment = 0;
  // fdatasync latency: counts per kFsyncBuckets bound (not cumulative), sum, count.
  uint64_t fsync_buckets[kFsyncBucketCount] = {};
  double fsync_seconds_sum = 0;
  uint64_t fsync_count = 0;
};

// Framing, exposed for tests and the snapshot format.
std::string FrameRecord(uint8_t type, std::string_view payload);
inline constexpr size_t kRecordHeaderBytes = 9;

class Wal {
 public:
  using RecordFn = std::function<core::Status(uint8_t type, std::string_view payload)>;

  // Replays the records of every segment numbered >= `first_segment`, in order.
  // A damaged tail in the last segment (torn write, bad CRC, zero fill) is cut off
  // and noted. Damage anywhere else fails with the file and offset, unless
  // `repair`: then the damaged segment is cut at the damage and later segments are
  // removed (every record before the damage is kept). An error from `fn` stops
  // the replay and is returned.
  static core::Result<WalReplayStats> Replay(core::Env& env, const std::string& dir,
                                             uint64_t first_segment, bool repair,
                                             const RecordFn& fn);

  // Opens the log for appending in a new segment after the newest existing one.
  static core::Result<std::unique_ptr<Wal>> Open(core::Env& env, WalOptions options);

  ~Wal();

  // Appends one record and returns when it is durable under the policy.
  core::Status Append(uint8_t type, std::string_view payload);

  // Syncs what was written (for kInterval runners and clean shutdown).
  core::Status Sync();

  // Starts a new segment; returns its number. Every record appended after this
  // returns lands in a segment >= that number.
  core::Result<uint64_t> Rotate();

  // Removes segments numbered < `segment` (they are covered by a snapshot).
  core::Status RemoveSegmentsBefore(uint64_t segment);

  WalStats Stats() const;

  // "<dir>/00000042.wal"
  static std::string SegmentPath(const std::string& dir, uint64_t segment);
  // Segment numbers present in `dir`, ascending.
  static core::Result<std::vector<uint64_t>> ListSegments(core::Env& env, const std::string& dir);

 private:
  Wal(core::Env& env, WalOptions options) : env_(env), options_(std::move(options)) {}
  core::Status OpenSegmentLocked(uint64_t segment);
  // Writes (and syncs, per policy) `batch`. Called by the leader without mu_ held.
  core::Status Flush(const std::string& batch);
  // fdatasync of the current file, timed into the histogram. Leader only.
  core::Status TimedSync();

  core::Env& env_;
  const WalOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;          // framed records not yet handed to a leader; guarded by mu_
  uint64_t next_ticket_ = 1;     // guarded by mu_
  uint64_t pending_first_ = 1;   // ticket of the first record in pending_; guarded by mu_
  uint64_t done_ticket_ = 0;     // every ticket <= this is finished; guarded by mu_
  bool leader_active_ = false;   // guarded by mu_
  // Outcome per finished flush: tickets in [first, last] share `status`.
  struct FlushResult {
    uint64_t first;
    uint64_t last;
    core::Status status;
  };
  std::vector<FlushResult> failed_;  // recent failed flushes; guarded by mu_
  bool needs_repair_ = false;        // a flush failed; truncate before writing; guarded by mu_

  // The file, used only by the leader (or under mu_ with no leader active).
  std::unique_ptr<core::WritableFile> file_;
  std::atomic<uint64_t> segment_{0};
  uint64_t good_size_ = 0;  // size of the segment up to the last successful flush
  WalStats stats_;          // guarded by mu_
};

}  // namespace store

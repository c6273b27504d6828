#include "store/wal.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/crc32c.h"

namespace store {
namespace {

constexpr uint32_t kMaxRecordBytes = 256u << 20;
constexpr size_t kMaxFailedFlushes = 256;

void PutU32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
               static_cast<char>(v >> 24)};
  out.append(b, 4);
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

bool ParseSegmentName(const std::string& name, uint64_t& number) {
  if (name.size() != 12 || name.substr(8) != ".wal") return false;
  number = 0;
  for (size_t i = 0; i < 8; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    number = number * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return true;
}

}  // namespace

std::string FrameRecord(uint8_t type, std::string_view payload) {
  std::string out;
  out.reserve(kRecordHeaderBytes + payload.size());
  PutU32(out, static_cast<uint32_t>(payload.size()));
  uint32_t crc = core::Crc32c(std::string_view(reinterpret_cast<const char*>(&type), 1));
  crc = core::Crc32c(payload, crc);
  PutU32(out, crc);
  out.push_back(static_cast<char>(type));
  out.append(payload);
  return out;
}

std::string Wal::SegmentPath(const std::string& dir, uint64_t segment) {
  char name[32];
  std::snprintf(name, sizeof name, "%08" PRIu64 ".wal", segment);
  return dir + "/" + name;
}

core::Result<std::vector<uint64_t>> Wal::ListSegments(core::Env& env, const std::string& dir) {
  auto names = env.ListDir(dir);
  if (!names) return core::Unexpected(names.error());
  std::vector<uint64_t> out;
  for (const std::string& n : *names) {
    uint64_t number;
    if (ParseSegmentName(n, number)) out.push_back(number);
  }
  return out;  // names are sorted and zero-padded, so numbers are ascending
}

core::Result<WalReplayStats> Wal::Replay(core::Env& env, const std::string& dir,
                                         uint64_t first_segment, bool repair,
                                         const RecordFn& fn) {
  WalReplayStats stats;
  if (!env.FileExists(dir)) return stats;
  auto segments = ListSegments(env, dir);
  if (!segments) return core::Unexpected(segments.error());
  std::vector<uint64_t> to_replay;
  for (uint64_t s : *segments) {
    if (s >= first_segment) to_replay.push_back(s);
  }
  for (size_t si = 0; si < to_replay.size(); ++si) {
    const std::string path = SegmentPath(dir, to_replay[si]);
    auto data = env.ReadFile(path);
    if (!data) return core::Unexpected(data.error());
    ++stats.segments;
    const bool last = si + 1 == to_replay.size();
    size_t pos = 0;
    std::string damage;
    while (pos < data->size()) {
      const size_t left = data->size() - pos;
      if (left < kRecordHeaderBytes) {
        damage = "torn record header";
        break;
      }
      const uint32_t length = GetU32(data->data() + pos);
      const uint32_t crc = GetU32(data->data() + pos + 4);
      if (length > kMaxRecordBytes) {
        damage = "implausible record length " + std::to_string(length);
        break;
      }
      if (left < kRecordHeaderBytes + length) {
        damage = "torn record (" + std::to_string(left) + " of " +
                 std::to_string(kRecordHeaderBytes + length) + " bytes)";
        break;
      }
      const std::string_view body(data->data() + pos + 8, 1 + length);
      if (core::Crc32c(body) != crc) {
        damage = "checksum mismatch";
        break;
      }
      const uint8_t type = static_cast<uint8_t>(body[0]);
      if (auto st = fn(type, body.substr(1)); !st) return core::Unexpected(st.error());
      ++stats.records;
      stats.bytes += kRecordHeaderBytes + length;
      pos += kRecordHeaderBytes + length;
    }
    if (damage.empty()) continue;
    const uint64_t cut = data->size() - pos;
    const std::string where = path + " at offset " + std::to_string(pos);
    if (last) {
      if (auto st = env.TruncateFile(path, pos); !st) return core::Unexpected(st.error());
      stats.truncated_bytes += cut;
      stats.notes.push_back("truncated " + std::to_string(cut) + " bytes of damaged tail (" +
                            damage + ") in " + where);
      continue;
    }
    if (!repair) {
      return core::Fail(core::ErrorCode::kInternal,
                        "WAL is corrupt in " + where + " (" + damage +
                            ") before its last segment; start with --wal-repair to keep every "
                            "record before the damage and drop the rest");
    }
    if (auto st = env.TruncateFile(path, pos); !st) return core::Unexpected(st.error());
    stats.dropped_bytes += cut;
    uint64_t later_segments = 0;
    for (size_t k = si + 1; k < to_replay.size(); ++k) {
      const std::string later = SegmentPath(dir, to_replay[k]);
      if (auto bytes = env.ReadFile(later)) stats.dropped_bytes += bytes->size();
      if (auto st = env.RemoveFile(later); !st) return core::Unexpected(st.error());
      ++later_segments;
    }
    if (auto st = env.SyncDir(dir); !st) return core::Unexpected(st.error());
    stats.notes.push_back("repair: cut " + where + " (" + damage + "), dropped " +
                          std::to_string(stats.dropped_bytes) + " bytes in that segment and " +
                          std::to_string(later_segments) + " later segment(s)");
    break;
  }
  return stats;
}

core::Result<std::unique_ptr<Wal>> Wal::Open(core::Env& env, WalOptions options) {
  if (auto st = env.CreateDirs(options.dir); !st) return core::Unexpected(st.error());
  auto segments = ListSegments(env, options.dir);
  if (!segments) return core::Unexpected(segments.error());
  std::unique_ptr<Wal> wal(new Wal(env, std::move(options)));
  const uint64_t next = segments->empty() ? 1 : segments->back() + 1;
  if (auto st = wal->OpenSegmentLocked(next); !st) return core::Unexpected(st.error());
  return wal;
}

Wal::~Wal() {
  if (file_) {
    // A failed flush answered its requests with an error: cut it, so a clean
    // shutdown does not leave whole but unacknowledged records to be replayed.
    if (needs_repair_) (void)env_.TruncateFile(SegmentPath(options_.dir, segment_), good_size_);
    (void)file_->Sync();
    (void)file_->Close();
  }
}

core::Status Wal::OpenSegmentLocked(uint64_t segment) {
  auto file = env_.OpenAppendable(SegmentPath(options_.dir, segment));
  if (!file) return core::Unexpected(file.error());
  if (auto st = env_.SyncDir(options_.dir); !st) return st;
  if (file_) {
    (void)file_->Sync();
    (void)file_->Close();
  }
  file_ = std::move(*file);
  segment_ = segment;
  good_size_ = file_->Size();
  return {};
}

core::Status Wal::TimedSync() {
  if (options_.clock == nullptr) return file_->Sync();
  const int64_t start = options_.clock->MonotonicNs();
  core::Status st = file_->Sync();
  const double seconds = static_cast<double>(options_.clock->MonotonicNs() - start) / 1e9;
  size_t bucket = 0;
  while (bucket < kFsyncBucketCount && seconds > kFsyncBuckets[bucket]) ++bucket;
  std::lock_guard lock(mu_);
  if (bucket < kFsyncBucketCount) ++stats_.fsync_buckets[bucket];
  stats_.fsync_seconds_sum += seconds;
  ++stats_.fsync_count;
  return st;
}

core::Status Wal::Flush(const std::string& batch) {
  if (auto st = file_->Append(batch); !st) return st;
  if (options_.sync == WalSync::kAlways) {
    if (auto st = TimedSync(); !st) return st;
  }
  return {};
}

core::Status Wal::Append(uint8_t type, std::string_view payload) {
  const std::string framed = FrameRecord(type, payload);
  std::unique_lock lock(mu_);
  const uint64_t ticket = next_ticket_++;
  pending_.append(framed);
  while (done_ticket_ < ticket) {
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    // Lead: flush everyone's pending records with one write (and one sync).
    leader_active_ = true;
    std::string batch = std::move(pending_);
    pending_.clear();
    const uint64_t first = pending_first_;
    const uint64_t last = next_ticket_ - 1;
    pending_first_ = next_ticket_;
    const bool repair = needs_repair_;
    const size_t records = last - first + 1;
    lock.unlock();

    core::Status status;
    if (repair) {
      // A previous flush failed part-way: cut the segment back to the last good
      // size and reopen it, so no partial record stays in the middle of the log.
      status = env_.TruncateFile(SegmentPath(options_.dir, segment_), good_size_);
      // OpenSegmentLocked swaps in the new file only once it is open, so a
      // failed reopen keeps a usable file_ instead of a null one.
      if (status) status = OpenSegmentLocked(segment_);
    }
    if (status) status = Flush(batch);
    if (status) {
      good_size_ += batch.size();
      if (good_size_ >= options_.segment_bytes) {
        (void)OpenSegmentLocked(segment_ + 1);  // on failure: stay, retried after the next flush
      }
    }

    lock.lock();
    if (status) {
      needs_repair_ = false;
      stats_.appended_records += records;
      stats_.appended_bytes += batch.size();
      if (options_.sync == WalSync::kAlways) ++stats_.syncs;
    } else {
      needs_repair_ = true;
      ++stats_.failures;
      failed_.push_back({first, last, status});
      if (failed_.size() > kMaxFailedFlushes) failed_.erase(failed_.begin());
    }
    done_ticket_ = last;
    leader_active_ = false;
    cv_.notify_all();
  }
  for (const FlushResult& f : failed_) {
    if (ticket >= f.first && ticket <= f.last) return f.status;
  }
  return {};
}

core::Status Wal::Sync() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !leader_active_; });
  leader_active_ = true;
  lock.unlock();
  core::Status st = TimedSync();
  lock.lock();
  if (st) {
    ++stats_.syncs;
  } else {
    ++stats_.failures;
  }
  leader_active_ = false;
  cv_.notify_all();
  return st;
}

core::Result<uint64_t> Wal::Rotate() {
  // Flush what is pending into the current segment first, through Append's
  // leader protocol: an empty-payload marker is not needed; wait for quiet.
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !leader_active_ && pending_.empty(); });
  leader_active_ = true;
  const bool repair = needs_repair_;
  lock.unlock();
  core::Status st;
  // A failed flush may have left a partial record at the end of this segment;
  // cut it before the segment stops being the last one (Replay only forgives
  // damage in the last segment).
  if (repair) st = env_.TruncateFile(SegmentPath(options_.dir, segment_), good_size_);
  if (st && options_.sync != WalSync::kNever) st = file_->Sync();
  if (st) st = OpenSegmentLocked(segment_ + 1);
  lock.lock();
  if (st) needs_repair_ = false;
  leader_active_ = false;
  cv_.notify_all();
  if (!st) return core::Unexpected(st.error());
  return segment_;
}

core::Status Wal::RemoveSegmentsBefore(uint64_t segment) {
  auto segments = ListSegments(env_, options_.dir);
  if (!segments) return core::Unexpected(segments.error());
  for (uint64_t s : *segments) {
    if (s >= segment) break;
    if (auto st = env_.RemoveFile(SegmentPath(options_.dir, s)); !st) return st;
  }
  return env_.SyncDir(options_.dir);
}

WalStats Wal::Stats() const {
  std::lock_guard lock(mu_);
  WalStats s = stats_;
  s.current_segment = segment_;
  return s;
}

}  // namespace store

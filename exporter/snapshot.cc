#include "exporter/snapshot.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/crc32c.h"
#include "store/wal.h"

namespace exporter {
namespace {

constexpr std::string_view kMagic = "TLYSNAP1\n";
constexpr uint8_t kSeriesRecord = 1;
constexpr uint8_t kIdempotencyRecord = 2;
constexpr uint8_t kEndRecord = 3;
constexpr size_t kWriteChunk = 1 << 20;

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}
void PutDouble(std::string& out, double d) {
  char b[8];
  std::memcpy(b, &d, 8);
  out.append(b, 8);
}
uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= d_.size()) return false;
      const auto b = static_cast<uint8_t>(d_[p_++]);
      v |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Str(std::string& s) {
    uint64_t n;
    if (!Varint(n) || n > d_.size() - p_) return false;
    s.assign(d_.substr(p_, n));
    p_ += n;
    return true;
  }
  bool Double(double& x) {
    if (d_.size() - p_ < 8) return false;
    std::memcpy(&x, d_.data() + p_, 8);
    p_ += 8;
    return true;
  }
  bool Byte(uint8_t& b) {
    if (p_ >= d_.size()) return false;
    b = static_cast<uint8_t>(d_[p_++]);
    return true;
  }
  bool done() const { return p_ == d_.size(); }

 private:
  std::string_view d_;
  size_t p_ = 0;
};

void EncodeSeries(const store::SeriesState& s, std::string& out) {
  PutString(out, s.project);
  PutString(out, s.name);
  out.push_back(static_cast<char>(s.type));
  PutVarint(out, s.labels.size());
  for (const core::Label& l : s.labels.items()) {
    PutString(out, l.name);
    PutString(out, l.value);
  }
  PutDouble(out, s.counter_total);
  PutDouble(out, s.last_value);
  PutVarint(out, ZigZag(s.last_ts_ms));
  PutVarint(out, s.observations);
  PutDouble(out, s.observation_sum);
  PutVarint(out, s.bounds.size());
  for (double b : s.bounds) PutDouble(out, b);
  for (uint64_t c : s.bucket_counts) PutVarint(out, c);
  PutVarint(out, ZigZag(s.updated_at_ms));
  PutVarint(out, s.samples.size());
  int64_t prev = 0;
  for (const store::Sample& x : s.samples) {
    PutVarint(out, ZigZag(x.ts_ms - prev));  // deltas: small varints
    prev = x.ts_ms;
    PutDouble(out, x.value);
  }
}

bool DecodeSeries(std::string_view payload, store::SeriesState& s) {
  Reader r(payload);
  uint8_t type;
  uint64_t n, v;
  if (!r.Str(s.project) || !r.Str(s.name) || !r.Byte(type) ||
      type > static_cast<uint8_t>(store::MetricType::kDistribution) || !r.Varint(n) ||
      n > payload.size()) {
    return false;
  }
  s.type = static_cast<store::MetricType>(type);
  std::vector<core::Label> labels(n);
  for (auto& l : labels) {
    if (!r.Str(l.name) || !r.Str(l.value)) return false;
  }
  s.labels = core::Labels(std::move(labels));
  if (!r.Double(s.counter_total) || !r.Double(s.last_value) || !r.Varint(v)) return false;
  s.last_ts_ms = UnZigZag(v);
  if (!r.Varint(s.observations) || !r.Double(s.observation_sum) || !r.Varint(n) ||
      n > payload.size()) {
    return false;
  }
  s.bounds.resize(n);
  s.bucket_counts.resize(n);
  for (double& b : s.bounds) {
    if (!r.Double(b)) return false;
  }
  for (uint64_t& c : s.bucket_counts) {
    if (!r.Varint(c)) return false;
  }
  if (!r.Varint(v)) return false;
  s.updated_at_ms = UnZigZag(v);
  if (!r.Varint(n) || n > payload.size()) return false;
  s.samples.resize(n);
  int64_t prev = 0;
  for (store::Sample& x : s.samples) {
    if (!r.Varint(v) || !r.Double(x.value)) return false;
    x.ts_ms = prev + UnZigZag(v);
    prev = x.ts_ms;
  }
  return r.done();
}

std::string SnapshotName(uint64_t segment) {
  char name[32];
  std::snprintf(name, sizeof name, "%08" PRIu64 ".snap", segment);
  return name;
}

bool ParseSnapshotName(const std::string& name, uint64_t& segment) {
  if (name.size() != 13 || name.substr(8) != ".snap") return false;
  segment = 0;
  for (size_t i = 0; i < 8; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    segment = segment * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return true;
}

}  // namespace

core::Result<SnapshotFileStats> WriteSnapshot(core::Env& env, const std::string& dir,
                                              const Checkpoint& checkpoint) {
  if (auto st = env.CreateDirs(dir); !st) return core::Unexpected(st.error());
  SnapshotFileStats stats;
  stats.path = dir + "/" + SnapshotName(checkpoint.first_wal_segment);
  const std::string tmp = stats.path + ".tmp";
  (void)env.RemoveFile(tmp);
  auto file = env.OpenAppendable(tmp);
  if (!file) return core::Unexpected(file.error());
  std::string buf(kMagic);
  std::string payload;
  auto flush = [&](bool force) -> core::Status {
    if (buf.size() < kWriteChunk && !force) return {};
    auto st = (*file)->Append(buf);
    stats.bytes += buf.size();
    buf.clear();
    return st;
  };
  for (const store::SeriesState& s : checkpoint.series) {
    payload.clear();
    EncodeSeries(s, payload);
    buf.append(store::FrameRecord(kSeriesRecord, payload));
    stats.samples += s.samples.size();
    if (auto st = flush(false); !st) return core::Unexpected(st.error());
  }
  for (const IdempotencyCache::Completed& e : checkpoint.idempotency) {
    payload.clear();
    PutString(payload, e.project);
    PutString(payload, e.key);
    PutString(payload, e.body_hash);
    PutVarint(payload, static_cast<uint64_t>(e.response.status));
    PutString(payload, e.response.body);
    PutVarint(payload, ZigZag(e.created_ms));
    buf.append(store::FrameRecord(kIdempotencyRecord, payload));
    if (auto st = flush(false); !st) return core::Unexpected(st.error());
  }
  payload.clear();
  PutVarint(payload, checkpoint.series.size());
  PutVarint(payload, checkpoint.idempotency.size());
  buf.append(store::FrameRecord(kEndRecord, payload));
  if (auto st = flush(true); !st) return core::Unexpected(st.error());
  if (auto st = (*file)->Sync(); !st) return core::Unexpected(st.error());
  if (auto st = (*file)->Close(); !st) return core::Unexpected(st.error());
  if (auto st = env.RenameFile(tmp, stats.path); !st) return core::Unexpected(st.error());
  if (auto st = env.SyncDir(dir); !st) return core::Unexpected(st.error());
  stats.series = checkpoint.series.size();
  // Older snapshots are covered by this one.
  if (auto names = env.ListDir(dir)) {
    for (const std::string& n : *names) {
      uint64_t seg;
      if (ParseSnapshotName(n, seg) && seg < checkpoint.first_wal_segment) {
        (void)env.RemoveFile(dir + "/" + n);
      } else if (n.ends_with(".tmp") && dir + "/" + n != tmp) {
        (void)env.RemoveFile(dir + "/" + n);
      }
    }
  }
  return stats;
}

core::Result<std::optional<Checkpoint>> LoadNewestSnapshot(core::Env& env, const std::string& dir,
                                                           SnapshotFileStats* stats) {
  if (!env.FileExists(dir)) return std::optional<Checkpoint>();
  auto names = env.ListDir(dir);
  if (!names) return core::Unexpected(names.error());
  uint64_t newest = 0;
  bool found = false;
  for (const std::string& n : *names) {
    uint64_t seg;
    if (ParseSnapshotName(n, seg) && (!found || seg > newest)) {
      newest = seg;
      found = true;
    }
  }
  if (!found) return std::optional<Checkpoint>();
  const std::string path = dir + "/" + SnapshotName(newest);
  auto data = env.ReadFile(path);
  if (!data) return core::Unexpected(data.error());
  auto bad = [&](const std::string& why, size_t offset) {
    return core::Fail(core::ErrorCode::kInternal,
                      "snapshot " + path + " is damaged at offset " + std::to_string(offset) +
                          " (" + why + "); move it away to start from the WAL alone");
  };
  if (!std::string_view(*data).starts_with(kMagic)) return bad("bad magic", 0);
  Checkpoint cp;
  cp.first_wal_segment = newest;
  size_t pos = kMagic.size();
  bool ended = false;
  while (pos < data->size() && !ended) {
    if (data->size() - pos < store::kRecordHeaderBytes) return bad("torn record", pos);
    uint32_t length, crc;
    std::memcpy(&length, data->data() + pos, 4);
    std::memcpy(&crc, data->data() + pos + 4, 4);
    if (data->size() - pos - store::kRecordHeaderBytes < length) return bad("torn record", pos);
    const std::string_view body(data->data() + pos + 8, 1 + length);
    if (core::Crc32c(body) != crc) return bad("checksum mismatch", pos);
    const uint8_t type = static_cast<uint8_t>(body[0]);
    const std::string_view payload = body.substr(1);
    if (type == kSeriesRecord) {
      store::SeriesState s;
      if (!DecodeSeries(payload, s)) return bad("malformed series", pos);
      cp.series.push_back(std::move(s));
    } else if (type == kIdempotencyRecord) {
      Reader r(payload);
      IdempotencyCache::Completed e;
      uint64_t status, created;
      if (!r.Str(e.project) || !r.Str(e.key) || !r.Str(e.body_hash) || !r.Varint(status) ||
          !r.Str(e.response.body) || !r.Varint(created) || !r.done()) {
        return bad("malformed idempotency entry", pos);
      }
      e.response.status = static_cast<int>(status);
      e.created_ms = UnZigZag(created);
      cp.idempotency.push_back(std::move(e));
    } else if (type == kEndRecord) {
      Reader r(payload);
      uint64_t ns, ni;
      if (!r.Varint(ns) || !r.Varint(ni) || ns != cp.series.size() ||
          ni != cp.idempotency.size()) {
        return bad("end record does not match the contents", pos);
      }
      ended = true;
    } else {
      return bad("unknown record type " + std::to_string(type), pos);
    }
    pos += store::kRecordHeaderBytes + length;
  }
  if (!ended) return bad("no end record (incomplete)", pos);
  if (stats != nullptr) {
    stats->path = path;
    stats->bytes = data->size();
    stats->series = cp.series.size();
    for (const auto& s : cp.series) stats->samples += s.samples.size();
  }
  return std::optional<Checkpoint>(std::move(cp));
}

}  // namespace exporter

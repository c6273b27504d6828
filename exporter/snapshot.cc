#include "exporter/snapshot.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/byte_codec.h"

#include "core/crc32c.h"
#include "store/wal.h"

namespace exporter {
namespace {

using core::ByteReader;
using core::PutBytes;
using core::PutDouble;
using core::PutVarint;
using core::UnZigZag;
using core::ZigZag;

constexpr std::string_view kMagic = "TLYSNAP1\n";
constexpr uint8_t kSeriesRecord = 1;
constexpr uint8_t kIdempotencyRecord = 2;
constexpr uint8_t kEndRecord = 3;
constexpr uint8_t kEventsRecord = 4;
constexpr size_t kWriteChunk = 1 << 20;

void EncodeSeries(const store::SeriesState& s, std::string& out) {
  PutBytes(out, s.project);
  PutBytes(out, s.name);
  out.push_back(static_cast<char>(s.type));
  PutVarint(out, s.labels.size());
  for (const core::Label& l : s.labels.items()) {
    PutBytes(out, l.name);
    PutBytes(out, l.value);
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
  ByteReader r(payload);
  uint8_t type;
  uint64_t n, v;
  if (!r.Bytes(s.project) || !r.Bytes(s.name) || !r.Byte(type) ||
      type > static_cast<uint8_t>(store::kLastMetricType) || !r.Varint(n) ||
      n > payload.size()) {
    return false;
  }
  s.type = static_cast<store::MetricType>(type);
  std::vector<core::Label> labels(n);
  for (auto& l : labels) {
    if (!r.Bytes(l.name) || !r.Bytes(l.value)) return false;
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
    PutBytes(payload, e.project);
    PutBytes(payload, e.key);
    PutBytes(payload, e.body_hash);
    PutVarint(payload, static_cast<uint64_t>(e.response.status));
    PutBytes(payload, e.response.body);
    PutVarint(payload, ZigZag(e.created_ms));
    buf.append(store::FrameRecord(kIdempotencyRecord, payload));
    if (auto st = flush(false); !st) return core::Unexpected(st.error());
  }
  for (const std::string& events : checkpoint.event_records) {
    buf.append(store::FrameRecord(kEventsRecord, events));
    if (auto st = flush(false); !st) return core::Unexpected(st.error());
  }
  payload.clear();
  PutVarint(payload, checkpoint.series.size());
  PutVarint(payload, checkpoint.idempotency.size());
  if (!checkpoint.event_records.empty()) PutVarint(payload, checkpoint.event_records.size());
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
      ByteReader r(payload);
      IdempotencyCache::Completed e;
      uint64_t status, created;
      if (!r.Bytes(e.project) || !r.Bytes(e.key) || !r.Bytes(e.body_hash) || !r.Varint(status) ||
          !r.Bytes(e.response.body) || !r.Varint(created) || !r.done()) {
        return bad("malformed idempotency entry", pos);
      }
      e.response.status = static_cast<int>(status);
      e.created_ms = UnZigZag(created);
      cp.idempotency.push_back(std::move(e));
    } else if (type == kEventsRecord) {
      cp.event_records.emplace_back(payload);
    } else if (type == kEndRecord) {
      ByteReader r(payload);
      uint64_t ns, ni, ne = 0;
      if (!r.Varint(ns) || !r.Varint(ni) || ns != cp.series.size() ||
          ni != cp.idempotency.size() || (!r.done() && !r.Varint(ne)) || !r.done() ||
          ne != cp.event_records.size()) {
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

#include "exporter/ingest_record.h"

#include <cstring>

#include "core/byte_codec.h"

namespace exporter {
namespace {

using core::ByteReader;
using core::PutBytes;
using core::PutDouble;
using core::PutVarint;
using core::UnZigZag;
using core::ZigZag;

}  // namespace

void EncodeIngestRecord(int64_t ingest_ms, std::string_view project,
                        const std::optional<IdempotencyRecord>& idempotency,
                        std::span<const store::PointView> points, std::string& out) {
  out.push_back(1);  // version
  PutVarint(out, static_cast<uint64_t>(ingest_ms < 0 ? 0 : ingest_ms));
  PutBytes(out, project);
  out.push_back(idempotency ? 1 : 0);
  if (idempotency) {
    PutBytes(out, idempotency->key);
    PutBytes(out, idempotency->body_hash);
    PutVarint(out, static_cast<uint64_t>(idempotency->status));
    PutBytes(out, idempotency->response);
  }
  PutVarint(out, points.size());
  std::string_view previous_name;
  for (size_t i = 0; i < points.size(); ++i) {
    const store::PointView& p = points[i];
    const bool new_name = i == 0 || p.name != previous_name;
    out.push_back(new_name ? 1 : 0);
    if (new_name) PutBytes(out, p.name);
    previous_name = p.name;
    out.push_back(static_cast<char>(p.type));
    PutVarint(out, p.labels.size());
    for (const store::LabelView& l : p.labels) {
      PutBytes(out, l.name);
      PutBytes(out, l.value);
    }
    PutVarint(out, ZigZag(p.ts_ms));
    char bytes[8];
    std::memcpy(bytes, &p.value, 8);
    out.append(bytes, 8);
  }
}

core::Result<DecodedIngestRecord> DecodeIngestRecord(std::string_view payload) {
  ByteReader r(payload);
  DecodedIngestRecord rec;
  auto bad = [&](const char* what) {
    return core::Fail(core::ErrorCode::kInternal, std::string("malformed ingest record: ") + what +
                                                      " at byte " + std::to_string(r.pos()));
  };
  uint8_t version, has_idem;
  uint64_t ingest_ms, n;
  if (!r.Byte(version) || version != 1) return bad("unknown version");
  if (!r.Varint(ingest_ms)) return bad("header");
  // The encoder writes ingest times >= 0; a larger varint would decode negative.
  if (ingest_ms > static_cast<uint64_t>(INT64_MAX)) return bad("ingest time");
  if (!r.Bytes(rec.project) || !r.Byte(has_idem)) return bad("header");
  rec.ingest_ms = static_cast<int64_t>(ingest_ms);
  if (has_idem == 1) {
    std::string_view key, hash, response;
    uint64_t status;
    if (!r.Bytes(key) || !r.Bytes(hash) || !r.Varint(status) || !r.Bytes(response)) {
      return bad("idempotency entry");
    }
    rec.idempotency = IdempotencyRecord{std::string(key), std::string(hash),
                                        static_cast<int>(status), std::string(response)};
  } else if (has_idem != 0) {
    return bad("idempotency flag");
  }
  if (!r.Varint(n) || n > payload.size()) return bad("point count");
  // First pass sizes the label storage so views into it stay valid.
  struct Raw {
    std::string_view name;
    store::MetricType type;
    size_t label_begin, label_count;
    int64_t ts;
    double value;
  };
  std::vector<Raw> raw;
  raw.reserve(n);
  std::string_view name;
  for (uint64_t i = 0; i < n; ++i) {
    uint8_t flags, type;
    uint64_t nl, ts;
    if (!r.Byte(flags) || flags > 1) return bad("point flags");
    if (flags == 1 && !r.Bytes(name)) return bad("point name");
    if (i == 0 && flags != 1) return bad("first point without a name");
    if (!r.Byte(type) || type > static_cast<uint8_t>(store::kLastMetricType)) {
      return bad("point type");
    }
    if (!r.Varint(nl) || nl > payload.size()) return bad("label count");
    Raw p{name, static_cast<store::MetricType>(type), rec.labels.size(), nl, 0, 0};
    for (uint64_t k = 0; k < nl; ++k) {
      store::LabelView l;
      if (!r.Bytes(l.name) || !r.Bytes(l.value)) return bad("label");
      rec.labels.push_back(l);
    }
    if (!r.Varint(ts) || !r.Double(p.value)) return bad("sample");
    p.ts = UnZigZag(ts);
    raw.push_back(p);
  }
  if (!r.done()) return bad("trailing bytes");
  rec.points.reserve(raw.size());
  for (const Raw& p : raw) {
    rec.points.push_back(store::PointView{
        p.name, p.type,
        std::span<const store::LabelView>(rec.labels.data() + p.label_begin, p.label_count), p.ts,
        p.value});
  }
  return rec;
}

}  // namespace exporter

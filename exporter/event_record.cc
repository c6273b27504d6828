#include "exporter/event_record.h"

#include <cstring>

#include "core/byte_codec.h"

namespace exporter {
namespace {

using core::ByteReader;
using core::PutBytes;
using core::PutVarint;
using core::UnZigZag;
using core::ZigZag;

}  // namespace

void EncodeEventRecord(int64_t ingest_ms, std::string_view project,
                       const std::optional<IdempotencyRecord>& idempotency,
                       std::span<const store::EventView> events, std::string& out) {
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
  PutVarint(out, events.size());
  for (const store::EventView& e : events) {
    PutBytes(out, e.id);
    PutVarint(out, ZigZag(e.ts_ms));
    uint64_t mask = 0;
    for (size_t f = 0; f < store::kEventFieldCount; ++f) {
      if (!e.strings[f].empty()) mask |= uint64_t{1} << f;
    }
    PutVarint(out, mask);
    for (size_t f = 0; f < store::kEventFieldCount; ++f) {
      if (!e.strings[f].empty()) PutBytes(out, e.strings[f]);
    }
    PutVarint(out, e.input_tokens);
    PutVarint(out, e.output_tokens);
    PutVarint(out, e.cache_read_tokens);
    PutVarint(out, e.cache_write_5m_tokens);
    PutVarint(out, e.cache_write_1h_tokens);
    PutVarint(out, ZigZag(e.cost_nano_usd));
    uint8_t flags = static_cast<uint8_t>(static_cast<uint8_t>(e.cost_source) << 2);
    if (e.success) flags |= 1;
    if (e.latency_ms) flags |= 2;
    out.push_back(static_cast<char>(flags));
    if (e.latency_ms) {
      char bytes[4];
      const float l = *e.latency_ms;
      std::memcpy(bytes, &l, 4);
      out.append(bytes, 4);
    }
    PutVarint(out, e.tags.size());
    for (const auto& [k, v] : e.tags) {
      PutBytes(out, k);
      PutBytes(out, v);
    }
  }
}

core::Result<DecodedEventRecord> DecodeEventRecord(std::string_view payload) {
  ByteReader r(payload);
  DecodedEventRecord rec;
  auto bad = [&](const char* what) {
    return core::Fail(core::ErrorCode::kInternal, std::string("malformed event record: ") + what +
                                                      " at byte " + std::to_string(r.pos()));
  };
  uint8_t version, has_idem;
  uint64_t ingest_ms, n;
  if (!r.Byte(version) || version != 1) return bad("unknown version");
  if (!r.Varint(ingest_ms) || ingest_ms > static_cast<uint64_t>(INT64_MAX)) return bad("header");
  if (!r.Bytes(rec.project) || !r.Byte(has_idem)) return bad("header");
  rec.ingest_ms = static_cast<int64_t>(ingest_ms);
  if (has_idem == 1) {
    std::string_view key, hash, response;
    uint64_t status;
    if (!r.Bytes(key) || !r.Bytes(hash) || !r.Varint(status) || !r.Bytes(response) ||
        status > 999) {
      return bad("idempotency entry");
    }
    rec.idempotency = IdempotencyRecord{std::string(key), std::string(hash),
                                        static_cast<int>(status), std::string(response)};
  } else if (has_idem != 0) {
    return bad("idempotency flag");
  }
  // Every event takes at least 12 bytes, which bounds n by the payload.
  if (!r.Varint(n) || n > payload.size() / 12 + 1) return bad("event count");
  rec.events.resize(n);
  std::vector<std::pair<size_t, size_t>> tag_ranges(n);
  for (size_t i = 0; i < n; ++i) {
    store::EventView& e = rec.events[i];
    uint64_t v, mask;
    if (!r.Bytes(e.id) || e.id.empty() || !r.Varint(v) || !r.Varint(mask)) return bad("event");
    e.ts_ms = UnZigZag(v);
    if (mask >> store::kEventFieldCount) return bad("field mask");
    for (size_t f = 0; f < store::kEventFieldCount; ++f) {
      if ((mask >> f) & 1) {
        if (!r.Bytes(e.strings[f]) || e.strings[f].empty()) return bad("string field");
      }
    }
    uint32_t* tokens[] = {&e.input_tokens, &e.output_tokens, &e.cache_read_tokens,
                          &e.cache_write_5m_tokens, &e.cache_write_1h_tokens};
    for (uint32_t* t : tokens) {
      if (!r.Varint(v) || v > UINT32_MAX) return bad("token count");
      *t = static_cast<uint32_t>(v);
    }
    if (!r.Varint(v)) return bad("cost");
    e.cost_nano_usd = UnZigZag(v);
    uint8_t flags;
    if (!r.Byte(flags) || (flags >> 4) != 0 || ((flags >> 2) & 3) > 2) return bad("flags");
    e.success = (flags & 1) != 0;
    e.cost_source = static_cast<store::CostSource>((flags >> 2) & 3);
    if (flags & 2) {
      uint8_t raw[4];
      for (uint8_t& b : raw) {
        if (!r.Byte(b)) return bad("latency");
      }
      float l;
      std::memcpy(&l, raw, 4);
      e.latency_ms = l;
    }
    uint64_t ntags;
    if (!r.Varint(ntags) || ntags > payload.size()) return bad("tag count");
    tag_ranges[i] = {rec.tags.size(), ntags};
    for (uint64_t t = 0; t < ntags; ++t) {
      std::string_view k, val;
      if (!r.Bytes(k) || !r.Bytes(val)) return bad("tag");
      rec.tags.emplace_back(k, val);
    }
  }
  if (!r.done()) return bad("trailing bytes");
  for (size_t i = 0; i < n; ++i) {
    rec.events[i].tags = std::span(rec.tags).subspan(tag_ranges[i].first, tag_ranges[i].second);
  }
  return rec;
}

namespace {

void PutHeader(int64_t ingest_ms, std::string_view project,
               const std::optional<IdempotencyRecord>& idempotency, std::string& out) {
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
}

}  // namespace

void EncodeRepriceRecord(int64_t ingest_ms, std::string_view project,
                         const std::optional<IdempotencyRecord>& idempotency,
                         std::span<const store::EventCostUpdate> updates, std::string& out) {
  PutHeader(ingest_ms, project, idempotency, out);
  PutVarint(out, updates.size());
  for (const store::EventCostUpdate& u : updates) {
    PutBytes(out, u.id);
    PutVarint(out, ZigZag(u.cost_nano_usd));
    out.push_back(static_cast<char>(u.cost_source));
  }
}

core::Result<DecodedRepriceRecord> DecodeRepriceRecord(std::string_view payload) {
  ByteReader r(payload);
  DecodedRepriceRecord rec;
  auto bad = [&](const char* what) {
    return core::Fail(core::ErrorCode::kInternal, std::string("malformed reprice record: ") +
                                                      what + " at byte " + std::to_string(r.pos()));
  };
  uint8_t version, has_idem;
  uint64_t ingest_ms, n;
  if (!r.Byte(version) || version != 1) return bad("unknown version");
  if (!r.Varint(ingest_ms) || ingest_ms > static_cast<uint64_t>(INT64_MAX)) return bad("header");
  if (!r.Bytes(rec.project) || !r.Byte(has_idem)) return bad("header");
  rec.ingest_ms = static_cast<int64_t>(ingest_ms);
  if (has_idem == 1) {
    std::string_view key, hash, response;
    uint64_t status;
    if (!r.Bytes(key) || !r.Bytes(hash) || !r.Varint(status) || !r.Bytes(response) ||
        status > 999) {
      return bad("idempotency entry");
    }
    rec.idempotency = IdempotencyRecord{std::string(key), std::string(hash),
                                        static_cast<int>(status), std::string(response)};
  } else if (has_idem != 0) {
    return bad("idempotency flag");
  }
  // Every update takes at least 4 bytes, which bounds n by the payload.
  if (!r.Varint(n) || n > payload.size() / 4 + 1) return bad("update count");
  rec.updates.resize(n);
  for (store::EventCostUpdate& u : rec.updates) {
    uint64_t cost;
    uint8_t source;
    if (!r.Bytes(u.id) || u.id.empty() || !r.Varint(cost) || !r.Byte(source) || source > 2) {
      return bad("update");
    }
    u.cost_nano_usd = UnZigZag(cost);
    u.cost_source = static_cast<store::CostSource>(source);
  }
  if (!r.done()) return bad("trailing bytes");
  return rec;
}

}  // namespace exporter

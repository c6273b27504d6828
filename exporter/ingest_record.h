// IngestRecord: the WAL payload of one acknowledged ingest request: the
// accepted points and, when the request carried an idempotency key, the key,
// body hash and response, so a retry after a restart is still answered from
// the first response and nothing is stored twice.
//
// Encoding (little-endian, varints as LEB128):
//   u8 version(1) | varint ingest_ms | str project | u8 has_idem
//   [str key | str body_hash | varint status | str response]
//   varint n | n x point
//   point: u8 flags (bit0: name differs from the previous point) | [str name]
//          | u8 type | varint n_labels | n x (str name | str value)
//          | varint zigzag(ts_ms) | f64 value
// where str = varint length | bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/types.h"

namespace exporter {

inline constexpr uint8_t kWalRecordPoints = 1;

struct IdempotencyRecord {
  std::string key;
  std::string body_hash;
  int status = 0;
  std::string response;
};

// Appends the encoding of an ingest to `out`.
void EncodeIngestRecord(int64_t ingest_ms, std::string_view project,
                        const std::optional<IdempotencyRecord>& idempotency,
                        std::span<const store::PointView> points, std::string& out);

// A decoded record. String views point into the payload passed to Decode.
struct DecodedIngestRecord {
  int64_t ingest_ms = 0;
  std::string_view project;
  std::optional<IdempotencyRecord> idempotency;
  std::vector<store::PointView> points;
  std::vector<store::LabelView> labels;  // storage behind points[i].labels
};

// Fails (kInternal, with the offset) on a malformed payload.
core::Result<DecodedIngestRecord> DecodeIngestRecord(std::string_view payload);

}  // namespace exporter

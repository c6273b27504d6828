// EventRecord: the WAL payload of one acknowledged POST /v1/events request
// (record type kWalRecordEvents): the stored events (after id generation and
// pricing) and, when the request carried an idempotency key, the key, body
// hash and response, so a retry after a restart is answered from the first
// response. Snapshots hold the event store as records of the same encoding.
//
// Encoding (little-endian, varints as LEB128, str = varint length | bytes):
//   u8 version(1) | varint ingest_ms | str project | u8 has_idem
//   [str key | str body_hash | varint status | str response]
//   varint n | n x event
//   event: str id | varint zigzag(ts_ms) | varint mask (bit f: string field f
//          present) | present strings in EventField order
//          | varint input | varint output | varint cache_read
//          | varint cache_write_5m | varint cache_write_1h
//          | varint zigzag(cost_nano_usd) | u8 flags (bit0 success,
//            bit1 has latency, bits 2-3 cost source) | [f32 latency_ms]
//          | varint n_tags | n_tags x (str key | str value)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "exporter/ingest_record.h"
#include "store/event_store.h"

namespace exporter {

inline constexpr uint8_t kWalRecordEvents = 2;
// POST /v1/events/reprice: new (cost, cost_source) pairs of stored events.
inline constexpr uint8_t kWalRecordReprice = 3;

// Appends the encoding of a request's events to `out`.
void EncodeEventRecord(int64_t ingest_ms, std::string_view project,
                       const std::optional<IdempotencyRecord>& idempotency,
                       std::span<const store::EventView> events, std::string& out);

// A decoded record. Views point into the payload passed to Decode.
struct DecodedEventRecord {
  int64_t ingest_ms = 0;
  std::string_view project;
  std::optional<IdempotencyRecord> idempotency;
  std::vector<store::EventView> events;
  std::vector<std::pair<std::string_view, std::string_view>> tags;  // behind events[i].tags
};

// Fails (kInternal, with the offset) on a malformed payload.
core::Result<DecodedEventRecord> DecodeEventRecord(std::string_view payload);

// The WAL payload of (one chunk of) a POST /v1/events/reprice (record type
// kWalRecordReprice): the resolved new cost and cost source of each changed
// event, so replay gives the same result whatever the price table is then.
// A reprice with many changes is logged as several records; the last carries
// the idempotency entry, if any.
//
// Encoding (as above):
//   u8 version(1) | varint ingest_ms | str project | u8 has_idem
//   [str key | str body_hash | varint status | str response]
//   varint n | n x (str id | varint zigzag(cost_nano_usd) | u8 cost_source)
void EncodeRepriceRecord(int64_t ingest_ms, std::string_view project,
                         const std::optional<IdempotencyRecord>& idempotency,
                         std::span<const store::EventCostUpdate> updates, std::string& out);

// A decoded reprice record. Views point into the payload passed to Decode.
struct DecodedRepriceRecord {
  int64_t ingest_ms = 0;
  std::string_view project;
  std::optional<IdempotencyRecord> idempotency;
  std::vector<store::EventCostUpdate> updates;
};

// Fails (kInternal, with the offset) on a malformed payload.
core::Result<DecodedRepriceRecord> DecodeRepriceRecord(std::string_view payload);

}  // namespace exporter

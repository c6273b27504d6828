// EventService: LLM call event ingest as plain functions over decoded
// requests (API.md section 3): ids for events without one, pricing from the
// PriceBook (cost_usd absent -> price of the event's day), dedup by id, the
// WAL record (group commit) before the events become visible and the request
// is answered, the event-derived /metrics series, WAL replay and the events
// part of snapshots. HTTP concerns (status codes, idempotency replay, JSON)
// are rest/'s.
//
// Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "config/config.h"
#include "core/clock.h"
#include "exporter/event_decoder.h"
#include "exporter/event_metrics.h"
#include "exporter/idempotency.h"
#include "exporter/ingest_service.h"
#include "exporter/pricing.h"
#include "store/event_store.h"
#include "store/wal.h"

namespace exporter {

struct Checkpoint;

struct EventIngestOptions {
  config::LimitsConfig limits;
  int64_t retention_ms = 15LL * 86'400'000;
  // Restored from WAL records on replay. Not owned; may be null.
  IdempotencyCache* idempotency = nullptr;
};

// The result of storing a decoded request.
struct EventIngestOutcome {
  size_t accepted = 0;    // events stored now
  size_t duplicates = 0;  // events whose id was already stored (ignored)
  std::vector<PointError> errors;  // rejected events, sorted by index
  // Per event of the request: its id (generated when absent), or empty when rejected.
  std::vector<std::string> ids;
};

class EventService {
 public:
  // A decoder borrowed from the pool; returned on destruction.
  class DecoderLease {
   public:
    DecoderLease(EventService* owner, std::unique_ptr<EventDecoder> d)
        : owner_(owner), decoder_(std::move(d)) {}
    ~DecoderLease();
    DecoderLease(DecoderLease&&) = default;
    EventDecoder& operator*() { return *decoder_; }
    EventDecoder* operator->() { return decoder_.get(); }

   private:
    EventService* owner_;
    std::unique_ptr<EventDecoder> decoder_;
  };

  // Everything must outlive the service.
  EventService(store::EventStore& store, const PriceBook& prices, LlmMetrics& metrics,
               EventIngestOptions options, const core::Clock& clock,
               prometheus::Registry& registry);

  DecoderLease AcquireDecoder();
  DecodeContext MakeDecodeContext() const;

  using ResponseFn = std::function<StoredResponse(const EventIngestOutcome&)>;

  // Stores the valid events of `decoded` under `project`: ids, prices, claims
  // the ids (duplicates are ignored), logs the new events with `idempotency`
  // and the response to the WAL and waits until durable, then makes them
  // visible. Fails as a whole (nothing stored) with kUnavailable at the memory
  // ceiling or when the WAL cannot be written.
  core::Result<StoredResponse> Store(std::string_view project, DecodedEvents& decoded,
                                     const ResponseFn& respond,
                                     const IdempotencyIntent* idempotency);
  // The same without an HTTP response (tests, internal callers).
  core::Result<EventIngestOutcome> Store(std::string_view project, DecodedEvents& decoded);

  // Starts logging to `wal` (after the start-up replay).
  // REQUIRES: no Store() call runs concurrently.
  void SetWal(store::Wal* wal) { wal_ = wal; }

  // Applies one kWalRecordEvents record (WAL replay, snapshot load).
  core::Status Replay(uint8_t type, std::string_view payload);

  // Runs `take` (which rotates the WAL and copies the rest of the state, e.g.
  // IngestService::TakeCheckpoint) with event ingest held between reserving
  // and committing, then adds the event store to the checkpoint as event
  // records: every event logged in a segment below first_wal_segment is in
  // it. REQUIRES: a WAL is set.
  core::Result<Checkpoint> TakeCheckpoint(const std::function<core::Result<Checkpoint>()>& take);

  void CountRejectedRequest(const core::Error& error, size_t events);

 private:
  void CountRejected(core::ErrorCode code, double n);

  store::EventStore& store_;
  const PriceBook& prices_;
  LlmMetrics& metrics_;
  const EventIngestOptions options_;
  const core::Clock& clock_;
  prometheus::Counter& accepted_;
  prometheus::Counter& duplicates_;
  prometheus::Family<prometheus::Counter>& rejected_;

  store::Wal* wal_ = nullptr;
  std::shared_mutex gate_;  // shared by Store() from Reserve to Commit; exclusive for checkpoints

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<EventDecoder>> pool_;  // guarded by pool_mu_
};

}  // namespace exporter

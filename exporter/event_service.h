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

// POST /v1/events/reprice: which events to re-price (docs/api.md). Events
// whose cost_source is "reported" are never re-priced.
struct RepriceRequest {
  int64_t from_ms = 0;   // inclusive
  int64_t to_ms = 0;     // exclusive
  std::string model;     // exact model name; empty: any
  std::string provider;  // normalised (NormalizeProvider); empty: any
  bool only_unknown = false;  // only events with cost_source "unknown_model"
};

struct RepriceOutcome {
  uint64_t repriced = 0;       // cost or cost_source changed
  uint64_t unchanged = 0;      // priced from the table at the same cost as before
  uint64_t still_unknown = 0;  // no price in the table, before and after
  uint64_t reported = 0;       // in the selection but cost_source "reported": left alone
  int64_t cost_delta_nano_usd = 0;  // sum of (new - old) over the repriced events
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

  using RepriceResponseFn = std::function<StoredResponse(const RepriceOutcome&)>;

  // Re-prices the selected events of `project` with the current price table
  // (the price of each event's time, as at ingest): a price found gives
  // cost_source "price_table", none gives cost 0 and "unknown_model". The new
  // (cost, cost_source) pairs are logged to the WAL (kWalRecordReprice, in
  // chunks, the last with `idempotency` and the response) before they become
  // visible; increases are added to tally_llm_cost_usd_total. Reprices run
  // one at a time. Fails with kUnavailable when the WAL cannot be written
  // (chunks logged before stay applied; a retry finishes the job).
  core::Result<StoredResponse> Reprice(std::string_view project, const RepriceRequest& request,
                                       const RepriceResponseFn& respond,
                                       const IdempotencyIntent* idempotency);
  // The same without an HTTP response (tests, internal callers).
  core::Result<RepriceOutcome> Reprice(std::string_view project, const RepriceRequest& request);

  // Starts logging to `wal` (after the start-up replay).
  // REQUIRES: no Store() call runs concurrently.
  void SetWal(store::Wal* wal) { wal_ = wal; }

  // Applies one kWalRecordEvents or kWalRecordReprice record (WAL replay,
  // snapshot load).
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
  prometheus::Counter& repriced_;

  store::Wal* wal_ = nullptr;
  std::shared_mutex gate_;  // shared by Store() from Reserve to Commit and by Reprice() from
                           // WAL append to UpdateCosts; exclusive for checkpoints
  std::mutex reprice_mu_;  // one Reprice() at a time (its plan stays valid until applied)

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<EventDecoder>> pool_;  // guarded by pool_mu_
};

}  // namespace exporter

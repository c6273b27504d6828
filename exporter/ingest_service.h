// IngestService: metric-point ingest as plain functions over decoded requests.
// Decodes bodies with a pooled PointDecoder, writes valid points to the store,
// and reports exactly which points were not stored and why. HTTP concerns
// (status codes, idempotency replay, JSON responses) are rest/'s.
//
// Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "config/config.h"
#include "core/clock.h"
#include "exporter/idempotency.h"
#include "exporter/point_decoder.h"
#include "store/series_store.h"
#include "store/wal.h"

namespace exporter {

struct Checkpoint;

struct IngestOptions {
  config::LimitsConfig limits;
  int64_t retention_ms = 15LL * 86'400'000;
  // When set, every accepted batch is logged here before it becomes visible,
  // and a request is answered only once its record is durable (DESIGN.md
  // section 4). Not owned. Can also be set later with SetWal.
  store::Wal* wal = nullptr;
  // Restored from the WAL on replay. Not owned; may be null.
  IdempotencyCache* idempotency = nullptr;
};

// The idempotency key of a request and its body hash, persisted with the
// points so a retry after a restart gets the first response.
struct IdempotencyIntent {
  std::string key;
  std::string body_hash;
};

// The result of storing a decoded request.
struct IngestOutcome {
  size_t accepted = 0;
  std::vector<PointError> errors;  // decode and store rejections, sorted by index
};

class IngestService {
 public:
  // A decoder borrowed from the pool; returned on destruction.
  class DecoderLease {
   public:
    DecoderLease(IngestService* owner, std::unique_ptr<PointDecoder> d)
        : owner_(owner), decoder_(std::move(d)) {}
    ~DecoderLease();
    DecoderLease(DecoderLease&&) = default;
    PointDecoder& operator*() { return *decoder_; }
    PointDecoder* operator->() { return decoder_.get(); }

   private:
    IngestService* owner_;
    std::unique_ptr<PointDecoder> decoder_;
  };

  IngestService(store::SeriesStore& store, IngestOptions options, const core::Clock& clock,
                prometheus::Registry& registry);

  DecoderLease AcquireDecoder();
  DecodeContext MakeDecodeContext() const;

  // Builds the HTTP response for an outcome (rest/ knows the JSON shapes).
  using ResponseFn = std::function<StoredResponse(const IngestOutcome&)>;

  // Stores the valid points of `batch` under `project`: reserve series (types,
  // cardinality, memory), log the accepted points with `idempotency` and the
  // response to the WAL and wait until durable, then make them visible. Fails
  // as a whole (nothing stored) with kUnavailable when the memory ceiling is
  // reached or the WAL cannot be written.
  core::Result<StoredResponse> Store(std::string_view project, const DecodedBatch& batch,
                                     const ResponseFn& respond,
                                     const IdempotencyIntent* idempotency);

  // The same without an HTTP response (tests, internal callers).
  core::Result<IngestOutcome> Store(std::string_view project, const DecodedBatch& batch);

  // Starts logging accepted batches to `wal` (after the start-up replay).
  // REQUIRES: no Store() call runs concurrently.
  void SetWal(store::Wal* wal) { wal_ = wal; }

  // Copies the store and idempotency state at a WAL segment boundary, for a
  // snapshot: blocks ingest while it rotates the WAL and copies (writers hold
  // the gate from reserving to committing, so no batch is half-applied).
  // REQUIRES: a WAL is set.
  core::Result<struct Checkpoint> TakeCheckpoint();

  // Applies one WAL record during start-up replay.
  core::Status Replay(uint8_t type, std::string_view payload);

  // Counts a request rejected as a whole (malformed body etc.) by reason.
  void CountRejectedRequest(const core::Error& error, size_t points);

 private:
  void CountRejected(core::ErrorCode code, double n);

  store::SeriesStore& store_;
  const IngestOptions options_;
  const core::Clock& clock_;
  prometheus::Counter& accepted_;
  prometheus::Family<prometheus::Counter>& rejected_;

  store::Wal* wal_ = nullptr;
  // Shared by Store() from Reserve to Commit; exclusive for TakeCheckpoint.
  std::shared_mutex gate_;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<PointDecoder>> pool_;  // guarded by pool_mu_
};

}  // namespace exporter

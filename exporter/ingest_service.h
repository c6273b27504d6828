// IngestService: metric-point ingest as plain functions over decoded requests.
// Decodes bodies with a pooled PointDecoder, writes valid points to the store,
// and reports exactly which points were not stored and why. HTTP concerns
// (status codes, idempotency replay, JSON responses) are rest/'s.
//
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "config/config.h"
#include "core/clock.h"
#include "exporter/point_decoder.h"
#include "store/series_store.h"

namespace exporter {

struct IngestOptions {
  config::LimitsConfig limits;
  int64_t retention_ms = 15LL * 86'400'000;
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

  // Stores the valid points of `batch` under `project`. Fails as a whole (nothing
  // stored) when the store is unavailable (memory ceiling).
  core::Result<IngestOutcome> Store(std::string_view project, const DecodedBatch& batch);

  // Counts a request rejected as a whole (malformed body etc.) by reason.
  void CountRejectedRequest(const core::Error& error, size_t points);

 private:
  void CountRejected(core::ErrorCode code, double n);

  store::SeriesStore& store_;
  const IngestOptions options_;
  const core::Clock& clock_;
  prometheus::Counter& accepted_;
  prometheus::Family<prometheus::Counter>& rejected_;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<PointDecoder>> pool_;  // guarded by pool_mu_
};

}  // namespace exporter

#include "exporter/ingest_service.h"

#include <algorithm>

namespace exporter {

IngestService::DecoderLease::~DecoderLease() {
  if (owner_ != nullptr && decoder_ != nullptr) {
    std::lock_guard lock(owner_->pool_mu_);
    owner_->pool_.push_back(std::move(decoder_));
  }
}

IngestService::IngestService(store::SeriesStore& store, IngestOptions options,
                             const core::Clock& clock, prometheus::Registry& registry)
    : store_(store),
      options_(std::move(options)),
      clock_(clock),
      accepted_(prometheus::BuildCounter()
                    .Name("tally_ingest_points_accepted_total")
                    .Help("Metric points stored")
                    .Register(registry)
                    .Add({})),
      rejected_(prometheus::BuildCounter()
                    .Name("tally_ingest_points_rejected_total")
                    .Help("Metric points not stored, by reason (error code)")
                    .Register(registry)) {
  for (auto code : {core::ErrorCode::kInvalidRequest, core::ErrorCode::kTypeMismatch,
                    core::ErrorCode::kCardinalityLimit, core::ErrorCode::kUnavailable}) {
    rejected_.Add({{"reason", std::string(core::ErrorCodeName(code))}});
  }
}

IngestService::DecoderLease IngestService::AcquireDecoder() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      auto d = std::move(pool_.back());
      pool_.pop_back();
      return DecoderLease(this, std::move(d));
    }
  }
  return DecoderLease(this, std::make_unique<PointDecoder>());
}

DecodeContext IngestService::MakeDecodeContext() const {
  return DecodeContext{clock_.NowMs(), options_.retention_ms, options_.limits};
}

void IngestService::CountRejected(core::ErrorCode code, double n) {
  if (n > 0) rejected_.Add({{"reason", std::string(core::ErrorCodeName(code))}}).Increment(n);
}

void IngestService::CountRejectedRequest(const core::Error& error, size_t points) {
  CountRejected(error.code, static_cast<double>(std::max<size_t>(points, 1)));
}

core::Result<IngestOutcome> IngestService::Store(std::string_view project,
                                                 const DecodedBatch& batch) {
  IngestOutcome outcome;
  outcome.errors = batch.errors;
  for (const PointError& e : batch.errors) CountRejected(e.error.code, 1);
  if (!batch.points.empty()) {
    std::vector<store::PointView> views;
    views.reserve(batch.points.size());
    for (const DecodedPoint& p : batch.points) views.push_back(p.View());
    auto stored = store_.Append(project, views, clock_.NowMs());
    if (!stored) {
      CountRejected(stored.error().code, static_cast<double>(batch.points.size()));
      return core::Unexpected(stored.error());
    }
    bool store_rejected = false;
    for (size_t i = 0; i < stored->size(); ++i) {
      if ((*stored)[i]) {
        CountRejected((*stored)[i]->code, 1);
        core::Error err = std::move(*(*stored)[i]);
        if (batch.is_batch) {
          err.param = "points[" + std::to_string(batch.points[i].index) + "]." + err.param;
        }
        outcome.errors.push_back({batch.points[i].index, std::move(err)});
        store_rejected = true;
      } else {
        ++outcome.accepted;
      }
    }
    if (store_rejected) {
      std::sort(outcome.errors.begin(), outcome.errors.end(),
                [](const PointError& a, const PointError& b) { return a.index < b.index; });
    }
  }
  accepted_.Increment(static_cast<double>(outcome.accepted));
  return outcome;
}

}  // namespace exporter

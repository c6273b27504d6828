#include "exporter/ingest_service.h"

#include <algorithm>

#include "exporter/ingest_record.h"
#include "exporter/snapshot.h"

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
  wal_ = options_.wal;
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
  IngestOutcome result;
  auto stored = Store(
      project, batch,
      [&](const IngestOutcome& outcome) {
        result = outcome;
        return StoredResponse{200, ""};
      },
      nullptr);
  if (!stored) return core::Unexpected(stored.error());
  return result;
}

core::Result<StoredResponse> IngestService::Store(std::string_view project,
                                                  const DecodedBatch& batch,
                                                  const ResponseFn& respond,
                                                  const IdempotencyIntent* idempotency) {
  IngestOutcome outcome;
  outcome.errors = batch.errors;
  for (const PointError& e : batch.errors) CountRejected(e.error.code, 1);
  std::vector<store::PointView> views;
  views.reserve(batch.points.size());
  for (const DecodedPoint& p : batch.points) views.push_back(p.View());
  std::shared_lock gate(gate_);
  const int64_t now_ms = clock_.NowMs();

  store::Reservation reservation;
  if (!views.empty()) {
    auto reserved = store_.Reserve(project, views, now_ms);
    if (!reserved) {
      CountRejected(reserved.error().code, static_cast<double>(views.size()));
      return core::Unexpected(reserved.error());
    }
    reservation = std::move(*reserved);
  }
  bool store_rejected = false;
  std::vector<store::PointView> accepted;
  accepted.reserve(views.size());
  for (size_t i = 0; i < reservation.outcomes.size(); ++i) {
    if (reservation.outcomes[i]) {
      core::Error err = *reservation.outcomes[i];
      if (batch.is_batch) {
        err.param = "points[" + std::to_string(batch.points[i].index) + "]." + err.param;
      }
      outcome.errors.push_back({batch.points[i].index, std::move(err)});
      store_rejected = true;
    } else {
      accepted.push_back(views[i]);
    }
  }
  outcome.accepted = accepted.size();
  if (store_rejected) {
    std::sort(outcome.errors.begin(), outcome.errors.end(),
              [](const PointError& a, const PointError& b) { return a.index < b.index; });
  }
  StoredResponse response = respond(outcome);

  if (wal_ != nullptr && (!accepted.empty() || idempotency != nullptr)) {
    std::optional<IdempotencyRecord> idem;
    if (idempotency != nullptr) {
      idem = IdempotencyRecord{idempotency->key, idempotency->body_hash, response.status,
                               response.body};
    }
    std::string record;
    EncodeIngestRecord(now_ms, project, idem, accepted, record);
    if (auto st = wal_->Append(kWalRecordPoints, record); !st) {
      CountRejected(core::ErrorCode::kUnavailable, static_cast<double>(accepted.size()));
      return core::Fail(core::ErrorCode::kUnavailable,
                        "could not make the points durable (" + st.error().message +
                            "); nothing was stored, retry later");
    }
  }
  if (!views.empty()) store_.Commit(reservation, views, now_ms);
  for (const PointError& e : outcome.errors) {
    if (e.error.code != core::ErrorCode::kInvalidRequest) CountRejected(e.error.code, 1);
  }
  accepted_.Increment(static_cast<double>(outcome.accepted));
  return response;
}

core::Result<Checkpoint> IngestService::TakeCheckpoint() {
  std::unique_lock gate(gate_);
  auto segment = wal_->Rotate();
  if (!segment) return core::Unexpected(segment.error());
  Checkpoint cp;
  cp.first_wal_segment = *segment;
  cp.series = store_.ExportState();
  if (options_.idempotency != nullptr) cp.idempotency = options_.idempotency->ExportCompleted();
  return cp;
}

core::Status IngestService::Replay(uint8_t type, std::string_view payload) {
  if (type != kWalRecordPoints) {
    return core::Fail(core::ErrorCode::kInternal,
                      "unknown WAL record type " + std::to_string(type));
  }
  auto rec = DecodeIngestRecord(payload);
  if (!rec) return core::Unexpected(rec.error());
  if (!rec->points.empty()) store_.AppendUnchecked(rec->project, rec->points, rec->ingest_ms);
  if (rec->idempotency && options_.idempotency != nullptr) {
    options_.idempotency->Restore(std::string(rec->project), rec->idempotency->key,
                                  rec->idempotency->body_hash,
                                  {rec->idempotency->status, rec->idempotency->response},
                                  rec->ingest_ms);
  }
  return {};
}

}  // namespace exporter

#include "exporter/event_service.h"

#include <algorithm>
#include <limits>

#include "core/random.h"
#include "exporter/event_record.h"
#include "exporter/snapshot.h"

namespace exporter {
namespace {

using store::EventField;

// Events per snapshot record.
constexpr size_t kSnapshotChunk = 8192;
// Cost updates per reprice WAL record (~30 bytes each).
constexpr size_t kRepriceChunk = 65'536;

char HexDigit(unsigned v) { return "0123456789abcdef"[v & 15]; }

}  // namespace

EventService::DecoderLease::~DecoderLease() {
  if (owner_ != nullptr && decoder_ != nullptr) {
    std::lock_guard lock(owner_->pool_mu_);
    owner_->pool_.push_back(std::move(decoder_));
  }
}

EventService::EventService(store::EventStore& store, const PriceBook& prices,
                           LlmMetrics& metrics, EventIngestOptions options,
                           const core::Clock& clock, prometheus::Registry& registry)
    : store_(store),
      prices_(prices),
      metrics_(metrics),
      options_(std::move(options)),
      clock_(clock),
      accepted_(prometheus::BuildCounter()
                    .Name("tally_ingest_events_accepted_total")
                    .Help("LLM call events stored")
                    .Register(registry)
                    .Add({})),
      duplicates_(prometheus::BuildCounter()
                      .Name("tally_ingest_events_duplicate_total")
                      .Help("LLM call events ignored because their id was already stored")
                      .Register(registry)
                      .Add({})),
      rejected_(prometheus::BuildCounter()
                    .Name("tally_ingest_events_rejected_total")
                    .Help("LLM call events not stored, by reason (error code)")
                    .Register(registry)),
      repriced_(prometheus::BuildCounter()
                    .Name("tally_events_repriced_total")
                    .Help("LLM call events whose cost POST /v1/events/reprice changed")
                    .Register(registry)
                    .Add({})) {
  for (auto code : {core::ErrorCode::kInvalidRequest, core::ErrorCode::kUnavailable}) {
    rejected_.Add({{"reason", std::string(core::ErrorCodeName(code))}});
  }
}

EventService::DecoderLease EventService::AcquireDecoder() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      auto d = std::move(pool_.back());
      pool_.pop_back();
      return DecoderLease(this, std::move(d));
    }
  }
  return DecoderLease(this, std::make_unique<EventDecoder>());
}

DecodeContext EventService::MakeDecodeContext() const {
  return DecodeContext{clock_.NowMs(), options_.retention_ms, options_.limits};
}

void EventService::CountRejected(core::ErrorCode code, double n) {
  if (n > 0) rejected_.Add({{"reason", std::string(core::ErrorCodeName(code))}}).Increment(n);
}

void EventService::CountRejectedRequest(const core::Error& error, size_t events) {
  CountRejected(error.code, static_cast<double>(std::max<size_t>(events, 1)));
}

core::Result<EventIngestOutcome> EventService::Store(std::string_view project,
                                                     DecodedEvents& decoded) {
  EventIngestOutcome result;
  auto stored = Store(
      project, decoded,
      [&](const EventIngestOutcome& outcome) {
        result = outcome;
        return StoredResponse{200, ""};
      },
      nullptr);
  if (!stored) return core::Unexpected(stored.error());
  return result;
}

core::Result<StoredResponse> EventService::Store(std::string_view project,
                                                 DecodedEvents& decoded,
                                                 const ResponseFn& respond,
                                                 const IdempotencyIntent* idempotency) {
  EventIngestOutcome outcome;
  outcome.errors = decoded.errors;
  for (const PointError& e : decoded.errors) CountRejected(e.error.code, 1);
  outcome.ids.resize(decoded.total);

  // Ids for events without one: "evt_" + 80 random bits per request + index,
  // all in one buffer (reserved up front, so the views into it stay valid).
  std::string prefix;
  std::string generated;
  for (size_t i = 0; i < decoded.events.size(); ++i) {
    DecodedEvent& d = decoded.events[i];
    if (!d.id.empty()) continue;
    if (prefix.empty()) {
      prefix = "evt_" + core::RandomHex(10);
      generated.reserve((decoded.events.size() - i) * (prefix.size() + 4));
    }
    const size_t at = generated.size();
    generated.append(prefix);
    for (int shift = 12; shift >= 0; shift -= 4) {
      generated.push_back(HexDigit(static_cast<unsigned>(d.index >> shift)));
    }
    d.id = std::string_view(generated).substr(at);
  }

  // Prices: reported, or the price table's price of the event's day.
  const std::shared_ptr<const PriceTable> table = prices_.Current();
  std::vector<store::EventView> views;
  views.reserve(decoded.events.size());
  std::vector<size_t> indexes;  // request index per view
  indexes.reserve(decoded.events.size());
  bool priced_out = false;
  for (const DecodedEvent& d : decoded.events) {
    store::EventView v = d.View();
    if (d.reported_cost_nano_usd) {
      v.cost_nano_usd = *d.reported_cost_nano_usd;
      v.cost_source = store::CostSource::kReported;
    } else if (auto match = table->Lookup(v.str(EventField::kProvider), v.str(EventField::kModel),
                                          v.ts_ms)) {
      TokenCounts tokens{v.input_tokens, v.output_tokens, v.cache_read_tokens,
                         v.cache_write_5m_tokens, v.cache_write_1h_tokens};
      auto cost = ComputeCost(*match->entry, tokens);
      if (!cost) {
        outcome.errors.push_back(
            {d.index, core::MakeError(core::ErrorCode::kInvalidRequest,
                                      "the cost of these tokens is out of range: " +
                                          cost.error().message,
                                      decoded.is_batch
                                          ? "events[" + std::to_string(d.index) + "]"
                                          : "")});
        CountRejected(core::ErrorCode::kInvalidRequest, 1);
        priced_out = true;
        continue;
      }
      v.cost_nano_usd = cost->nano_usd;
      v.cost_source = store::CostSource::kPriceTable;
    } else {
      v.cost_nano_usd = 0;
      v.cost_source = store::CostSource::kUnknownModel;
    }
    views.push_back(v);
    indexes.push_back(d.index);
  }
  if (priced_out) {
    std::sort(outcome.errors.begin(), outcome.errors.end(),
              [](const PointError& a, const PointError& b) { return a.index < b.index; });
  }

  std::shared_lock gate(gate_);
  const int64_t now_ms = clock_.NowMs();
  store::EventReservation reservation;
  if (!views.empty()) {
    auto reserved = store_.Reserve(project, views);
    if (!reserved) {
      CountRejected(reserved.error().code, static_cast<double>(views.size()));
      return core::Unexpected(reserved.error());
    }
    reservation = std::move(*reserved);
  }
  std::vector<store::EventView> fresh;
  fresh.reserve(reservation.fresh);
  for (size_t i = 0; i < views.size(); ++i) {
    outcome.ids[indexes[i]] = std::string(views[i].id);
    if (reservation.duplicate[i]) {
      ++outcome.duplicates;
    } else {
      fresh.push_back(views[i]);
    }
  }
  outcome.accepted = fresh.size();
  StoredResponse response = respond(outcome);

  if (wal_ != nullptr && (!fresh.empty() || idempotency != nullptr)) {
    std::optional<IdempotencyRecord> idem;
    if (idempotency != nullptr) {
      idem = IdempotencyRecord{idempotency->key, idempotency->body_hash, response.status,
                               response.body};
    }
    std::string record;
    record.reserve(256 + (idem ? idem->response.size() : 0) + fresh.size() * 160);
    EncodeEventRecord(now_ms, project, idem, fresh, record);
    if (auto st = wal_->Append(kWalRecordEvents, record); !st) {
      if (!views.empty()) store_.Abort(project, views, reservation);
      CountRejected(core::ErrorCode::kUnavailable, static_cast<double>(fresh.size()));
      return core::Fail(core::ErrorCode::kUnavailable,
                        "could not make the events durable (" + st.error().message +
                            "); nothing was stored, retry later");
    }
  }
  if (!views.empty()) {
    store_.Commit(project, views, reservation);
    metrics_.Observe(project, views, reservation.duplicate);
  }
  accepted_.Increment(static_cast<double>(outcome.accepted));
  duplicates_.Increment(static_cast<double>(outcome.duplicates));
  return response;
}

core::Result<RepriceOutcome> EventService::Reprice(std::string_view project,
                                                   const RepriceRequest& request) {
  RepriceOutcome result;
  auto stored = Reprice(
      project, request,
      [&](const RepriceOutcome& outcome) {
        result = outcome;
        return StoredResponse{200, ""};
      },
      nullptr);
  if (!stored) return core::Unexpected(stored.error());
  return result;
}

core::Result<StoredResponse> EventService::Reprice(std::string_view project,
                                                   const RepriceRequest& request,
                                                   const RepriceResponseFn& respond,
                                                   const IdempotencyIntent* idempotency) {
  std::lock_guard reprice_lock(reprice_mu_);
  const std::shared_ptr<const PriceTable> table = prices_.Current();
  RepriceOutcome outcome;
  std::vector<store::EventCostUpdate> updates;
  // The views keep their blocks, hence the ids the updates point to, alive.
  std::vector<store::EventBlockView> views;
  const store::Dictionary* dict = store_.dict(project);
  std::optional<uint32_t> model_code, provider_code;
  bool none = dict == nullptr;
  if (dict != nullptr && !request.model.empty()) {
    model_code = dict->Find(request.model);
    none = none || !model_code;
  }
  if (dict != nullptr && !request.provider.empty()) {
    provider_code = dict->Find(request.provider);
    none = none || !provider_code;
  }
  if (!none) {
    store_.ScanBlocks(
        project, request.from_ms, request.to_ms, [&](const store::EventBlockView& v) {
          const auto ts = v.ts_ms();
          const auto cost = v.cost_nano_usd();
          const auto models = v.codes(EventField::kModel);
          const auto providers = v.codes(EventField::kProvider);
          bool used = false;
          for (size_t i = 0; i < v.size(); ++i) {
            if (ts[i] < request.from_ms || ts[i] >= request.to_ms) continue;
            if (model_code && models[i] != *model_code) continue;
            if (provider_code && providers[i] != *provider_code) continue;
            const store::CostSource source = v.cost_source(i);
            if (source == store::CostSource::kReported) {
              if (!request.only_unknown) ++outcome.reported;
              continue;
            }
            if (request.only_unknown && source != store::CostSource::kUnknownModel) continue;
            store::EventCostUpdate u{v.id(i), 0, store::CostSource::kUnknownModel};
            if (auto match = table->Lookup(v.dict().Str(providers[i]), v.dict().Str(models[i]),
                                           ts[i])) {
              TokenCounts tokens{v.input_tokens()[i], v.output_tokens()[i],
                                 v.cache_read_tokens()[i], v.cache_write_5m_tokens()[i],
                                 v.cache_write_1h_tokens()[i]};
              auto priced = ComputeCost(*match->entry, tokens);
              if (!priced) {
                // Out of range (ingest would have refused it): left as it is.
                ++(source == store::CostSource::kUnknownModel ? outcome.still_unknown
                                                              : outcome.unchanged);
                continue;
              }
              u.cost_nano_usd = priced->nano_usd;
              u.cost_source = store::CostSource::kPriceTable;
            }
            if (u.cost_nano_usd == cost[i] && u.cost_source == source) {
              ++(source == store::CostSource::kUnknownModel ? outcome.still_unknown
                                                            : outcome.unchanged);
              continue;
            }
            ++outcome.repriced;
            outcome.cost_delta_nano_usd += u.cost_nano_usd - cost[i];
            updates.push_back(u);
            used = true;
          }
          if (used) views.push_back(v);
        });
  }
  StoredResponse response = respond(outcome);

  // Logged and applied in chunks; the last chunk carries the idempotency entry.
  const int64_t now_ms = clock_.NowMs();
  std::optional<IdempotencyRecord> idem;
  if (idempotency != nullptr) {
    idem = IdempotencyRecord{idempotency->key, idempotency->body_hash, response.status,
                             response.body};
  }
  const std::span<const store::EventCostUpdate> all(updates);
  size_t done = 0;
  do {
    const size_t n = std::min(kRepriceChunk, all.size() - done);
    const auto chunk = all.subspan(done, n);
    const bool last = done + n == all.size();
    std::shared_lock gate(gate_);
    if (wal_ != nullptr && (!chunk.empty() || (last && idem))) {
      std::string record;
      EncodeRepriceRecord(now_ms, project, last ? idem : std::nullopt, chunk, record);
      if (auto st = wal_->Append(kWalRecordReprice, record); !st) {
        return core::Fail(core::ErrorCode::kUnavailable,
                          "could not make the reprice durable (" + st.error().message + "); " +
                              std::to_string(done) + " of " + std::to_string(all.size()) +
                              " events were re-priced, retry to finish");
      }
    }
    if (!chunk.empty()) {
      const std::vector<store::EventCostChange> changes = store_.UpdateCosts(project, chunk);
      metrics_.AddRepricedCost(project, changes);
    }
    done += n;
  } while (done < all.size());
  repriced_.Increment(static_cast<double>(outcome.repriced));
  return response;
}

core::Status EventService::Replay(uint8_t type, std::string_view payload) {
  if (type == kWalRecordReprice) {
    auto rec = DecodeRepriceRecord(payload);
    if (!rec) return core::Unexpected(rec.error());
    if (!rec->updates.empty()) {
      const std::vector<store::EventCostChange> changes =
          store_.UpdateCosts(rec->project, rec->updates);
      metrics_.AddRepricedCost(rec->project, changes);
    }
    if (rec->idempotency && options_.idempotency != nullptr) {
      options_.idempotency->Restore(std::string(rec->project), rec->idempotency->key,
                                    rec->idempotency->body_hash,
                                    {rec->idempotency->status, rec->idempotency->response},
                                    rec->ingest_ms);
    }
    return {};
  }
  if (type != kWalRecordEvents) {
    return core::Fail(core::ErrorCode::kInternal,
                      "not an event record: type " + std::to_string(type));
  }
  auto rec = DecodeEventRecord(payload);
  if (!rec) return core::Unexpected(rec.error());
  if (!rec->events.empty()) {
    std::vector<bool> duplicate;
    store_.Append(rec->project, rec->events, &duplicate);
    metrics_.Observe(rec->project, rec->events, duplicate);
  }
  if (rec->idempotency && options_.idempotency != nullptr) {
    options_.idempotency->Restore(std::string(rec->project), rec->idempotency->key,
                                  rec->idempotency->body_hash,
                                  {rec->idempotency->status, rec->idempotency->response},
                                  rec->ingest_ms);
  }
  return {};
}

core::Result<Checkpoint> EventService::TakeCheckpoint(
    const std::function<core::Result<Checkpoint>()>& take) {
  std::unique_lock gate(gate_);
  auto cp = take();
  if (!cp) return cp;
  const int64_t now_ms = clock_.NowMs();
  std::vector<store::EventView> chunk;
  std::vector<std::vector<std::pair<std::string_view, std::string_view>>> tags;
  for (const std::string& project : store_.Projects()) {
    auto flush = [&] {
      if (chunk.empty()) return;
      std::string& record = cp->event_records.emplace_back();
      EncodeEventRecord(now_ms, project, std::nullopt, chunk, record);
      chunk.clear();
      tags.clear();
    };
    store_.ScanBlocks(
        project, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
        [&](const store::EventBlockView& b) {
          const store::Dictionary& dict = b.dict();
          // Dictionary::Str takes a lock: skip empty strings and repeats of the
          // previous row's code (model, provider, entity type).
          uint32_t last_code[store::kEventFieldCount] = {};
          std::string_view last_str[store::kEventFieldCount];
          for (size_t i = 0; i < b.size(); ++i) {
            store::EventView& v = chunk.emplace_back();
            v.id = b.id(i);
            v.ts_ms = b.ts_ms()[i];
            for (size_t f = 0; f < store::kEventFieldCount; ++f) {
              const uint32_t code = b.codes(static_cast<EventField>(f))[i];
              if (code == store::Dictionary::kEmpty) continue;
              if (code != last_code[f]) {
                last_code[f] = code;
                last_str[f] = dict.Str(code);
              }
              v.strings[f] = last_str[f];
            }
            v.input_tokens = b.input_tokens()[i];
            v.output_tokens = b.output_tokens()[i];
            v.cache_read_tokens = b.cache_read_tokens()[i];
            v.cache_write_5m_tokens = b.cache_write_5m_tokens()[i];
            v.cache_write_1h_tokens = b.cache_write_1h_tokens()[i];
            v.cost_nano_usd = b.cost_nano_usd()[i];
            v.cost_source = b.cost_source(i);
            if (b.has_latency(i)) v.latency_ms = b.latency_ms()[i];
            v.success = b.success(i);
            auto& t = tags.emplace_back();
            for (const store::TagCode& tc : b.tags(i)) t.emplace_back(dict.Str(tc.key), dict.Str(tc.value));
            if (chunk.size() == kSnapshotChunk) {
              // `tags` may have reallocated: re-point every view before encoding.
              for (size_t j = 0; j < chunk.size(); ++j) chunk[j].tags = tags[j];
              flush();
            }
          }
        });
    for (size_t j = 0; j < chunk.size(); ++j) chunk[j].tags = tags[j];
    flush();
  }
  return cp;
}

}  // namespace exporter

// Fuzzes the LLM call event decoder (POST /v1/events): any byte string must
// yield either a clean error or events that satisfy the documented
// invariants (exporter/event_decoder.h); never a crash.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/http.h"
#include "core/text.h"
#include "exporter/event_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static exporter::EventDecoder* decoder = new exporter::EventDecoder();
  std::string body(reinterpret_cast<const char*>(data), size);
  body.reserve(size + core::kBodyPadding);
  exporter::DecodeContext ctx;
  ctx.now_ms = 1'700'000'000'000;
  ctx.retention_ms = 15LL * 86'400'000;
  auto result = decoder->Decode(body, ctx);
  if (!result) {
    if (result.error().message.empty()) std::abort();
    return 0;
  }
  const exporter::DecodedEvents& d = *result;
  if (d.events.size() + d.errors.size() != d.total) std::abort();
  if (d.total == 0 || d.total > exporter::kMaxBatchEvents) std::abort();
  if (!d.is_batch && d.total != 1) std::abort();
  size_t last_index = 0;
  for (size_t i = 0; i < d.errors.size(); ++i) {
    const auto& e = d.errors[i];
    if (e.index >= d.total || e.error.message.empty()) std::abort();
    if (i > 0 && e.index <= last_index) std::abort();
    last_index = e.index;
  }
  for (const exporter::DecodedEvent& e : d.events) {
    if (e.index >= d.total) std::abort();
    if (e.id.size() > exporter::kMaxEventIdLength) std::abort();
    const store::EventView v = e.View();
    if (v.str(store::EventField::kModel).empty()) std::abort();
    for (size_t f = 0; f < store::kEventFieldCount; ++f) {
      if (v.strings[f].size() > exporter::kMaxEventStringBytes) std::abort();
      if (!core::IsValidUtf8(v.strings[f])) std::abort();
    }
    if (e.reported_cost_nano_usd &&
        (*e.reported_cost_nano_usd < 0 ||
         *e.reported_cost_nano_usd > exporter::kMaxEventCostNanoUsd)) {
      std::abort();
    }
    if (e.latency_ms && (!std::isfinite(*e.latency_ms) || *e.latency_ms < 0 ||
                         *e.latency_ms > exporter::kMaxLatencyMs)) {
      std::abort();
    }
    if (e.ts_ms < ctx.now_ms - ctx.retention_ms - 86'400'000 ||
        e.ts_ms > ctx.now_ms + 86'400'000) {
      std::abort();
    }
    if (e.tags.size() > static_cast<size_t>(ctx.limits.max_tags_per_point)) std::abort();
    for (size_t t = 0; t < e.tags.size(); ++t) {
      if (e.tags[t].first.empty() || !core::IsValidUtf8(e.tags[t].second)) std::abort();
      if (t > 0 && !(e.tags[t - 1].first < e.tags[t].first)) std::abort();
    }
  }
  return 0;
}

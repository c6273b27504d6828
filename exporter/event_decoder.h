// EventDecoder: turns POST /v1/events bodies (one event object, or
// {events: [...], idempotency_key?}) into validated, normalised LLM call
// events (API.md section 3), with an error per rejected event whose `param` is
// the JSON path of the offending field ("events[3].input_tokens"). Provider
// spellings of token counts (OpenAI prompt_tokens/completion_tokens and
// usage.prompt_tokens_details.cached_tokens, Anthropic usage with cache
// fields, Gemini usageMetadata) become tally's disjoint kinds (see TokenCounts
// in exporter/pricing.h). The rules are listed in docs/api.md.
//
// Unknown fields: rejected at the top level of an event and of a batch (a typo
// must not silently drop data); ignored inside `usage` / `usageMetadata`
// (provider objects grow new fields), whose known fields are still checked.
//
// Not thread-safe: one decoder per thread at a time (string views in results
// point into its parser). Results stay valid until the next Decode call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/status.h"
#include "exporter/point_decoder.h"
#include "store/event_store.h"

namespace exporter {

inline constexpr size_t kMaxBatchEvents = 10'000;
inline constexpr size_t kMaxEventIdLength = 128;
inline constexpr size_t kMaxEventStringBytes = 512;  // model, entity_id, session_id, ...
inline constexpr int64_t kMaxEventCostNanoUsd = 1'000'000'000'000'000'000;  // 1e9 USD
inline constexpr double kMaxLatencyMs = 1e9;                                  // ~11.6 days

// A validated event. String views point into the decoder (or into this
// object's own strings); `tags` are sorted by key.
struct DecodedEvent {
  size_t index = 0;  // position in the request ("events[index]")
  std::string_view id;     // empty: the service generates one
  int64_t ts_ms = 0;
  std::string_view strings[store::kEventFieldCount];
  std::string provider;    // normalised (lower case, aliases); View() uses it when set
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  uint32_t cache_read_tokens = 0;
  uint32_t cache_write_5m_tokens = 0;
  uint32_t cache_write_1h_tokens = 0;
  std::optional<int64_t> reported_cost_nano_usd;  // cost_usd, when given
  std::optional<float> latency_ms;
  bool success = true;
  std::vector<std::pair<std::string_view, std::string_view>> tags;

  // The store's view. Cost fields are left for the caller to fill.
  // REQUIRES: this object is not moved while the view is used.
  store::EventView View() const;
};

struct DecodedEvents {
  std::vector<DecodedEvent> events;  // valid events, in request order
  std::vector<PointError> errors;    // rejected events, in request order
  size_t total = 0;
  std::optional<std::string> idempotency_key;
  bool is_batch = false;
};

class EventDecoder {
 public:
  EventDecoder();
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // Fails as a whole on malformed JSON, a body that is neither an event nor a
  // batch object, a missing/empty/oversized `events` array, or unknown batch
  // fields. Per-event problems land in `errors`. `ctx` gives now, retention,
  // future skew and tag limits (the same as metric points).
  // REQUIRES: body.capacity() >= body.size() + core::kBodyPadding (else copied).
  core::Result<DecodedEvents> Decode(const std::string& body, const DecodeContext& ctx);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace exporter

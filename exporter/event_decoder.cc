#include "exporter/event_decoder.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/http.h"
#include "core/text.h"
#include "core/time_parse.h"
#include "exporter/json_fields.h"
#include "exporter/pricing.h"

namespace exporter {
namespace {

using core::ErrorCode;
using simdjson::dom::element;
using json::FieldError;
using json::Quote;
using json::TypeName;
using store::EventField;

// JSON path of a field of event `index` ("events[3].model"), or of the single
// event of a one-event body (index -1: "model").
struct ParamPath {
  long index;
  std::string operator()(std::string_view field) const {
    if (index < 0) return std::string(field);
    return "events[" + std::to_string(index) + "]." + std::string(field);
  }
  std::string Self() const { return index < 0 ? "" : "events[" + std::to_string(index) + "]"; }
};

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

// A token count: a non-negative integer (an integral float like 150.0 is
// accepted) that fits in 32 bits.
std::optional<core::Error> ReadTokens(element v, const std::string& param, uint64_t& out) {
  if (!v.is_number()) {
    return FieldError("must be a non-negative integer, got " + std::string(TypeName(v.type())),
                      param);
  }
  double d = 0;
  if (v.is_uint64()) {
    uint64_t u = v.get_uint64().value_unsafe();
    if (u > std::numeric_limits<uint32_t>::max()) {
      return FieldError("token count " + std::to_string(u) + " is out of range (at most 4294967295)",
                        param);
    }
    out = u;
    return std::nullopt;
  }
  if (v.is_int64()) {
    return FieldError("token counts must be >= 0, got " +
                          std::to_string(v.get_int64().value_unsafe()),
                      param);
  }
  d = v.get_double().value_unsafe();
  if (d < 0) return FieldError("token counts must be >= 0", param);
  if (d != std::floor(d)) return FieldError("token counts must be whole numbers", param);
  if (d > std::numeric_limits<uint32_t>::max()) {
    return FieldError("token count is out of range (at most 4294967295)", param);
  }
  out = static_cast<uint64_t>(d);
  return std::nullopt;
}

std::optional<EventField> StringField(std::string_view key) {
  static constexpr std::pair<std::string_view, EventField> kFields[] = {
      {"model", EventField::kModel},         {"provider", EventField::kProvider},
      {"entity_type", EventField::kEntityType}, {"entity_id", EventField::kEntityId},
      {"session_id", EventField::kSessionId}, {"trace_id", EventField::kTraceId},
      {"parent_id", EventField::kParentId},   {"op_name", EventField::kOpName},
      {"thread_id", EventField::kThreadId},   {"turn_id", EventField::kTurnId},
      {"user_id", EventField::kUserId},
  };
  for (const auto& [name, field] : kFields) {
    if (name == key) return field;
  }
  return std::nullopt;
}

// Token counts as given, before normalisation. Which source supplied them
// decides the rules (see the TokenCounts comment in exporter/pricing.h).
struct RawTokens {
  enum Source { kNone, kCanonical, kOpenAiTop, kUsage, kGemini };
  Source source = kNone;
  std::string source_param;  // the field that set `source`, for conflict errors
  // Canonical / Anthropic (disjoint kinds).
  std::optional<uint64_t> input, output, cache_read, cache_write, cw_5m, cw_1h;
  // OpenAI / Gemini (prompt includes cached).
  std::optional<uint64_t> prompt, completion, cached, thoughts;
  bool openai_style = false;
  bool anthropic_style = false;
};

}  // namespace

store::EventView DecodedEvent::View() const {
  store::EventView v;
  v.id = id;
  v.ts_ms = ts_ms;
  for (size_t f = 0; f < store::kEventFieldCount; ++f) v.strings[f] = strings[f];
  v.input_tokens = input_tokens;
  v.output_tokens = output_tokens;
  v.cache_read_tokens = cache_read_tokens;
  v.cache_write_5m_tokens = cache_write_5m_tokens;
  v.cache_write_1h_tokens = cache_write_1h_tokens;
  v.latency_ms = latency_ms;
  v.success = success;
  v.tags = tags;
  if (!provider.empty()) v.strings[static_cast<size_t>(EventField::kProvider)] = provider;
  return v;
}

struct EventDecoder::Impl {
  simdjson::dom::parser parser;
  std::string copy;  // the body, padded, when the caller's buffer is not

  core::Result<element> Parse(const std::string& body) {
    element root;
    const bool padded = body.capacity() >= body.size() + simdjson::SIMDJSON_PADDING;
    auto err = parser.parse(body.data(), body.size(), !padded).get(root);
    if (err) return core::Unexpected(json::ParseFailure(err, body));
    return root;
  }

  std::optional<core::Error> SetSource(RawTokens& t, RawTokens::Source s,
                                       const std::string& param) {
    if (t.source == RawTokens::kNone) {
      t.source = s;
      t.source_param = param;
      return std::nullopt;
    }
    if (t.source == s) return std::nullopt;
    return FieldError("token counts are given twice (" + t.source_param + " and " + param +
                          "); send either tally's fields (input_tokens, output_tokens, "
                          "cache_read_tokens, cache_write_tokens), or prompt_tokens/"
                          "completion_tokens, or one provider usage object",
                      param);
  }

  // OpenAI or Anthropic `usage`.
  std::optional<core::Error> ReadUsage(element el, const std::string& base, RawTokens& t) {
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) {
      return FieldError("usage must be an object, got " + std::string(TypeName(el.type())), base);
    }
    if (auto e = SetSource(t, RawTokens::kUsage, base)) return e;
    for (auto field : obj) {
      const std::string_view key = field.key;
      const element v = field.value;
      if (v.is_null()) continue;
      const std::string param = base + "." + std::string(key);
      uint64_t n = 0;
      auto tokens = [&](std::optional<uint64_t>& slot) -> std::optional<core::Error> {
        if (auto e = ReadTokens(v, param, n)) return e;
        slot = n;
        return std::nullopt;
      };
      std::optional<core::Error> err;
      if (key == "prompt_tokens") {
        t.openai_style = true;
        err = tokens(t.prompt);
      } else if (key == "completion_tokens") {
        t.openai_style = true;
        err = tokens(t.completion);
      } else if (key == "total_tokens") {
        uint64_t ignored;
        err = ReadTokens(v, param, ignored);
      } else if (key == "prompt_tokens_details") {
        simdjson::dom::object d;
        if (v.get_object().get(d) != simdjson::SUCCESS) {
          return FieldError("must be an object, got " + std::string(TypeName(v.type())), param);
        }
        t.openai_style = true;
        element cached;
        if (d["cached_tokens"].get(cached) == simdjson::SUCCESS && !cached.is_null()) {
          if (auto e = ReadTokens(cached, param + ".cached_tokens", n)) return e;
          t.cached = n;
        }
      } else if (key == "input_tokens") {
        t.anthropic_style = true;
        err = tokens(t.input);
      } else if (key == "output_tokens") {
        t.anthropic_style = true;
        err = tokens(t.output);
      } else if (key == "cache_read_input_tokens") {
        t.anthropic_style = true;
        err = tokens(t.cache_read);
      } else if (key == "cache_creation_input_tokens") {
        t.anthropic_style = true;
        err = tokens(t.cache_write);
      } else if (key == "cache_creation") {
        simdjson::dom::object d;
        if (v.get_object().get(d) != simdjson::SUCCESS) {
          return FieldError("must be an object, got " + std::string(TypeName(v.type())), param);
        }
        t.anthropic_style = true;
        element x;
        if (d["ephemeral_5m_input_tokens"].get(x) == simdjson::SUCCESS && !x.is_null()) {
          if (auto e = ReadTokens(x, param + ".ephemeral_5m_input_tokens", n)) return e;
          t.cw_5m = n;
        }
        if (d["ephemeral_1h_input_tokens"].get(x) == simdjson::SUCCESS && !x.is_null()) {
          if (auto e = ReadTokens(x, param + ".ephemeral_1h_input_tokens", n)) return e;
          t.cw_1h = n;
        }
      }
      // Other provider fields (completion_tokens_details, service_tier, ...) are ignored.
      if (err) return err;
    }
    if (t.openai_style && t.anthropic_style) {
      return FieldError(
          "usage mixes OpenAI fields (prompt_tokens, completion_tokens) with Anthropic fields "
          "(input_tokens, output_tokens, cache_*_input_tokens)",
          base);
    }
    return std::nullopt;
  }

  std::optional<core::Error> ReadGemini(element el, const std::string& base, RawTokens& t) {
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) {
      return FieldError("usageMetadata must be an object, got " + std::string(TypeName(el.type())),
                        base);
    }
    if (auto e = SetSource(t, RawTokens::kGemini, base)) return e;
    for (auto field : obj) {
      const std::string_view key = field.key;
      const element v = field.value;
      if (v.is_null()) continue;
      const std::string param = base + "." + std::string(key);
      uint64_t n = 0;
      std::optional<uint64_t>* slot = nullptr;
      if (key == "promptTokenCount") slot = &t.prompt;
      else if (key == "candidatesTokenCount") slot = &t.completion;
      else if (key == "cachedContentTokenCount") slot = &t.cached;
      else if (key == "thoughtsTokenCount") slot = &t.thoughts;
      else if (key == "totalTokenCount") slot = nullptr;
      else continue;  // other Gemini fields (promptTokensDetails, ...) are ignored
      if (auto e = ReadTokens(v, param, n)) return e;
      if (slot != nullptr) *slot = n;
    }
    return std::nullopt;
  }

  // Turns the counts as given into disjoint kinds on `out`.
  std::optional<core::Error> Normalise(const RawTokens& t, std::string_view ttl,
                                       const ParamPath& path, DecodedEvent& out) {
    uint64_t input = 0, output = 0, cache_read = 0, cw_5m = 0, cw_1h = 0;
    const std::string base = t.source_param;
    if (t.openai_style || t.source == RawTokens::kGemini || t.source == RawTokens::kOpenAiTop) {
      const uint64_t prompt = t.prompt.value_or(0);
      const uint64_t cached = t.cached.value_or(0);
      if (cached > prompt) {
        return FieldError("cached tokens (" + std::to_string(cached) +
                              ") exceed the prompt tokens (" + std::to_string(prompt) +
                              ") that include them",
                          base);
      }
      input = prompt - cached;
      cache_read = cached;
      output = t.completion.value_or(0) + t.thoughts.value_or(0);
    } else {
      input = t.input.value_or(0);
      output = t.output.value_or(0);
      cache_read = t.cache_read.value_or(0);
      if (t.cw_5m || t.cw_1h) {
        cw_5m = t.cw_5m.value_or(0);
        cw_1h = t.cw_1h.value_or(0);
      } else if (ttl == "1h") {
        cw_1h = t.cache_write.value_or(0);
      } else {
        cw_5m = t.cache_write.value_or(0);
      }
    }
    constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
    if (output > kMax) return FieldError("output token count is out of range", path("output_tokens"));
    out.input_tokens = static_cast<uint32_t>(input);
    out.output_tokens = static_cast<uint32_t>(output);
    out.cache_read_tokens = static_cast<uint32_t>(cache_read);
    out.cache_write_5m_tokens = static_cast<uint32_t>(cw_5m);
    out.cache_write_1h_tokens = static_cast<uint32_t>(cw_1h);
    return std::nullopt;
  }

  std::optional<core::Error> DecodeOne(element el, const ParamPath& path,
                                       const DecodeContext& ctx, DecodedEvent& out,
                                       std::optional<std::string>* idempotency_key) {
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) {
      return FieldError("an event must be an object, got " + std::string(TypeName(el.type())),
                        path.Self());
    }
    RawTokens tokens;
    std::optional<element> ts_el, tags_el;
    std::string_view ttl;
    bool have_model = false;
    for (auto field : obj) {
      const std::string_view key = field.key;
      const element v = field.value;
      if (auto sf = StringField(key)) {
        if (v.is_null()) continue;
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) {
          return FieldError(std::string(key) + " must be a string, got " +
                                std::string(TypeName(v.type())),
                            path(key));
        }
        if (s.size() > kMaxEventStringBytes) {
          return FieldError(std::string(key) + " is " + std::to_string(s.size()) +
                                " bytes; the limit is " + std::to_string(kMaxEventStringBytes),
                            path(key));
        }
        out.strings[static_cast<size_t>(*sf)] = s;
        if (*sf == EventField::kModel) have_model = true;
        continue;
      }
      if (key == "id") {
        if (v.is_null()) continue;
        std::string_view id;
        if (v.get_string().get(id) != simdjson::SUCCESS) {
          return FieldError("id must be a string, got " + std::string(TypeName(v.type())),
                            path("id"));
        }
        if (id.empty() || id.size() > kMaxEventIdLength ||
            !std::all_of(id.begin(), id.end(), IsIdChar)) {
          return FieldError("id " + Quote(id) + " is invalid: 1.." +
                                std::to_string(kMaxEventIdLength) +
                                " characters of [A-Za-z0-9_.:-]",
                            path("id"));
        }
        out.id = id;
      } else if (key == "timestamp") {
        ts_el = v;
      } else if (key == "input_tokens" || key == "output_tokens" || key == "cache_read_tokens" ||
                 key == "cache_write_tokens") {
        if (v.is_null()) continue;
        if (auto e = SetSource(tokens, RawTokens::kCanonical, path(key))) return e;
        uint64_t n = 0;
        if (auto e = ReadTokens(v, path(key), n)) return e;
        if (key == "input_tokens") tokens.input = n;
        else if (key == "output_tokens") tokens.output = n;
        else if (key == "cache_read_tokens") tokens.cache_read = n;
        else tokens.cache_write = n;
      } else if (key == "prompt_tokens" || key == "completion_tokens" || key == "total_tokens") {
        if (v.is_null()) continue;
        uint64_t n = 0;
        if (auto e = ReadTokens(v, path(key), n)) return e;
        if (key == "total_tokens") continue;  // derived; not stored
        if (auto e = SetSource(tokens, RawTokens::kOpenAiTop, path(key))) return e;
        (key == "prompt_tokens" ? tokens.prompt : tokens.completion) = n;
      } else if (key == "usage") {
        if (v.is_null()) continue;
        if (auto e = ReadUsage(v, path("usage"), tokens)) return e;
      } else if (key == "usageMetadata" || key == "usage_metadata") {
        if (v.is_null()) continue;
        if (auto e = ReadGemini(v, path(key), tokens)) return e;
      } else if (key == "cache_write_ttl") {
        if (v.is_null()) continue;
        if (v.get_string().get(ttl) != simdjson::SUCCESS || (ttl != "5m" && ttl != "1h")) {
          return FieldError("cache_write_ttl must be \"5m\" or \"1h\"", path("cache_write_ttl"));
        }
      } else if (key == "cost_usd") {
        if (v.is_null()) continue;
        if (!v.is_number()) {
          return FieldError("cost_usd must be a number, got " + std::string(TypeName(v.type())),
                            path("cost_usd"));
        }
        const double c = v.get_double().value_unsafe();
        if (!std::isfinite(c) || c < 0) {
          return FieldError("cost_usd must be a finite number >= 0", path("cost_usd"));
        }
        if (c * 1e9 > static_cast<double>(kMaxEventCostNanoUsd)) {
          return FieldError("cost_usd is out of range (at most 1000000000)", path("cost_usd"));
        }
        out.reported_cost_nano_usd = std::llround(c * 1e9);
      } else if (key == "latency_ms") {
        if (v.is_null()) continue;
        if (!v.is_number()) {
          return FieldError("latency_ms must be a number, got " + std::string(TypeName(v.type())),
                            path("latency_ms"));
        }
        const double l = v.get_double().value_unsafe();
        if (!std::isfinite(l) || l < 0 || l > kMaxLatencyMs) {
          return FieldError("latency_ms must be a number in [0, 1e9]", path("latency_ms"));
        }
        out.latency_ms = static_cast<float>(l);
      } else if (key == "success") {
        if (v.is_null()) continue;
        bool b;
        if (v.get_bool().get(b) != simdjson::SUCCESS) {
          return FieldError("success must be a boolean, got " + std::string(TypeName(v.type())),
                            path("success"));
        }
        out.success = b;
      } else if (key == "tags") {
        tags_el = v;
      } else if (key == "idempotency_key" && idempotency_key != nullptr) {
        if (auto e = json::ReadIdempotencyKey(v, *idempotency_key)) return e;
      } else {
        return FieldError("unknown field " + Quote(key) +
                              " (see docs/api.md for the fields of an event)",
                          path(key));
      }
    }
    if (!have_model || out.strings[static_cast<size_t>(EventField::kModel)].empty()) {
      return FieldError("model is required (a non-empty string)", path("model"));
    }
    const std::string_view provider = out.strings[static_cast<size_t>(EventField::kProvider)];
    if (!provider.empty()) {
      out.provider = NormalizeProvider(provider);  // View() uses it
    }
    if (auto e = Normalise(tokens, ttl, path, out)) return e;

    if (auto e = json::ReadTags(tags_el, ctx.limits, "an event", path, out.tags)) return e;
    if (auto e = json::ReadTimestamp(ts_el, ctx, out.ts_ms)) {
      e->param = path("timestamp");
      return e;
    }
    return std::nullopt;
  }
};

EventDecoder::EventDecoder() : impl_(std::make_unique<Impl>()) {}
EventDecoder::~EventDecoder() = default;

core::Result<DecodedEvents> EventDecoder::Decode(const std::string& body,
                                                 const DecodeContext& ctx) {
  auto root = impl_->Parse(body);
  if (!root) return core::Unexpected(root.error());
  simdjson::dom::object obj;
  if (root->get_object().get(obj) != simdjson::SUCCESS) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "body must be a JSON object: an event, or {\"events\": [...]}, got " +
                          std::string(TypeName(root->type())));
  }
  DecodedEvents out;
  element events_el;
  if (obj["events"].get(events_el) != simdjson::SUCCESS) {
    // One event.
    out.total = 1;
    DecodedEvent& e = out.events.emplace_back();
    if (auto err = impl_->DecodeOne(*root, ParamPath{-1}, ctx, e, &out.idempotency_key)) {
      out.events.pop_back();
      out.errors.push_back({0, std::move(*err)});
    }
    return out;
  }
  out.is_batch = true;
  for (auto field : obj) {
    if (field.key == "events") continue;
    if (field.key == "idempotency_key") {
      if (auto e = json::ReadIdempotencyKey(field.value, out.idempotency_key)) {
        return core::Unexpected(*e);
      }
    } else {
      return core::Fail(ErrorCode::kInvalidRequest,
                        "unknown field " + Quote(field.key) +
                            " (a batch has events, idempotency_key)",
                        std::string(field.key));
    }
  }
  simdjson::dom::array events;
  if (events_el.get_array().get(events) != simdjson::SUCCESS) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "events must be an array, got " + std::string(TypeName(events_el.type())),
                      "events");
  }
  const size_t n = events.size();
  if (n == 0) {
    return core::Fail(ErrorCode::kInvalidRequest, "events must hold at least one event", "events");
  }
  if (n > kMaxBatchEvents) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "events holds " + std::to_string(n) + " events; the limit is " +
                          std::to_string(kMaxBatchEvents) + " per request",
                      "events");
  }
  out.total = n;
  out.events.reserve(n);
  size_t i = 0;
  for (element el : events) {
    DecodedEvent& e = out.events.emplace_back();
    e.index = i;
    if (auto err = impl_->DecodeOne(el, ParamPath{static_cast<long>(i)}, ctx, e, nullptr)) {
      out.events.pop_back();
      out.errors.push_back({i, std::move(*err)});
    }
    ++i;
  }
  return out;
}

}  // namespace exporter

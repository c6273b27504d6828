#include "exporter/json_fields.h"

#include "core/text.h"
#include "core/time_parse.h"

namespace exporter::json {

using core::ErrorCode;
using simdjson::dom::element_type;

std::string_view TypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "a number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

std::string Quote(std::string_view s, size_t max) {
  std::string out = "'";
  out.append(s.substr(0, max));
  if (s.size() > max) out.append("...");
  out.push_back('\'');
  return out;
}

core::Error FieldError(std::string message, std::string param) {
  return core::MakeError(ErrorCode::kInvalidRequest, std::move(message), std::move(param));
}

core::Error ParseFailure(simdjson::error_code code, const std::string& body) {
  if (code == simdjson::UTF8_ERROR) {
    // simdjson does not say where; find the first bad byte for the message.
    return FieldError("request body is not valid UTF-8 (first invalid byte at offset " +
                          std::to_string(core::Utf8ValidPrefixLength(body)) + ")",
                      "");
  }
  if (code == simdjson::NUMBER_ERROR) {
    return FieldError(
        "malformed JSON: a number is out of range or invalid (NaN and Infinity are not valid "
        "values)",
        "");
  }
  if (code == simdjson::EMPTY) {
    return FieldError("request body is empty; expected a JSON object", "");
  }
  return FieldError(std::string("malformed JSON: ") + simdjson::error_message(code), "");
}

std::optional<core::Error> ReadIdempotencyKey(simdjson::dom::element value,
                                              std::optional<std::string>& out) {
  std::string_view key;
  if (value.get_string().get(key) != simdjson::SUCCESS) {
    return FieldError(
        "idempotency_key must be a string, got " + std::string(TypeName(value.type())),
        "idempotency_key");
  }
  if (key.empty() || key.size() > kMaxIdempotencyKeyLength) {
    return FieldError(
        "idempotency_key must be 1.." + std::to_string(kMaxIdempotencyKeyLength) + " characters",
        "idempotency_key");
  }
  out = std::string(key);
  return std::nullopt;
}

std::optional<core::Error> ReadTimestamp(const std::optional<simdjson::dom::element>& value,
                                         const DecodeContext& ctx, int64_t& ts_ms) {
  ts_ms = ctx.now_ms;
  if (!value || value->is_null()) return std::nullopt;
  core::Result<int64_t> ts = core::Fail(ErrorCode::kInvalidRequest, "");
  std::string_view text;
  if (value->is_number()) {
    ts = core::UnixNumberToMs(value->get_double().value_unsafe());
  } else if (value->get_string().get(text) == simdjson::SUCCESS) {
    ts = core::ParseIso8601Ms(text);
  } else {
    return FieldError("timestamp must be an ISO 8601 string or unix seconds/milliseconds, got " +
                          std::string(TypeName(value->type())),
                      "");
  }
  if (!ts) return FieldError(ts.error().message, "");
  if (*ts > ctx.now_ms + ctx.limits.max_future_skew_ms) {
    return FieldError("timestamp " + core::FormatIso8601(*ts) + " is more than " +
                          std::to_string(ctx.limits.max_future_skew_ms / 1000) + "s in the future",
                      "");
  }
  if (*ts < ctx.now_ms - ctx.retention_ms) {
    return FieldError("timestamp " + core::FormatIso8601(*ts) +
                          " is older than the storage retention (" +
                          std::to_string(ctx.retention_ms / 1000) + "s)",
                      "");
  }
  ts_ms = *ts;
  return std::nullopt;
}

}  // namespace exporter::json

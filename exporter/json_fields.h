// Helpers shared by the JSON decoders of the exporter (point_decoder.cc,
// event_decoder.cc): type names and quoting for error messages, 400 errors that
// name a field, simdjson parse failures, and the fields both bodies have in
// common (idempotency_key, tags, timestamp). Exporter-internal: only the
// decoders' .cc files include it (it is the one header that exposes simdjson
// types, so simdjson stays out of every public header). Stateless functions;
// thread-safe.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/status.h"
#include "exporter/point_decoder.h"
#include "store/types.h"

namespace exporter::json {

inline constexpr size_t kMaxIdempotencyKeyLength = 255;

// "an array", "a number", "null", ... for "must be X, got Y" messages.
std::string_view TypeName(simdjson::dom::element_type t);

// 's' in single quotes, cut to `max` characters (with "..." when cut).
std::string Quote(std::string_view s, size_t max = 64);

// A kInvalidRequest error whose param is the JSON path of the offending field.
core::Error FieldError(std::string message, std::string param);

// The 400 error for a body simdjson could not parse (says where UTF-8 breaks).
core::Error ParseFailure(simdjson::error_code code, const std::string& body);

// Reads "idempotency_key" (1..255 characters) into `out`.
std::optional<core::Error> ReadIdempotencyKey(simdjson::dom::element value,
                                              std::optional<std::string>& out);

// Reads an optional "timestamp" (ISO 8601 text or unix seconds/milliseconds)
// into `ts_ms`: ctx.now_ms when absent or null; rejects times beyond the allowed
// future skew or older than the retention. The error's param is empty (the
// caller sets the field's path, so it is built only on errors).
std::optional<core::Error> ReadTimestamp(const std::optional<simdjson::dom::element>& value,
                                         const DecodeContext& ctx, int64_t& ts_ms);

inline bool IsTagKeyStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
inline bool IsTagKeyChar(char c) { return IsTagKeyStart(c) || (c >= '0' && c <= '9'); }

inline std::string_view TagKey(const store::LabelView& tag) { return tag.name; }
inline std::string_view TagKey(const std::pair<std::string_view, std::string_view>& tag) {
  return tag.first;
}

// Reads an optional "tags" object (string values; keys [A-Za-z_][A-Za-z0-9_]*,
// not starting with "__"; count, key and value sizes within `limits`) into
// `out`, sorted by key with no key twice; absent or null: no tags. The views
// point into the parsed document. `item` names the owner in the count error
// ("a point", "an event"); `path` maps a field name to its JSON path
// ("points[3].tags.env"). Tag: store::LabelView or
// std::pair<std::string_view, std::string_view>.
template <typename Tag, typename PathFn>
std::optional<core::Error> ReadTags(const std::optional<simdjson::dom::element>& tags_el,
                                    const config::LimitsConfig& limits, std::string_view item,
                                    const PathFn& path, std::vector<Tag>& out) {
  out.clear();
  if (!tags_el || tags_el->is_null()) return std::nullopt;
  simdjson::dom::object tags;
  if (tags_el->get_object().get(tags) != simdjson::SUCCESS) {
    return FieldError(
        "tags must be an object of string values, got " + std::string(TypeName(tags_el->type())),
        path("tags"));
  }
  const auto max_tags = static_cast<size_t>(limits.max_tags_per_point);
  const auto max_key = static_cast<size_t>(limits.max_tag_key_length);
  const auto max_value = static_cast<size_t>(limits.max_tag_value_bytes);
  for (auto tag : tags) {
    std::string_view k = tag.key;
    auto param = [&] { return path("tags." + std::string(k.substr(0, 100))); };
    if (out.size() >= max_tags) {
      return FieldError(
          std::string(item) + " may have at most " + std::to_string(max_tags) + " tags",
          path("tags"));
    }
    if (k.empty() || k.size() > max_key || !IsTagKeyStart(k[0]) ||
        !std::all_of(k.begin(), k.end(), IsTagKeyChar)) {
      return FieldError("tag key " + Quote(k) + " is invalid: it must match " +
                            "[A-Za-z_][A-Za-z0-9_]* and be at most " + std::to_string(max_key) +
                            " characters",
                        param());
    }
    if (k.starts_with("__")) {
      return FieldError("tag key " + Quote(k) + " is reserved (keys starting with __)", param());
    }
    std::string_view val;
    if (tag.value.get_string().get(val) != simdjson::SUCCESS) {
      return FieldError(
          "tag value must be a string, got " + std::string(TypeName(tag.value.type())), param());
    }
    if (val.size() > max_value) {
      return FieldError("tag value is " + std::to_string(val.size()) + " bytes; the limit is " +
                            std::to_string(max_value),
                        param());
    }
    out.push_back(Tag{k, val});
  }
  std::sort(out.begin(), out.end(),
            [](const Tag& a, const Tag& b) { return TagKey(a) < TagKey(b); });
  for (size_t i = 1; i < out.size(); ++i) {
    if (TagKey(out[i]) == TagKey(out[i - 1])) {
      return FieldError("duplicate tag key " + Quote(TagKey(out[i])),
                        path("tags." + std::string(TagKey(out[i]))));
    }
  }
  return std::nullopt;
}

}  // namespace exporter::json

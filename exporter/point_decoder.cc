#include "exporter/point_decoder.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/http.h"
#include "core/text.h"
#include "core/time_parse.h"

namespace exporter {
namespace {

using core::ErrorCode;
using simdjson::dom::element;
using simdjson::dom::element_type;

static_assert(core::kBodyPadding >= simdjson::SIMDJSON_PADDING);

constexpr size_t kMaxIdempotencyKeyLength = 255;

bool IsNameStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '/';
}
bool IsTagKeyStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsTagKeyChar(char c) { return IsTagKeyStart(c) || (c >= '0' && c <= '9'); }

std::string_view TypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

std::string Quote(std::string_view s, size_t max = 64) {
  std::string out = "'";
  out.append(s.substr(0, max));
  if (s.size() > max) out.append("...");
  out.push_back('\'');
  return out;
}

core::Error ParseFailure(simdjson::error_code code, const std::string& body) {
  if (code == simdjson::UTF8_ERROR) {
    // simdjson does not say where; find the first bad byte for the message.
    const size_t lo = core::Utf8ValidPrefixLength(body);
    return core::MakeError(ErrorCode::kInvalidRequest,
                           "request body is not valid UTF-8 (first invalid byte at offset " +
                               std::to_string(lo) + ")");
  }
  if (code == simdjson::NUMBER_ERROR) {
    return core::MakeError(ErrorCode::kInvalidRequest,
                           "malformed JSON: a number is out of range or invalid (NaN and "
                           "Infinity are not valid values)");
  }
  if (code == simdjson::EMPTY) {
    return core::MakeError(ErrorCode::kInvalidRequest, "request body is empty; expected a JSON object");
  }
  return core::MakeError(ErrorCode::kInvalidRequest,
                         std::string("malformed JSON: ") + simdjson::error_message(code));
}

// The JSON path of a field of point `index` ("points[3].value"), or of the
// single point of a report (index -1: "value"). Built only when an error needs it.
struct ParamPath {
  long index;
  std::string operator()(std::string_view field) const {
    if (index < 0) return std::string(field);
    return "points[" + std::to_string(index) + "]." + std::string(field);
  }
  std::string Self() const { return index < 0 ? "" : "points[" + std::to_string(index) + "]"; }
};

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

core::Error FieldError(std::string message, std::string param) {
  return core::MakeError(ErrorCode::kInvalidRequest, std::move(message), std::move(param));
}

std::optional<core::Error> ReadIdempotencyKey(element value, std::optional<std::string>& out) {
  std::string_view key;
  if (value.get_string().get(key) != simdjson::SUCCESS) {
    return FieldError("idempotency_key must be a string, got " + std::string(TypeName(value.type())),
                      "idempotency_key");
  }
  if (key.empty() || key.size() > kMaxIdempotencyKeyLength) {
    return FieldError("idempotency_key must be 1.." + std::to_string(kMaxIdempotencyKeyLength) +
                          " characters",
                      "idempotency_key");
  }
  out = std::string(key);
  return std::nullopt;
}

}  // namespace

std::string NormalizeMetricName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '.' || c == '-' || c == '/') c = '_';
  }
  return out;
}

core::Status ValidateMetricName(std::string_view name, const config::LimitsConfig& limits,
                                const std::string& param) {
  if (name.empty()) return core::Fail(ErrorCode::kInvalidRequest, "name must not be empty", param);
  if (name.size() > static_cast<size_t>(limits.max_name_length)) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "name is " + std::to_string(name.size()) + " characters; the limit is " +
                          std::to_string(limits.max_name_length),
                      param);
  }
  if (!IsNameStart(name[0]) || !std::all_of(name.begin(), name.end(), IsNameChar)) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "name " + Quote(name) +
                          " is invalid: it must match [A-Za-z_:][A-Za-z0-9_:.\\-/]*",
                      param);
  }
  if (name.starts_with("tally_") || name.starts_with("tally.") || name.starts_with("tally-") ||
      name.starts_with("tally/")) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "name " + Quote(name) +
                          " is reserved: names starting with 'tally_' belong to tally's own metrics",
                      param);
  }
  return {};
}

struct PointDecoder::Impl {
  simdjson::dom::parser parser;

  core::Result<element> Parse(const std::string& body) {
    element root;
    const bool padded = body.capacity() >= body.size() + simdjson::SIMDJSON_PADDING;
    auto err = parser.parse(body.data(), body.size(), !padded).get(root);
    if (err) return core::Unexpected(ParseFailure(err, body));
    return root;
  }

  // Validates one point object; `path` builds the JSON path of a field for errors.
  std::optional<core::Error> DecodeOne(element el, const ParamPath& path,
                                       const DecodeContext& ctx, DecodedPoint& out,
                                       std::optional<std::string>* idempotency_key) {
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) {
      return FieldError("a metric point must be an object, got " + std::string(TypeName(el.type())),
                        path.Self());
    }
    bool have_name = false, have_value = false;
    std::string_view raw_name;
    std::optional<element> tags_el;
    std::optional<element> ts_el;
    std::string_view type_name = "gauge";
    for (auto field : obj) {
      std::string_view key = field.key;
      element v = field.value;
      if (key == "name") {
        if (v.get_string().get(raw_name) != simdjson::SUCCESS) {
          return FieldError("name must be a string, got " + std::string(TypeName(v.type())),
                            path("name"));
        }
        have_name = true;
      } else if (key == "value") {
        if (!v.is_number()) {
          return FieldError("value must be a number, got " + std::string(TypeName(v.type())),
                            path("value"));
        }
        out.value = v.get_double().value_unsafe();
        have_value = true;
      } else if (key == "type") {
        if (v.get_string().get(type_name) != simdjson::SUCCESS) {
          return FieldError("type must be a string, got " + std::string(TypeName(v.type())),
                            path("type"));
        }
      } else if (key == "tags") {
        tags_el = v;
      } else if (key == "timestamp") {
        ts_el = v;
      } else if (key == "idempotency_key" && idempotency_key != nullptr) {
        if (auto e = ReadIdempotencyKey(v, *idempotency_key)) return e;
      } else {
        return FieldError("unknown field " + Quote(key) +
                              " (a point has name, value, type, tags, timestamp)",
                          path(key));
      }
    }
    if (!have_name) return FieldError("name is required", path("name"));
    if (auto st = ValidateMetricName(raw_name, ctx.limits, ""); !st) {
      core::Error e = st.error();
      e.param = path("name");
      return e;
    }
    out.name = NormalizeMetricName(raw_name);
    if (!have_value) return FieldError("value is required", path("value"));
    if (!std::isfinite(out.value)) {
      return FieldError("value must be a finite number", path("value"));
    }
    auto type = store::ParseMetricType(type_name);
    if (!type) {
      return FieldError("type " + Quote(type_name) +
                            " is not one of counter, gauge, timing, distribution",
                        path("type"));
    }
    out.type = *type;
    if (out.type == store::MetricType::kCounter && out.value < 0) {
      return FieldError("a counter value is an increment and must be >= 0, got " +
                            FormatNumber(out.value),
                        path("value"));
    }
    if (out.type == store::MetricType::kTiming && out.value < 0) {
      return FieldError("a timing is a duration in ms and must be >= 0", path("value"));
    }

    out.tags.clear();
    if (tags_el && !tags_el->is_null()) {
      simdjson::dom::object tags;
      if (tags_el->get_object().get(tags) != simdjson::SUCCESS) {
        return FieldError("tags must be an object of string values, got " +
                              std::string(TypeName(tags_el->type())),
                          path("tags"));
      }
      for (auto tag : tags) {
        std::string_view k = tag.key;
        auto param = [&] { return path("tags." + std::string(k.substr(0, 100))); };
        if (out.tags.size() >= static_cast<size_t>(ctx.limits.max_tags_per_point)) {
          return FieldError("a point may have at most " +
                                std::to_string(ctx.limits.max_tags_per_point) + " tags",
                            path("tags"));
        }
        if (k.empty() || k.size() > static_cast<size_t>(ctx.limits.max_tag_key_length) ||
            !IsTagKeyStart(k[0]) || !std::all_of(k.begin(), k.end(), IsTagKeyChar)) {
          return FieldError("tag key " + Quote(k) + " is invalid: it must match " +
                                "[A-Za-z_][A-Za-z0-9_]* and be at most " +
                                std::to_string(ctx.limits.max_tag_key_length) + " characters",
                            param());
        }
        if (k.starts_with("__")) {
          return FieldError("tag key " + Quote(k) + " is reserved (keys starting with __)", param());
        }
        std::string_view val;
        if (tag.value.get_string().get(val) != simdjson::SUCCESS) {
          return FieldError("tag value must be a string, got " +
                                std::string(TypeName(tag.value.type())),
                            param());
        }
        if (val.size() > static_cast<size_t>(ctx.limits.max_tag_value_bytes)) {
          return FieldError("tag value is " + std::to_string(val.size()) +
                                " bytes; the limit is " +
                                std::to_string(ctx.limits.max_tag_value_bytes),
                            param());
        }
        out.tags.push_back({k, val});
      }
      std::sort(out.tags.begin(), out.tags.end(),
                [](const store::LabelView& a, const store::LabelView& b) { return a.name < b.name; });
      for (size_t i = 1; i < out.tags.size(); ++i) {
        if (out.tags[i].name == out.tags[i - 1].name) {
          return FieldError("duplicate tag key " + Quote(out.tags[i].name),
                            path("tags." + std::string(out.tags[i].name)));
        }
      }
    }

    out.ts_ms = ctx.now_ms;
    if (ts_el && !ts_el->is_null()) {
      core::Result<int64_t> ts = core::Fail(ErrorCode::kInvalidRequest, "");
      std::string_view ts_text;
      if (ts_el->is_number()) {
        ts = core::UnixNumberToMs(ts_el->get_double().value_unsafe());
      } else if (ts_el->get_string().get(ts_text) == simdjson::SUCCESS) {
        ts = core::ParseIso8601Ms(ts_text);
      } else {
        return FieldError("timestamp must be an ISO 8601 string or unix seconds/milliseconds, got " +
                              std::string(TypeName(ts_el->type())),
                          path("timestamp"));
      }
      if (!ts) return FieldError(ts.error().message, path("timestamp"));
      if (*ts > ctx.now_ms + ctx.limits.max_future_skew_ms) {
        return FieldError("timestamp " + core::FormatIso8601(*ts) + " is more than " +
                              std::to_string(ctx.limits.max_future_skew_ms / 1000) +
                              "s in the future",
                          path("timestamp"));
      }
      if (*ts < ctx.now_ms - ctx.retention_ms) {
        return FieldError("timestamp " + core::FormatIso8601(*ts) +
                              " is older than the storage retention (" +
                              std::to_string(ctx.retention_ms / 1000) + "s)",
                          path("timestamp"));
      }
      out.ts_ms = *ts;
    }
    return std::nullopt;
  }
};

PointDecoder::PointDecoder() : impl_(std::make_unique<Impl>()) {}
PointDecoder::~PointDecoder() = default;

core::Result<DecodedBatch> PointDecoder::DecodeReport(const std::string& body,
                                                      const DecodeContext& ctx) {
  auto root = impl_->Parse(body);
  if (!root) return core::Unexpected(root.error());
  if (!root->is_object()) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "body must be a JSON object (a metric point), got " +
                          std::string(TypeName(root->type())));
  }
  DecodedBatch batch;
  batch.total = 1;
  DecodedPoint point;
  if (auto err = impl_->DecodeOne(*root, ParamPath{-1}, ctx, point, &batch.idempotency_key)) {
    batch.errors.push_back({0, std::move(*err)});
  } else {
    batch.points.push_back(std::move(point));
  }
  return batch;
}

core::Result<DecodedBatch> PointDecoder::DecodeBatch(const std::string& body,
                                                     const DecodeContext& ctx) {
  auto root = impl_->Parse(body);
  if (!root) return core::Unexpected(root.error());
  simdjson::dom::object obj;
  if (root->get_object().get(obj) != simdjson::SUCCESS) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "body must be a JSON object {\"points\": [...]}, got " +
                          std::string(TypeName(root->type())));
  }
  DecodedBatch batch;
  simdjson::dom::array points;
  bool have_points = false;
  for (auto field : obj) {
    if (field.key == "points") {
      if (field.value.get_array().get(points) != simdjson::SUCCESS) {
        return core::Fail(ErrorCode::kInvalidRequest,
                          "points must be an array, got " + std::string(TypeName(field.value.type())),
                          "points");
      }
      have_points = true;
    } else if (field.key == "idempotency_key") {
      if (auto e = ReadIdempotencyKey(field.value, batch.idempotency_key)) return core::Unexpected(*e);
    } else {
      return core::Fail(ErrorCode::kInvalidRequest,
                        "unknown field " + Quote(field.key) + " (a batch has points, idempotency_key)",
                        std::string(field.key));
    }
  }
  if (!have_points) return core::Fail(ErrorCode::kInvalidRequest, "points is required", "points");
  const size_t n = points.size();
  if (n == 0) {
    return core::Fail(ErrorCode::kInvalidRequest, "points must hold at least one point", "points");
  }
  if (n > static_cast<size_t>(ctx.limits.max_batch_points)) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "points holds " + std::to_string(n) + " points; the limit is " +
                          std::to_string(ctx.limits.max_batch_points) + " per batch",
                      "points");
  }
  batch.total = n;
  batch.is_batch = true;
  batch.points.reserve(n);
  size_t i = 0;
  for (element el : points) {
    DecodedPoint& point = batch.points.emplace_back();
    point.index = i;
    if (auto err = impl_->DecodeOne(el, ParamPath{static_cast<long>(i)}, ctx, point, nullptr)) {
      batch.points.pop_back();
      batch.errors.push_back({i, std::move(*err)});
    }
    ++i;
  }
  return batch;
}

}  // namespace exporter

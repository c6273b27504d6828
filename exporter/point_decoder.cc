#include "exporter/point_decoder.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/http.h"
#include "core/text.h"
#include "core/time_parse.h"
#include "exporter/json_fields.h"

namespace exporter {
namespace {

using core::ErrorCode;
using simdjson::dom::element;
using json::FieldError;
using json::Quote;
using json::TypeName;

static_assert(core::kBodyPadding >= simdjson::SIMDJSON_PADDING);

bool IsNameStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '/';
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
    if (err) return core::Unexpected(json::ParseFailure(err, body));
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
        if (auto e = json::ReadIdempotencyKey(v, *idempotency_key)) return e;
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

    if (auto e = json::ReadTags(tags_el, ctx.limits, "a point", path, out.tags)) return e;
    if (auto e = json::ReadTimestamp(ts_el, ctx, out.ts_ms)) {
      e->param = path("timestamp");
      return e;
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
      if (auto e = json::ReadIdempotencyKey(field.value, batch.idempotency_key)) {
        return core::Unexpected(*e);
      }
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

DecodedPoint PointFromLabels(const core::Labels& labels, int64_t ts_ms, double value,
                             store::MetricType type, size_t index) {
  DecodedPoint d;
  d.type = type;
  d.ts_ms = ts_ms;
  d.value = value;
  d.index = index;
  d.tags.reserve(labels.size());
  for (const core::Label& l : labels.items()) {
    if (l.name == "__name__") {
      d.name = l.value;
    } else {
      d.tags.push_back(store::LabelView{l.name, l.value});
    }
  }
  return d;
}

}  // namespace exporter

// PointDecoder: turns /v1/metrics/report and /v1/metrics/batch JSON bodies into
// validated points (API.md section 2), with an error per rejected point whose
// `param` is the JSON path of the offending field. The only file that includes
// simdjson for metric ingest.
//
// Not thread-safe: one decoder per thread at a time (it owns a parser whose
// buffers back the string views in the result). Results stay valid until the
// next Decode* call on the same decoder.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/labels.h"
#include "core/status.h"
#include "store/types.h"

namespace exporter {

// A validated point. Tags are sorted by key and reference decoder memory.
struct DecodedPoint {
  std::string name;  // normalised: '.', '-', '/' -> '_'
  store::MetricType type = store::MetricType::kGauge;
  std::vector<store::LabelView> tags;
  int64_t ts_ms = 0;
  double value = 0;
  size_t index = 0;  // position in the request ("points[index]")

  store::PointView View() const { return {name, type, tags, ts_ms, value}; }
};

// A point of `type` from a Prometheus-style label set (rule output, scraped
// samples): `__name__` is the name, the other labels are tags viewed in place,
// so `labels` must outlive the point.
DecodedPoint PointFromLabels(const core::Labels& labels, int64_t ts_ms, double value,
                             store::MetricType type, size_t index);

struct PointError {
  size_t index = 0;
  core::Error error;
};

struct DecodedBatch {
  std::vector<DecodedPoint> points;  // valid points, in request order
  std::vector<PointError> errors;    // rejected points, in request order
  size_t total = 0;                  // points in the request
  std::optional<std::string> idempotency_key;
  bool is_batch = false;  // params of store errors get a "points[i]." prefix
};

// What validation needs to know besides the body.
struct DecodeContext {
  int64_t now_ms = 0;
  int64_t retention_ms = 0;  // points older than now - retention are rejected
  config::LimitsConfig limits;
};

// Normalises a metric name for storage and exposition ('.', '-', '/' -> '_').
std::string NormalizeMetricName(std::string_view name);

// Checks a metric name against API.md's rules; `param` names the field in errors.
core::Status ValidateMetricName(std::string_view name, const config::LimitsConfig& limits,
                                const std::string& param);

class PointDecoder {
 public:
  PointDecoder();
  ~PointDecoder();
  PointDecoder(const PointDecoder&) = delete;
  PointDecoder& operator=(const PointDecoder&) = delete;

  // A single point (/v1/metrics/report). The returned batch has total == 1 and
  // either one point or one error (param paths without a "points[i]." prefix).
  // Fails as a whole on malformed JSON or a body that is not an object.
  // REQUIRES: body.capacity() >= body.size() + core::kBodyPadding.
  core::Result<DecodedBatch> DecodeReport(const std::string& body, const DecodeContext& ctx);

  // A batch (/v1/metrics/batch): whole-request failures (malformed JSON, missing
  // or empty `points`, too many points, unknown top-level fields) fail; per-point
  // problems land in `errors`.
  core::Result<DecodedBatch> DecodeBatch(const std::string& body, const DecodeContext& ctx);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace exporter

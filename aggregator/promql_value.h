// The result of a PromQL query (Prometheus' parser.Value): a scalar, a string,
// an instant vector or a range vector (matrix). Plain value types.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "aggregator/promql_ast.h"
#include "aggregator/promql_storage.h"
#include "core/labels.h"

namespace promql {

struct Scalar {
  int64_t t_ms = 0;
  double v = 0;
};

struct String {
  int64_t t_ms = 0;
  std::string value;
};

// One element of an instant vector.
struct VectorSample {
  core::Labels labels;
  int64_t t_ms = 0;
  double v = 0;
};
using Vector = std::vector<VectorSample>;

// A range vector: series with their points (Series from promql_storage.h).
using Matrix = std::vector<Series>;

using Value = std::variant<Scalar, String, Vector, Matrix>;

// kScalar, kString, kVector or kMatrix.
ValueType TypeOf(const Value& v);

// Prometheus' labels.Labels.String(): `{__name__="up", a="1"}`, values quoted
// like Go's %q, `{}` when empty.
std::string LabelsString(const core::Labels& labels);

// A readable multi-line dump (for test output and debugging): one line per
// sample or series, `labels => value @[t]`, values in Go's %v form.
std::string ToString(const Value& v);

}  // namespace promql

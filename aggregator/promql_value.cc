#include "aggregator/promql_value.h"

#include "aggregator/promql_text.h"

namespace promql {

ValueType TypeOf(const Value& v) {
  switch (v.index()) {
    case 0:
      return ValueType::kScalar;
    case 1:
      return ValueType::kString;
    case 2:
      return ValueType::kVector;
    default:
      return ValueType::kMatrix;
  }
}

std::string LabelsString(const core::Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const core::Label& l : labels.items()) {
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += "=";
    out += QuoteString(l.value);
  }
  out += "}";
  return out;
}

std::string ToString(const Value& v) {
  std::string out;
  if (const auto* s = std::get_if<Scalar>(&v)) {
    out = "scalar: " + FormatNumber(s->v) + " @[" + std::to_string(s->t_ms) + "]";
  } else if (const auto* str = std::get_if<String>(&v)) {
    out = "string: " + QuoteString(str->value) + " @[" + std::to_string(str->t_ms) + "]";
  } else if (const auto* vec = std::get_if<Vector>(&v)) {
    for (const VectorSample& s : *vec) {
      out += LabelsString(s.labels) + " => " + FormatNumber(s.v) + " @[" + std::to_string(s.t_ms) +
             "]\n";
    }
  } else {
    for (const Series& s : std::get<Matrix>(v)) {
      out += LabelsString(s.labels) + " =>";
      for (const Sample& p : s.samples) {
        out += " " + FormatNumber(p.v) + " @[" + std::to_string(p.t_ms) + "]";
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace promql

// PromQL parser with Prometheus 2.42 semantics: precedence, associativity,
// modifiers, the same type checks and (for the common cases) the same error
// messages as promql/parser.ParseExpr. Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "aggregator/promql_ast.h"
#include "core/status.h"

namespace promql {

// Deeper nesting than this (parentheses, unary operators, chains of binary
// operators, function arguments) is rejected instead of recursing further.
inline constexpr int kMaxNesting = 1000;
// Longer queries are rejected (positions are ints).
inline constexpr size_t kMaxQueryBytes = 16u << 20;

// Where and why a query failed to parse. Positions are byte offsets; line and
// column are 1-based and the column counts bytes, as in Prometheus.
struct ParseError {
  std::string message;  // e.g. "unexpected end of input"
  int start = 0;        // [start, end) of the offending text
  int end = 0;
  int line = 1;
  int column = 1;
  // Prometheus' spelling: "1:3: parse error: unexpected end of input".
  std::string ToString() const;
};

// Parses and type-checks `query`. The first error wins, like Prometheus.
core::Expected<ExprPtr, ParseError> Parse(std::string_view query);

// Parse() with the error as a core::Error (kInvalidRequest, message
// ParseError::ToString()).
core::Result<ExprPtr> ParseExpr(std::string_view query);

}  // namespace promql

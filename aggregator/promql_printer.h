// Printing a PromQL AST back to text.
#pragma once

#include <string>

#include "aggregator/promql_ast.h"

namespace promql {

// Prometheus' canonical text for an expression (Go's Expr.String() in 2.42):
// lowercase keywords, `sum by (a) (x)`, sorted matchers, `foo[5m] @ 10.000
// offset 1m`, numbers like Go's %v, strings double-quoted. Parsing the result
// gives the same tree again, with one deliberate difference from Go: a
// group_left/group_right under an empty `ignoring()` is printed (Go drops it).
std::string Format(const Expr& e);

// A structural dump of every field (no positions), with matchers in a
// canonical order: two trees are equivalent iff their dumps are equal. For
// tests and debugging.
std::string DebugString(const Expr& e);

}  // namespace promql

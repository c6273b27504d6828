// The PromQL function table of Prometheus 2.42: names, argument types, arity and
// result types, as the parser checks them. Immutable; thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "aggregator/promql_ast.h"

namespace promql {

struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // Prometheus' Variadic: 0 means exactly arg_types.size() arguments; n > 0
  // means the last argument is optional and the call takes between
  // size()-1 and size()-1+n arguments; -1 means at least size()-1 arguments,
  // the last type repeating without limit (label_join).
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
};

// The function called `name` (case-sensitive), or nullptr.
const Function* FindFunction(std::string_view name);

// Every function, sorted by name.
const std::vector<Function>& AllFunctions();

}  // namespace promql

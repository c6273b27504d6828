// The PromQL abstract syntax tree (Prometheus 2.42 semantics), produced by
// promql::Parse (promql_parser.h) and printed by promql::Format (promql_printer.h).
//
// Nodes are plain structs owned through std::unique_ptr; a parent owns its
// children. A tree is immutable after a successful Parse and safe to read from
// several threads. Positions are byte offsets into the parsed query.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/label_matcher.h"

namespace promql {

struct Function;  // promql_functions.h

// The type an expression evaluates to. "none" is only used for error messages.
enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };

// "none", "scalar", "vector", "matrix", "string" (Go's ValueType.String()).
std::string_view ValueTypeName(ValueType type);
// The user-facing spelling: "instant vector", "range vector", else as above.
std::string_view DocumentedTypeName(ValueType type);

// [start, end) byte offsets of a node in the query text.
struct PosRange {
  int start = 0;
  int end = 0;
};

enum class ExprKind {
  kNumberLiteral,
  kStringLiteral,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kParen,
  kUnary,
  kBinary,
  kAggregate,
  kCall,
};

// Base of all nodes. Use kind (or As<T>/DynCast<T>) to get at the concrete type.
struct Expr {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  // The type this expression evaluates to (like Go's Expr.Type()).
  ValueType Type() const;

  const ExprKind kind;
  PosRange pos;
  int height = 1;  // nesting height (a leaf is 1); the parser bounds it by kMaxNesting
};
using ExprPtr = std::unique_ptr<Expr>;

template <typename T>
const T& As(const Expr& e) {
  return static_cast<const T&>(e);  // REQUIRES: e.kind == T::kKind
}
template <typename T>
T& As(Expr& e) {
  return static_cast<T&>(e);  // REQUIRES: e.kind == T::kKind
}
template <typename T>
const T* DynCast(const Expr* e) {
  return e != nullptr && e->kind == T::kKind ? static_cast<const T*>(e) : nullptr;
}

// The `@` modifier of a selector or subquery.
struct AtModifier {
  enum class Kind { kNone, kTimestamp, kStart, kEnd };
  Kind kind = Kind::kNone;
  int64_t timestamp_ms = 0;  // for kTimestamp: unix ms (the query said seconds)
  bool IsSet() const { return kind != Kind::kNone; }
};

struct NumberLiteral final : Expr {
  static constexpr ExprKind kKind = ExprKind::kNumberLiteral;
  NumberLiteral() : Expr(kKind) {}
  double value = 0;  // a unary minus on a literal is folded in, as Prometheus does
};

struct StringLiteral final : Expr {
  static constexpr ExprKind kKind = ExprKind::kStringLiteral;
  StringLiteral() : Expr(kKind) {}
  std::string value;  // unquoted
};

// `name{matchers} @ t offset d`.
struct VectorSelector final : Expr {
  static constexpr ExprKind kKind = ExprKind::kVectorSelector;
  VectorSelector() : Expr(kKind) {}
  std::string name;  // the metric name written before the braces, or empty
  // In written order; when `name` is set, the last one is __name__="name".
  std::vector<LabelMatcher> matchers;
  int64_t offset_ms = 0;  // as written; negative for `offset -5m`
  AtModifier at;
};

// `selector[range]`; the selector carries the `@` and `offset` written after the range.
struct MatrixSelector final : Expr {
  static constexpr ExprKind kKind = ExprKind::kMatrixSelector;
  MatrixSelector() : Expr(kKind) {}
  std::unique_ptr<VectorSelector> selector;
  int64_t range_ms = 0;
};

// `expr[range:step] @ t offset d`.
struct SubqueryExpr final : Expr {
  static constexpr ExprKind kKind = ExprKind::kSubquery;
  SubqueryExpr() : Expr(kKind) {}
  ExprPtr expr;
  int64_t range_ms = 0;
  int64_t step_ms = 0;  // 0: not given (the evaluator uses the default resolution)
  int64_t offset_ms = 0;
  AtModifier at;
};

struct ParenExpr final : Expr {
  static constexpr ExprKind kKind = ExprKind::kParen;
  ParenExpr() : Expr(kKind) {}
  ExprPtr expr;
};

enum class UnaryOp { kPlus, kMinus };

struct UnaryExpr final : Expr {
  static constexpr ExprKind kKind = ExprKind::kUnary;
  UnaryExpr() : Expr(kKind) {}
  UnaryOp op = UnaryOp::kMinus;
  ExprPtr expr;
};

enum class BinaryOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kEql,
  kNeq,
  kGtr,
  kLss,
  kGte,
  kLte,
  kAnd,
  kOr,
  kUnless,
};

// "+", "==", "and", "atan2", ...
std::string_view BinaryOpString(BinaryOp op);
bool IsComparison(BinaryOp op);
bool IsSetOperator(BinaryOp op);

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

// How the two sides of a vector/vector binary operation are matched.
struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;  // kManyToMany for and/or/unless
  std::vector<std::string> labels;            // on(...) / ignoring(...)
  bool on = false;                            // on(...) rather than ignoring(...)
  std::vector<std::string> include;           // group_left(...) / group_right(...)
};

struct BinaryExpr final : Expr {
  static constexpr ExprKind kKind = ExprKind::kBinary;
  BinaryExpr() : Expr(kKind) {}
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  bool return_bool = false;  // `bool` modifier of a comparison
  // Set exactly when both sides are instant vectors (as Prometheus' checker leaves it).
  std::optional<VectorMatching> matching;
};

enum class AggregateOp {
  kSum,
  kAvg,
  kCount,
  kMin,
  kMax,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kCountValues,
  kQuantile,
};

// "sum", "count_values", ...
std::string_view AggregateOpString(AggregateOp op);
// topk, bottomk, count_values and quantile take a parameter before the vector.
bool AggregateHasParam(AggregateOp op);

struct AggregateExpr final : Expr {
  static constexpr ExprKind kKind = ExprKind::kAggregate;
  AggregateExpr() : Expr(kKind) {}
  AggregateOp op = AggregateOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // set iff AggregateHasParam(op)
  std::vector<std::string> grouping;
  bool without = false;  // `without (...)` rather than `by (...)`
};

struct Call final : Expr {
  static constexpr ExprKind kKind = ExprKind::kCall;
  Call() : Expr(kKind) {}
  const Function* func = nullptr;  // points into the static table of promql_functions.h
  std::vector<ExprPtr> args;
};

}  // namespace promql

// Fuzzes the PromQL parser: any byte string must either fail with an error that
// points into the input, or give a tree whose canonical text (Format) parses
// back to the same tree and the same text. Never a crash or runaway recursion.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "aggregator/promql_ast.h"
#include "aggregator/promql_parser.h"
#include "aggregator/promql_printer.h"

namespace {

// `@` timestamps beyond ~2^50 ms lose precision through "%.3f" seconds (as in
// Prometheus), so such trees are exempt from the exact round trip.
bool HasHugeTimestamp(const promql::Expr& e) {
  using namespace promql;
  constexpr int64_t kLimit = 1'000'000'000'000'000;
  auto huge = [](const AtModifier& at) {
    return at.kind == AtModifier::Kind::kTimestamp &&
           (at.timestamp_ms > kLimit || at.timestamp_ms < -kLimit);
  };
  switch (e.kind) {
    case ExprKind::kVectorSelector:
      return huge(As<VectorSelector>(e).at);
    case ExprKind::kMatrixSelector:
      return huge(As<MatrixSelector>(e).selector->at);
    case ExprKind::kSubquery:
      return huge(As<SubqueryExpr>(e).at) || HasHugeTimestamp(*As<SubqueryExpr>(e).expr);
    case ExprKind::kParen:
      return HasHugeTimestamp(*As<ParenExpr>(e).expr);
    case ExprKind::kUnary:
      return HasHugeTimestamp(*As<UnaryExpr>(e).expr);
    case ExprKind::kBinary:
      return HasHugeTimestamp(*As<BinaryExpr>(e).lhs) || HasHugeTimestamp(*As<BinaryExpr>(e).rhs);
    case ExprKind::kAggregate: {
      const auto& a = As<AggregateExpr>(e);
      return HasHugeTimestamp(*a.expr) || (a.param != nullptr && HasHugeTimestamp(*a.param));
    }
    case ExprKind::kCall:
      for (const auto& arg : As<Call>(e).args) {
        if (HasHugeTimestamp(*arg)) return true;
      }
      return false;
    default:
      return false;
  }
}

[[noreturn]] void Die(const char* what, std::string_view a, std::string_view b) {
  std::fprintf(stderr, "%s\n  first:  %.*s\n  second: %.*s\n", what, static_cast<int>(a.size()),
               a.data(), static_cast<int>(b.size()), b.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  auto parsed = promql::Parse(query);
  if (!parsed) {
    const auto& err = parsed.error();
    if (err.message.empty() || err.start < 0 || err.start > static_cast<int>(size) ||
        err.end < err.start || err.line < 1 || err.column < 1) {
      Die("bad error", query, err.ToString());
    }
    return 0;
  }
  const promql::Expr& expr = **parsed;
  (void)expr.Type();
  const std::string text = promql::Format(expr);
  auto again = promql::Parse(text);
  if (!again) Die("formatted query does not parse", text, again.error().ToString());
  if (HasHugeTimestamp(expr)) return 0;
  const std::string dump = promql::DebugString(expr);
  if (promql::DebugString(**again) != dump) Die("round trip changed the tree", query, text);
  if (promql::Format(**again) != text)
    Die("Format is not a fixed point", text, promql::Format(**again));
  return 0;
}

#include "aggregator/promql_engine.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <stdexcept>

#include "aggregator/promql_eval.h"

namespace promql {

std::string_view ApiErrorType(QueryErrorType type) {
  switch (type) {
    case QueryErrorType::kBadData:
      return "bad_data";
    case QueryErrorType::kExecution:
    case QueryErrorType::kTooManySamples:
      return "execution";
    case QueryErrorType::kTimeout:
      return "timeout";
    case QueryErrorType::kInternal:
      return "internal";
  }
  return "execution";
}

core::Error ToError(const QueryError& error) {
  core::ErrorCode code = core::ErrorCode::kInvalidRequest;
  switch (error.type) {
    case QueryErrorType::kBadData:
    case QueryErrorType::kExecution:
      code = core::ErrorCode::kInvalidRequest;
      break;
    case QueryErrorType::kTimeout:
      code = core::ErrorCode::kUnavailable;
      break;
    case QueryErrorType::kTooManySamples:
      code = core::ErrorCode::kPayloadTooLarge;
      break;
    case QueryErrorType::kInternal:
      code = core::ErrorCode::kInternal;
      break;
  }
  return core::Error{code, error.message, std::string(ApiErrorType(error.type))};
}

Engine::Engine(EngineOptions options) : options_(options) {
  // Like Prometheus, a zero lookback or subquery step means the default.
  if (options_.lookback_ms <= 0) options_.lookback_ms = EngineOptions{}.lookback_ms;
  if (options_.default_subquery_step_ms <= 0) {
    options_.default_subquery_step_ms = EngineOptions{}.default_subquery_step_ms;
  }
}

namespace {

using internal::EMatrix;

core::Unexpected<QueryError> BadData(std::string message) {
  return core::Unexpected(QueryError{QueryErrorType::kBadData, std::move(message)});
}

// The evaluated matrix in the public shape for the expression's type.
// (Filled into `result` in place: moving a whole Value into a QueryResult
// trips a false -Wmaybe-uninitialized in g++ 12 with the sanitizers.)
void Convert(EMatrix m, ValueType type, bool instant, int64_t start, QueryResult* result) {
  Value& value = **result;
  if (instant && type == ValueType::kScalar) {
    const bool has = !m.empty() && !m[0].points.empty();
    value.emplace<Scalar>(Scalar{start, has ? m[0].points[0].v : std::nan("")});
    return;
  }
  if (instant && type == ValueType::kVector) {
    Vector& out = value.emplace<Vector>();
    out.reserve(m.size());
    for (const internal::ESeries& s : m) {
      out.push_back(VectorSample{s.labels->labels, start, s.points[0].v});
    }
    return;
  }
  Matrix& out = value.emplace<Matrix>();
  out.reserve(m.size());
  for (internal::ESeries& s : m) out.push_back(Series{s.labels->labels, std::move(s.points)});
  if (!instant) {
    std::sort(out.begin(), out.end(), [](const Series& a, const Series& b) {
      return CompareLabels(a.labels, b.labels) < 0;
    });
  }
}

// Evaluates `expr` over [start, end] and converts the result to the public
// value types. `instant` selects instant-query result shapes.
QueryResult Run(const EngineOptions& options, const Querier& querier, const Expr& expr,
                int64_t start, int64_t end, int64_t interval, bool instant) {
  static const core::SystemClock kSystemClock;
  internal::QueryState state;
  state.querier = &querier;
  state.options = &options;
  state.clock = options.clock != nullptr ? options.clock : &kSystemClock;
  state.deadline_ns = state.clock->MonotonicNs() +
                      std::chrono::duration_cast<std::chrono::nanoseconds>(options.timeout).count();
  state.query_start_ms = start;
  state.query_end_ms = end;
  QueryResult result;
  try {
    const ValueType type = expr.Type();
    if (type == ValueType::kString) {
      result->emplace<String>(String{start, As<StringLiteral>(internal::Unparen(expr)).value});
      return result;
    }
    internal::Evaluator ev(&state, start, end, interval);
    Convert(ev.Eval(expr), type, instant, start, &result);
    return result;
  } catch (const internal::EvalError& e) {
    return core::Unexpected(e.error);
  } catch (const std::bad_alloc&) {
    return core::Unexpected(
        QueryError{QueryErrorType::kTooManySamples, "query ran out of memory in query execution"});
  } catch (const std::length_error&) {
    return core::Unexpected(
        QueryError{QueryErrorType::kTooManySamples, "query ran out of memory in query execution"});
  }
}

}  // namespace

QueryResult Engine::InstantQuery(const Querier& querier, const Expr& expr, int64_t t_ms) const {
  return Run(options_, querier, expr, t_ms, t_ms, 1, true);
}

QueryResult Engine::RangeQuery(const Querier& querier, const Expr& expr, int64_t start_ms,
                               int64_t end_ms, int64_t step_ms) const {
  const ValueType type = expr.Type();
  if (type != ValueType::kVector && type != ValueType::kScalar) {
    return BadData("invalid expression type \"" + std::string(DocumentedTypeName(type)) +
                   "\" for range query, must be Scalar or instant Vector");
  }
  if (step_ms <= 0) {
    return BadData(
        "zero or negative query resolution step widths are not accepted. Try a positive integer");
  }
  if (end_ms < start_ms) return BadData("end timestamp must not be before start time");
  return Run(options_, querier, expr, start_ms, end_ms, step_ms, false);
}

}  // namespace promql

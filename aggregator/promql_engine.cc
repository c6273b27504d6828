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

Engine::Engine(EngineOptions options) : options_(options) {}

namespace {

using internal::EMatrix;

core::Unexpected<QueryError> BadData(std::string message) {
  return core::Unexpected(QueryError{QueryErrorType::kBadData, std::move(message)});
}

Series ToSeries(internal::ESeries&& s) { return Series{s.labels->labels, std::move(s.points)}; }

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
  try {
    const ValueType type = expr.Type();
    if (type == ValueType::kString) {
      return Value(String{start, As<StringLiteral>(internal::Unparen(expr)).value});
    }
    internal::Evaluator ev(&state, start, end, interval);
    EMatrix m = ev.Eval(expr);
    switch (type) {
      case ValueType::kScalar: {
        if (instant) {
          const bool has = !m.empty() && !m[0].points.empty();
          return Value(Scalar{start, has ? m[0].points[0].v : std::nan("")});
        }
        Matrix out;
        for (internal::ESeries& s : m) out.push_back(ToSeries(std::move(s)));
        return Value(std::move(out));
      }
      case ValueType::kVector: {
        if (instant) {
          Vector out;
          out.reserve(m.size());
          for (const internal::ESeries& s : m) {
            out.push_back(VectorSample{s.labels->labels, start, s.points[0].v});
          }
          return Value(std::move(out));
        }
        Matrix out;
        out.reserve(m.size());
        for (internal::ESeries& s : m) out.push_back(ToSeries(std::move(s)));
        std::sort(out.begin(), out.end(), [](const Series& a, const Series& b) {
          return CompareLabels(a.labels, b.labels) < 0;
        });
        return Value(std::move(out));
      }
      default: {
        Matrix out;
        out.reserve(m.size());
        for (internal::ESeries& s : m) out.push_back(ToSeries(std::move(s)));
        return Value(std::move(out));
      }
    }
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

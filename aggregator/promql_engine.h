// The PromQL evaluator, with Prometheus 2.42 semantics (promql/engine.go and
// functions.go): stepwise evaluation, 5m lookback, staleness markers, offset and
// @, subqueries, rate extrapolation, vector matching, aggregations and the
// function library over float samples. Native histograms are not supported.
//
// Engine is immutable after construction and thread-safe: every query gets its
// own evaluation state. It reads data only through a Querier.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "aggregator/promql_ast.h"
#include "aggregator/promql_storage.h"
#include "aggregator/promql_value.h"
#include "core/clock.h"
#include "core/status.h"

namespace promql {

struct EngineOptions {
  // How far back an instant vector selector looks for the latest sample
  // (<= 0: the default).
  int64_t lookback_ms = 300'000;
  // The query memory limit: the most samples (raw samples fetched from the
  // Querier and evaluated points) held at once. A query over it fails with
  // QueryErrorType::kTooManySamples; the process is unaffected.
  int64_t max_samples = 50'000'000;
  // A query running longer fails with QueryErrorType::kTimeout.
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};
  // Resolution of a subquery written without a step (`x[1h:]`; <= 0: the
  // default).
  int64_t default_subquery_step_ms = 60'000;
  // Measures the timeout (MonotonicNs). nullptr: the system clock. Not owned;
  // must outlive the engine.
  const core::Clock* clock = nullptr;
};

// Prometheus' error kinds (web/api/v1 errorType).
enum class QueryErrorType {
  kBadData,         // the request is invalid (e.g. a range query over a range vector)
  kExecution,       // evaluation failed (e.g. many-to-many matching)
  kTimeout,         // EngineOptions::timeout passed
  kTooManySamples,  // EngineOptions::max_samples reached
  kInternal,        // the Querier failed
};

struct QueryError {
  QueryErrorType type = QueryErrorType::kExecution;
  std::string message;  // Prometheus' wording
};

// The errorType Prometheus' HTTP API reports: "bad_data", "execution",
// "timeout", "internal" (too many samples is an "execution" error there).
std::string_view ApiErrorType(QueryErrorType type);

// The error as a core::Error: kInvalidRequest for bad data, kUnavailable for
// timeouts, kPayloadTooLarge for too many samples, kInternal for storage
// failures, kInvalidRequest for execution errors; `param` holds ApiErrorType.
core::Error ToError(const QueryError& error);

using QueryResult = core::Expected<Value, QueryError>;

class Engine {
 public:
  explicit Engine(EngineOptions options = {});

  const EngineOptions& options() const { return options_; }

  // Evaluates `expr` at t_ms. The result is a Scalar, String, Vector (for an
  // instant-vector expression) or Matrix (for a range selector or subquery).
  QueryResult InstantQuery(const Querier& querier, const Expr& expr, int64_t t_ms) const;

  // Evaluates `expr` at start_ms, start_ms + step_ms, ... <= end_ms. The result
  // is a Matrix sorted by labels (a scalar expression gives one series with no
  // labels). REQUIRES nothing: a string or range-vector expression, step_ms <= 0
  // or end_ms < start_ms fail with kBadData.
  QueryResult RangeQuery(const Querier& querier, const Expr& expr, int64_t start_ms, int64_t end_ms,
                         int64_t step_ms) const;

 private:
  EngineOptions options_;
};

}  // namespace promql

// Internals of the PromQL engine, shared by promql_engine.cc and the
// promql_eval_*.cc files; not part of the aggregator module's interface.
//
// Evaluation follows Prometheus' engine.go: every node is evaluated once over
// the evaluator's whole time range [start, end] with a fixed interval and
// yields a matrix with at most one point per step (a scalar is one series
// without labels); an instant query is a range of one step. Errors are thrown
// as EvalError inside these files (like Prometheus' panics) and turned into a
// QueryError by Engine: no exception leaves the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "aggregator/promql_ast.h"
#include "aggregator/promql_engine.h"
#include "aggregator/promql_storage.h"
#include "core/labels.h"

namespace promql::internal {

// An immutable label set with its hash, shared between the points of a series
// and the samples of every step.
struct LabelSet {
  core::Labels labels;
  uint64_t hash = 0;
};
using LabelsRef = std::shared_ptr<const LabelSet>;

LabelsRef MakeLabels(core::Labels labels);
const LabelsRef& EmptyLabels();

// Hash/equality on label contents, for maps keyed by LabelsRef.
struct LabelsRefHash {
  size_t operator()(const LabelsRef& l) const { return static_cast<size_t>(l->hash); }
};
struct LabelsRefEq {
  bool operator()(const LabelsRef& a, const LabelsRef& b) const {
    return a == b || (a->hash == b->hash && a->labels == b->labels);
  }
};
using LabelsRefSet = std::unordered_set<LabelsRef, LabelsRefHash, LabelsRefEq>;

// Edits a label set; an empty value deletes the label, like Prometheus'
// labels.Builder.
class LabelsBuilder {
 public:
  explicit LabelsBuilder(const core::Labels& base) : items_(base.items()) {}
  void Set(std::string_view name, std::string_view value);
  void Del(std::string_view name);
  // Keeps only the labels named in `names`.
  void Keep(std::span<const std::string> names);
  core::Labels Build() { return core::Labels(std::move(items_)); }

 private:
  std::vector<core::Label> items_;  // sorted by name
};

// One series of an evaluated matrix: points in ascending time order.
struct ESeries {
  LabelsRef labels;
  std::vector<Sample> points;
};
using EMatrix = std::vector<ESeries>;

// One element of the instant vector at a step. `series` is the index of the
// series it came from in the argument's matrix (for per-series precomputation).
struct ESample {
  LabelsRef labels;
  double v = 0;
  int64_t t = 0;
  int32_t series = -1;
};
using EVector = std::vector<ESample>;

// Time arithmetic that saturates at the int64 range instead of overflowing
// (timestamps near the limits come from `@` with extreme values).
int64_t AddTime(int64_t a, int64_t b);
int64_t SubTime(int64_t a, int64_t b);

struct EvalError {
  QueryError error;
};
[[noreturn]] void Throw(QueryErrorType type, std::string message);
[[noreturn]] void ThrowExecution(std::string message);

int64_t TotalPoints(const EMatrix& m);
// Fails with "vector cannot contain metrics with the same labelset" when two
// series share a label set.
void CheckNoDuplicateSeries(const EMatrix& m);
// `e` without enclosing parentheses.
const Expr& Unparen(const Expr& e);
// The label set without __name__ (the same object when there is none).
LabelsRef DropMetricName(const LabelsRef& l);

// Caches DropMetricName per input label set for one node's evaluation.
class DropNameCache {
 public:
  const LabelsRef& Get(const LabelsRef& l);

 private:
  std::unordered_map<const LabelSet*, LabelsRef> cache_;
};

// State shared by every evaluator of one query.
struct QueryState {
  const Querier* querier = nullptr;
  const EngineOptions* options = nullptr;
  const core::Clock* clock = nullptr;
  int64_t deadline_ns = 0;
  int64_t query_start_ms = 0;   // for `@ start()`
  int64_t query_end_ms = 0;     // for `@ end()`
  int64_t current_samples = 0;  // samples held now (the memory limit)
};

class Evaluator {
 public:
  Evaluator(QueryState* state, int64_t start_ms, int64_t end_ms, int64_t interval_ms);

  // Evaluates a non-string expression over the evaluator's steps. The returned
  // points are counted in QueryState::current_samples until Release()d.
  EMatrix Eval(const Expr& e);

  void AddSamples(int64_t n);
  void Release(int64_t n) { state_->current_samples -= n; }
  void CheckDeadline() const;

  int64_t start() const { return start_; }
  int64_t end() const { return end_; }
  int64_t interval() const { return interval_; }
  int64_t NumSteps() const;
  // The time of step k (0 <= k < NumSteps()).
  int64_t StepTime(int64_t k) const;

  // Evaluates `exprs` (nullptr and string expressions are skipped, their
  // vectors stay empty), then calls fn once per step with each argument's
  // samples at that step and collects fn's output into series. `prep`, when
  // set, sees each argument's matrix before the steps run.
  using StepFn = std::function<void(const std::vector<EVector>& args, int64_t ts, EVector* out)>;
  using PrepFn = std::function<void(size_t arg, const EMatrix& m)>;
  EMatrix RangeEval(std::span<const Expr* const> exprs, const PrepFn& prep, const StepFn& fn);

 private:
  // promql_eval.cc
  EMatrix EvalNumber(double v);
  EMatrix EvalVectorSelector(const VectorSelector& vs);
  EMatrix EvalMatrixSelector(const MatrixSelector& ms);
  EMatrix EvalSubquery(const SubqueryExpr& sq);
  EMatrix EvalUnary(const UnaryExpr& u);
  // The time a selector or subquery with modifier `at` reads at step ts.
  int64_t AtTime(const AtModifier& at, int64_t ts) const;
  // AtTime minus the offset.
  int64_t RefTime(const AtModifier& at, int64_t offset_ms, int64_t ts) const {
    return SubTime(AtTime(at, ts), offset_ms);
  }
  // Raw series for a selector over [min_ms, max_ms], counted as held samples.
  std::vector<ESeries> Select(const VectorSelector& vs, int64_t min_ms, int64_t max_ms);

  // promql_eval_binary.cc
  EMatrix EvalBinary(const BinaryExpr& b);

  // promql_eval_aggregate.cc
  EMatrix EvalAggregate(const AggregateExpr& a);

  // promql_eval_functions.cc
  EMatrix EvalCall(const Call& c);
  EMatrix EvalRangeFunction(const Call& c, size_t matrix_arg);
  EMatrix EvalTimestampOfSelector(const VectorSelector& vs);

  QueryState* state_;
  int64_t start_;
  int64_t end_;
  int64_t interval_;
};

// Go's %v spelling of a float, as Prometheus formats numbers in messages.
std::string GoFloat(double v);

// Prometheus' model.LabelName.IsValid: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);

}  // namespace promql::internal

// The evaluator's core: steps, selectors, subqueries, unary minus and the
// per-step driver (RangeEval). Operators, aggregations and functions live in
// promql_eval_binary.cc, promql_eval_aggregate.cc and promql_eval_functions.cc.
#include "aggregator/promql_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "aggregator/promql_test_file.h"
#include "aggregator/promql_text.h"

namespace promql::internal {

LabelsRef MakeLabels(core::Labels labels) {
  auto ls = std::make_shared<LabelSet>();
  ls->hash = labels.Hash();
  ls->labels = std::move(labels);
  return ls;
}

const LabelsRef& EmptyLabels() {
  static const LabelsRef empty = MakeLabels(core::Labels());
  return empty;
}

void LabelsBuilder::Set(std::string_view name, std::string_view value) {
  if (value.empty()) {
    Del(name);
    return;
  }
  auto it = std::lower_bound(items_.begin(), items_.end(), name,
                             [](const core::Label& l, std::string_view n) { return l.name < n; });
  if (it != items_.end() && it->name == name) {
    it->value = std::string(value);
  } else {
    items_.insert(it, core::Label{std::string(name), std::string(value)});
  }
}

void LabelsBuilder::Del(std::string_view name) {
  std::erase_if(items_, [&](const core::Label& l) { return l.name == name; });
}

void LabelsBuilder::Keep(std::span<const std::string> names) {
  std::erase_if(items_, [&](const core::Label& l) {
    return std::find(names.begin(), names.end(), l.name) == names.end();
  });
}

void Throw(QueryErrorType type, std::string message) {
  throw EvalError{QueryError{type, std::move(message)}};
}

void ThrowExecution(std::string message) { Throw(QueryErrorType::kExecution, std::move(message)); }

int64_t TotalPoints(const EMatrix& m) {
  int64_t n = 0;
  for (const ESeries& s : m) n += static_cast<int64_t>(s.points.size());
  return n;
}

void CheckNoDuplicateSeries(const EMatrix& m) {
  if (m.size() < 2) return;
  LabelsRefSet seen;
  seen.reserve(m.size());
  for (const ESeries& s : m) {
    if (!seen.insert(s.labels).second) {
      ThrowExecution("vector cannot contain metrics with the same labelset");
    }
  }
}

const Expr& Unparen(const Expr& e) {
  const Expr* p = &e;
  while (p->kind == ExprKind::kParen) p = As<ParenExpr>(*p).expr.get();
  return *p;
}

LabelsRef DropMetricName(const LabelsRef& l) {
  if (l->labels.Get("__name__") == nullptr) return l;
  LabelsBuilder b(l->labels);
  b.Del("__name__");
  return MakeLabels(b.Build());
}

const LabelsRef& DropNameCache::Get(const LabelsRef& l) {
  auto [it, inserted] = cache_.try_emplace(l.get());
  if (inserted) it->second = DropMetricName(l);
  return it->second;
}

std::string GoFloat(double v) { return FormatNumber(v); }

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

int64_t AddTime(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

int64_t SubTime(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) {
    return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

Evaluator::Evaluator(QueryState* state, int64_t start_ms, int64_t end_ms, int64_t interval_ms)
    : state_(state), start_(start_ms), end_(end_ms), interval_(interval_ms) {}

int64_t Evaluator::NumSteps() const {
  if (end_ < start_) return 0;
  const uint64_t span = static_cast<uint64_t>(end_) - static_cast<uint64_t>(start_);
  return static_cast<int64_t>(span / static_cast<uint64_t>(interval_)) + 1;
}

int64_t Evaluator::StepTime(int64_t k) const {
  return static_cast<int64_t>(static_cast<uint64_t>(start_) +
                              static_cast<uint64_t>(k) * static_cast<uint64_t>(interval_));
}

void Evaluator::AddSamples(int64_t n) {
  state_->current_samples += n;
  if (state_->current_samples > state_->options->max_samples) {
    Throw(QueryErrorType::kTooManySamples,
          "query processing would load too many samples into memory in query execution");
  }
}

void Evaluator::CheckDeadline() const {
  if (state_->clock->MonotonicNs() > state_->deadline_ns) {
    Throw(QueryErrorType::kTimeout, "query timed out in expression evaluation");
  }
}

int64_t Evaluator::AtTime(const AtModifier& at, int64_t ts) const {
  switch (at.kind) {
    case AtModifier::Kind::kNone:
      return ts;
    case AtModifier::Kind::kTimestamp:
      return at.timestamp_ms;
    case AtModifier::Kind::kStart:
      return state_->query_start_ms;
    case AtModifier::Kind::kEnd:
      return state_->query_end_ms;
  }
  return ts;
}

EMatrix Evaluator::Eval(const Expr& e) {
  CheckDeadline();
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
      return EvalNumber(As<NumberLiteral>(e).value);
    case ExprKind::kStringLiteral:
      ThrowExecution("unexpected string expression");  // strings are read by their users
    case ExprKind::kVectorSelector:
      return EvalVectorSelector(As<VectorSelector>(e));
    case ExprKind::kMatrixSelector:
      return EvalMatrixSelector(As<MatrixSelector>(e));
    case ExprKind::kSubquery:
      return EvalSubquery(As<SubqueryExpr>(e));
    case ExprKind::kParen:
      return Eval(*As<ParenExpr>(e).expr);
    case ExprKind::kUnary:
      return EvalUnary(As<UnaryExpr>(e));
    case ExprKind::kBinary:
      return EvalBinary(As<BinaryExpr>(e));
    case ExprKind::kAggregate:
      return EvalAggregate(As<AggregateExpr>(e));
    case ExprKind::kCall:
      return EvalCall(As<Call>(e));
  }
  ThrowExecution("unknown expression kind");
}

EMatrix Evaluator::EvalNumber(double v) {
  const int64_t steps = NumSteps();
  AddSamples(steps);  // before allocating them
  EMatrix m(1);
  m[0].labels = EmptyLabels();
  m[0].points.reserve(static_cast<size_t>(steps));
  for (int64_t k = 0; k < steps; ++k) m[0].points.push_back(Sample{StepTime(k), v});
  return m;
}

std::vector<ESeries> Evaluator::Select(const VectorSelector& vs, int64_t min_ms, int64_t max_ms) {
  const int64_t budget = state_->options->max_samples - state_->current_samples;
  auto selected =
      state_->querier->Select(vs.matchers, min_ms, max_ms, std::max<int64_t>(budget, 0));
  if (!selected) Throw(QueryErrorType::kInternal, selected.error().message);
  std::vector<ESeries> out;
  out.reserve(selected->size());
  int64_t total = 0;
  for (Series& s : *selected) {
    total += static_cast<int64_t>(s.samples.size());
    out.push_back(ESeries{MakeLabels(std::move(s.labels)), std::move(s.samples)});
  }
  AddSamples(total);
  return out;
}

EMatrix Evaluator::EvalVectorSelector(const VectorSelector& vs) {
  const int64_t lookback = state_->options->lookback_ms;
  const int64_t first_ref = RefTime(vs.at, vs.offset_ms, start_);
  const int64_t last_ref = RefTime(vs.at, vs.offset_ms, end_);
  std::vector<ESeries> raw = Select(vs, SubTime(first_ref, lookback), last_ref);
  const int64_t raw_total = TotalPoints(raw);
  const int64_t steps = NumSteps();
  EMatrix out;
  for (ESeries& s : raw) {
    CheckDeadline();
    ESeries series{s.labels, {}};
    size_t next = 0;  // first sample after the reference time
    for (int64_t k = 0; k < steps; ++k) {
      const int64_t ts = StepTime(k);
      const int64_t ref = RefTime(vs.at, vs.offset_ms, ts);
      while (next < s.points.size() && s.points[next].t_ms <= ref) ++next;
      if (next == 0) continue;
      const Sample& last = s.points[next - 1];
      if (last.t_ms < SubTime(ref, lookback) || IsStaleNaN(last.v)) continue;
      AddSamples(1);
      series.points.push_back(Sample{ts, last.v});
    }
    if (!series.points.empty()) out.push_back(std::move(series));
  }
  Release(raw_total);
  return out;
}

EMatrix Evaluator::EvalMatrixSelector(const MatrixSelector& ms) {
  // Only reached for a range vector at the top of an instant query (functions
  // read their range arguments in EvalRangeFunction).
  const VectorSelector& vs = *ms.selector;
  const int64_t maxt = RefTime(vs.at, vs.offset_ms, start_);
  const int64_t mint = SubTime(maxt, ms.range_ms);
  std::vector<ESeries> raw = Select(vs, mint, maxt);
  EMatrix out;
  for (ESeries& s : raw) {
    const size_t before = s.points.size();
    std::erase_if(s.points, [](const Sample& p) { return IsStaleNaN(p.v); });
    Release(static_cast<int64_t>(before - s.points.size()));
    if (!s.points.empty()) out.push_back(std::move(s));
  }
  return out;
}

EMatrix Evaluator::EvalSubquery(const SubqueryExpr& sq) {
  const int64_t step = sq.step_ms > 0 ? sq.step_ms : state_->options->default_subquery_step_ms;
  const int64_t first = SubTime(RefTime(sq.at, sq.offset_ms, start_), sq.range_ms);
  const int64_t last = RefTime(sq.at, sq.offset_ms, end_);
  // The first multiple of the step at or after `first` (Go's truncating division).
  int64_t sub_start = step * (first / step);
  if (sub_start < first) sub_start = AddTime(sub_start, step);
  Evaluator sub(state_, sub_start, last, step);
  return sub.Eval(*sq.expr);
}

EMatrix Evaluator::EvalUnary(const UnaryExpr& u) {
  EMatrix m = Eval(*u.expr);
  if (u.op == UnaryOp::kMinus) {
    DropNameCache names;
    for (ESeries& s : m) {
      s.labels = names.Get(s.labels);
      for (Sample& p : s.points) p.v = -p.v;
    }
    CheckNoDuplicateSeries(m);
  }
  return m;
}

EMatrix Evaluator::RangeEval(std::span<const Expr* const> exprs, const PrepFn& prep,
                             const StepFn& fn) {
  const int64_t original = state_->current_samples;
  std::vector<EMatrix> mats(exprs.size());
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (exprs[i] == nullptr || exprs[i]->Type() == ValueType::kString) continue;
    mats[i] = Eval(*exprs[i]);
    if (prep) prep(i, mats[i]);
  }
  std::vector<std::vector<size_t>> cursor(exprs.size());
  for (size_t i = 0; i < exprs.size(); ++i) cursor[i].assign(mats[i].size(), 0);
  std::vector<EVector> args(exprs.size());
  EVector out;
  // Output series in order of first appearance.
  EMatrix result;
  std::unordered_map<LabelsRef, size_t, LabelsRefHash, LabelsRefEq> index;
  LabelsRefSet step_labels;
  const bool instant = start_ == end_;
  const int64_t steps = NumSteps();
  for (int64_t k = 0; k < steps; ++k) {
    const int64_t ts = StepTime(k);
    CheckDeadline();
    int64_t gathered = 0;
    for (size_t i = 0; i < exprs.size(); ++i) {
      args[i].clear();
      const EMatrix& m = mats[i];
      for (size_t si = 0; si < m.size(); ++si) {
        size_t& c = cursor[i][si];
        if (c < m[si].points.size() && m[si].points[c].t_ms == ts) {
          args[i].push_back(ESample{m[si].labels, m[si].points[c].v, ts, static_cast<int32_t>(si)});
          ++c;
          ++gathered;
        }
      }
    }
    AddSamples(gathered);
    out.clear();
    fn(args, ts, &out);
    if (out.size() > 1) {
      step_labels.clear();
      for (const ESample& s : out) {
        if (!step_labels.insert(s.labels).second) {
          ThrowExecution("vector cannot contain metrics with the same labelset");
        }
      }
    }
    AddSamples(static_cast<int64_t>(out.size()));
    Release(gathered);
    if (instant) {
      result.reserve(out.size());
      for (ESample& s : out) result.push_back(ESeries{std::move(s.labels), {Sample{ts, s.v}}});
      break;
    }
    for (ESample& s : out) {
      auto [it, inserted] = index.try_emplace(s.labels, result.size());
      if (inserted) {
        result.push_back(ESeries{s.labels, {}});
        result.back().points.reserve(static_cast<size_t>(std::min<int64_t>(steps, 1024)));
      }
      result[it->second].points.push_back(Sample{ts, s.v});
    }
  }
  state_->current_samples = original + TotalPoints(result);
  return result;
}

}  // namespace promql::internal

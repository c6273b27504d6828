// Binary operators: arithmetic, comparisons (with and without `bool`), atan2,
// and/or/unless, with Prometheus' vector matching (on/ignoring,
// group_left/group_right) and metric-name dropping.
#include <cmath>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "aggregator/promql_eval.h"
#include "aggregator/promql_text.h"
#include "aggregator/promql_value.h"

namespace promql::internal {

namespace {

double Btos(bool b) { return b ? 1 : 0; }

// Arithmetic ops drop the metric name; comparisons and atan2 keep it.
bool ShouldDropMetricName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kPow:
    case BinaryOp::kMod:
      return true;
    default:
      return false;
  }
}

double ScalarBinop(BinaryOp op, double l, double r) {
  switch (op) {
    case BinaryOp::kAdd:
      return l + r;
    case BinaryOp::kSub:
      return l - r;
    case BinaryOp::kMul:
      return l * r;
    case BinaryOp::kDiv:
      return l / r;
    case BinaryOp::kPow:
      return std::pow(l, r);
    case BinaryOp::kMod:
      return std::fmod(l, r);
    case BinaryOp::kEql:
      return Btos(l == r);
    case BinaryOp::kNeq:
      return Btos(l != r);
    case BinaryOp::kGtr:
      return Btos(l > r);
    case BinaryOp::kLss:
      return Btos(l < r);
    case BinaryOp::kGte:
      return Btos(l >= r);
    case BinaryOp::kLte:
      return Btos(l <= r);
    case BinaryOp::kAtan2:
      return std::atan2(l, r);
    default:
      ThrowExecution("operator \"" + std::string(BinaryOpString(op)) +
                     "\" not allowed for Scalar operations");
  }
}

// The value of `l op r` for vector elements and whether to keep the element
// (comparisons filter and keep the left value).
double VectorElemBinop(BinaryOp op, double l, double r, bool* keep) {
  *keep = true;
  switch (op) {
    case BinaryOp::kEql:
      *keep = l == r;
      return l;
    case BinaryOp::kNeq:
      *keep = l != r;
      return l;
    case BinaryOp::kGtr:
      *keep = l > r;
      return l;
    case BinaryOp::kLss:
      *keep = l < r;
      return l;
    case BinaryOp::kGte:
      *keep = l >= r;
      return l;
    case BinaryOp::kLte:
      *keep = l <= r;
      return l;
    case BinaryOp::kAnd:
    case BinaryOp::kOr:
    case BinaryOp::kUnless:
      ThrowExecution("operator \"" + std::string(BinaryOpString(op)) +
                     "\" not allowed for operations between Vectors");
    default:
      return ScalarBinop(op, l, r);
  }
}

// The matching signature of a label set: the on(...) labels, or all labels but
// the ignoring(...) ones and __name__. Separators keep it unambiguous.
std::string Signature(const core::Labels& labels, const VectorMatching& m) {
  std::string sig;
  auto listed = [&](const std::string& name) {
    for (const std::string& l : m.labels) {
      if (l == name) return true;
    }
    return false;
  };
  for (const core::Label& l : labels.items()) {
    const bool include = m.on ? listed(l.name) : (l.name != "__name__" && !listed(l.name));
    if (!include) continue;
    sig += l.name;
    sig.push_back('\xff');
    sig += l.value;
    sig.push_back('\xff');
  }
  return sig;
}

// The labels the matching is done on, as Prometheus prints them in errors.
core::Labels MatchedLabels(const core::Labels& labels, const VectorMatching& m) {
  LabelsBuilder b(labels);
  if (m.on) {
    b.Keep(m.labels);
  } else {
    b.Del("__name__");
    for (const std::string& l : m.labels) b.Del(l);
  }
  return b.Build();
}

// Evaluates one vector/vector operation step by step. Each input series'
// matching signature is computed once and numbered; a step then works on
// arrays indexed by those numbers, stamped with the step so that nothing needs
// clearing.
class BinaryEvaluator {
 public:
  BinaryEvaluator(const BinaryExpr& b) : b_(b), m_(*b.matching) {}

  void Prep(size_t arg, const EMatrix& mat) {
    auto& ids = ids_[arg];
    ids.reserve(mat.size());
    for (const ESeries& s : mat) {
      auto [it, inserted] = sig_ids_.try_emplace(Signature(s.labels->labels, m_), sig_ids_.size());
      ids.push_back(it->second);
    }
    stamp_.resize(sig_ids_.size(), 0);
    matched_stamp_.resize(sig_ids_.size(), 0);
    right_.resize(sig_ids_.size(), nullptr);
  }

  void Step(const std::vector<EVector>& args, EVector* out) {
    ++epoch_;
    const EVector& lhs = args[0];
    const EVector& rhs = args[1];
    switch (b_.op) {
      case BinaryOp::kAnd:
        And(lhs, rhs, out);
        return;
      case BinaryOp::kOr:
        Or(lhs, rhs, out);
        return;
      case BinaryOp::kUnless:
        Unless(lhs, rhs, out);
        return;
      default:
        Arith(lhs, rhs, out);
    }
  }

 private:
  size_t Id(size_t arg, const ESample& s) const { return ids_[arg][static_cast<size_t>(s.series)]; }
  void Mark(size_t arg, const EVector& v) {
    for (const ESample& s : v) stamp_[Id(arg, s)] = epoch_;
  }
  bool Marked(size_t arg, const ESample& s) const { return stamp_[Id(arg, s)] == epoch_; }

  void And(const EVector& lhs, const EVector& rhs, EVector* out) {
    if (lhs.empty() || rhs.empty()) return;
    Mark(1, rhs);
    for (const ESample& s : lhs) {
      if (Marked(0, s)) out->push_back(s);
    }
  }

  void Or(const EVector& lhs, const EVector& rhs, EVector* out) {
    if (lhs.empty() || rhs.empty()) {
      out->insert(out->end(), lhs.begin(), lhs.end());
      out->insert(out->end(), rhs.begin(), rhs.end());
      return;
    }
    Mark(0, lhs);
    out->insert(out->end(), lhs.begin(), lhs.end());
    for (const ESample& s : rhs) {
      if (!Marked(1, s)) out->push_back(s);
    }
  }

  void Unless(const EVector& lhs, const EVector& rhs, EVector* out) {
    if (lhs.empty() || rhs.empty()) {
      out->insert(out->end(), lhs.begin(), lhs.end());
      return;
    }
    Mark(1, rhs);
    for (const ESample& s : lhs) {
      if (!Marked(0, s)) out->push_back(s);
    }
  }

  void Arith(const EVector& lhs_in, const EVector& rhs_in, EVector* out) {
    if (lhs_in.empty() || rhs_in.empty()) return;
    // One-to-many: swap sides so that the right side is always the "one".
    const bool swap = m_.card == Cardinality::kOneToMany;
    const EVector& lhs = swap ? rhs_in : lhs_in;
    const EVector& rhs = swap ? lhs_in : rhs_in;
    const size_t larg = swap ? 1 : 0;
    const size_t rarg = swap ? 0 : 1;

    for (const ESample& rs : rhs) {
      const size_t id = Id(rarg, rs);
      if (stamp_[id] == epoch_) {
        const char* one_side = swap ? "left" : "right";
        ThrowExecution("found duplicate series for the match group " +
                       LabelsString(MatchedLabels(rs.labels->labels, m_)) + " on the " + one_side +
                       " hand-side of the operation: [" + LabelsString(rs.labels->labels) + ", " +
                       LabelsString(right_[id]->labels->labels) +
                       "];many-to-many matching not allowed: matching labels must be unique on one "
                       "side");
      }
      stamp_[id] = epoch_;
      right_[id] = &rs;
    }
    // Many-to-one: the result label sets per signature, which must be unique.
    grouped_.clear();
    for (const ESample& ls : lhs) {
      const size_t id = Id(larg, ls);
      if (stamp_[id] != epoch_) continue;
      const ESample& rs = *right_[id];
      double vl = ls.v, vr = rs.v;
      if (swap) std::swap(vl, vr);
      bool keep = true;
      double value = VectorElemBinop(b_.op, vl, vr, &keep);
      if (b_.return_bool) {
        value = keep ? 1 : 0;
      } else if (!keep) {
        continue;
      }
      LabelsRef metric = ResultMetric(ls.labels, rs.labels);
      if (b_.return_bool) metric = names_.Get(metric);
      if (m_.card == Cardinality::kOneToOne) {
        if (matched_stamp_[id] == epoch_) {
          ThrowExecution(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
        }
        matched_stamp_[id] = epoch_;
      } else if (!grouped_[id].insert(metric).second) {
        ThrowExecution("multiple matches for labels: grouping labels must ensure unique matches");
      }
      out->push_back(ESample{std::move(metric), value, 0, -1});
    }
  }

  // The result labels of matching `lhs` with `rhs` (the "one" side), cached
  // per pair of input label sets.
  LabelsRef ResultMetric(const LabelsRef& lhs, const LabelsRef& rhs) {
    auto key = std::make_pair(lhs.get(), rhs.get());
    auto it = result_metric_.find(key);
    if (it != result_metric_.end()) return it->second;
    LabelsBuilder b(lhs->labels);
    if (ShouldDropMetricName(b_.op)) b.Del("__name__");
    if (m_.card == Cardinality::kOneToOne) {
      if (m_.on) {
        b.Keep(m_.labels);
      } else {
        for (const std::string& l : m_.labels) b.Del(l);
      }
    }
    for (const std::string& name : m_.include) {
      const std::string* v = rhs->labels.Get(name);
      if (v != nullptr && !v->empty()) {
        b.Set(name, *v);
      } else {
        b.Del(name);
      }
    }
    LabelsRef out = MakeLabels(b.Build());
    result_metric_.emplace(key, out);
    return out;
  }

  struct PairHash {
    size_t operator()(const std::pair<const LabelSet*, const LabelSet*>& p) const {
      return std::hash<const void*>()(p.first) * 31 + std::hash<const void*>()(p.second);
    }
  };

  const BinaryExpr& b_;
  const VectorMatching& m_;
  std::unordered_map<std::string, size_t> sig_ids_;  // signature -> number
  std::vector<size_t> ids_[2];                       // per input series of each side
  uint64_t epoch_ = 0;                               // the current step
  std::vector<uint64_t> stamp_;                      // per signature: marked at this epoch
  std::vector<uint64_t> matched_stamp_;              // per signature: matched at this epoch
  std::vector<const ESample*> right_;                // per signature: the "one" side sample
  std::unordered_map<size_t, LabelsRefSet> grouped_;
  DropNameCache names_;
  std::unordered_map<std::pair<const LabelSet*, const LabelSet*>, LabelsRef, PairHash>
      result_metric_;
};

}  // namespace

EMatrix Evaluator::EvalBinary(const BinaryExpr& b) {
  const ValueType lt = b.lhs->Type();
  const ValueType rt = b.rhs->Type();
  const Expr* exprs[] = {b.lhs.get(), b.rhs.get()};
  auto value_of = [](const EVector& v) {
    return v.empty() ? std::nan("") : v[0].v;  // a scalar has one sample per step
  };
  if (lt == ValueType::kScalar && rt == ValueType::kScalar) {
    return RangeEval(exprs, nullptr, [&](const std::vector<EVector>& args, int64_t, EVector* out) {
      out->push_back(
          ESample{EmptyLabels(), ScalarBinop(b.op, value_of(args[0]), value_of(args[1])), 0, -1});
    });
  }
  if (lt == ValueType::kVector && rt == ValueType::kVector) {
    if (!b.matching) ThrowExecution("binary expression between vectors without matching");
    BinaryEvaluator be(b);
    return RangeEval(
        exprs, [&](size_t arg, const EMatrix& m) { be.Prep(arg, m); },
        [&](const std::vector<EVector>& args, int64_t, EVector* out) { be.Step(args, out); });
  }
  // Vector and scalar, in either order.
  const bool swap = lt == ValueType::kScalar;  // the scalar is on the left
  const size_t vec_arg = swap ? 1 : 0;
  DropNameCache names;
  const bool comparison = IsComparison(b.op);
  return RangeEval(exprs, nullptr, [&](const std::vector<EVector>& args, int64_t, EVector* out) {
    const double scalar = value_of(args[swap ? 0 : 1]);
    for (const ESample& s : args[vec_arg]) {
      double lv = s.v, rv = scalar;
      if (swap) std::swap(lv, rv);
      bool keep = true;
      double value = VectorElemBinop(b.op, lv, rv, &keep);
      // A comparison with the scalar on the left still yields the vector's value.
      if (comparison && swap) value = rv;
      if (b.return_bool) {
        value = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      LabelsRef labels =
          ShouldDropMetricName(b.op) || b.return_bool ? names.Get(s.labels) : s.labels;
      out->push_back(ESample{std::move(labels), value, 0, -1});
    }
  });
}

}  // namespace promql::internal

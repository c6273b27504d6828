// Aggregation operators (sum, avg, count, min, max, group, stddev, stdvar,
// topk, bottomk, count_values, quantile) with by/without grouping, as in
// Prometheus 2.42's evaluator.aggregation.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "aggregator/promql_eval.h"
#include "aggregator/promql_eval_math.h"

namespace promql::internal {

namespace {

// The grouping key of a label set: the by(...) labels, or all labels but the
// without(...) ones and __name__.
std::string GroupingKey(const core::Labels& labels, std::span<const std::string> grouping,
                        bool without) {
  std::string key;
  auto listed = [&](const std::string& name) {
    return std::find(grouping.begin(), grouping.end(), name) != grouping.end();
  };
  for (const core::Label& l : labels.items()) {
    const bool include = without ? (l.name != "__name__" && !listed(l.name)) : listed(l.name);
    if (!include) continue;
    key += l.name;
    key.push_back('\xff');
    key += l.value;
    key.push_back('\xff');
  }
  return key;
}

// A heap ordered like Prometheus' vectorByValueHeap (lowest value, NaN first,
// on top) or vectorByReverseValueHeap (highest on top), with Go's
// container/heap algorithms so that ties resolve the same way.
class SampleHeap {
 public:
  explicit SampleHeap(bool reverse) : reverse_(reverse) {}

  bool Less(size_t i, size_t j) const {
    if (std::isnan(items_[i].v)) return true;
    return reverse_ ? items_[i].v > items_[j].v : items_[i].v < items_[j].v;
  }
  size_t size() const { return items_.size(); }
  const ESample& top() const { return items_[0]; }
  void ReplaceTop(ESample s) { items_[0] = std::move(s); }
  void Push(ESample s) {
    items_.push_back(std::move(s));
    Up(items_.size() - 1);
  }
  void Pop() {
    const size_t n = items_.size() - 1;
    std::swap(items_[0], items_[n]);
    Down(0, n);
    items_.pop_back();
  }
  std::vector<ESample>& items() { return items_; }

 private:
  void Up(size_t j) {
    while (j > 0) {
      const size_t i = (j - 1) / 2;
      if (i == j || !Less(j, i)) break;
      std::swap(items_[i], items_[j]);
      j = i;
    }
  }
  void Down(size_t i0, size_t n) {
    size_t i = i0;
    for (;;) {
      const size_t j1 = 2 * i + 1;
      if (j1 >= n) break;
      size_t j = j1;
      if (const size_t j2 = j1 + 1; j2 < n && Less(j2, j1)) j = j2;
      if (!Less(j, i)) break;
      std::swap(items_[i], items_[j]);
      i = j;
    }
  }

  bool reverse_;
  std::vector<ESample> items_;
};

struct Group {
  LabelsRef labels;
  double value = 0;
  double mean = 0;
  int64_t count = 0;
  std::optional<SampleHeap> heap;  // topk, bottomk
  std::vector<double> values;      // quantile
};

// count_values' label value: Go's strconv.FormatFloat(v, 'f', -1, 64).
std::string FormatFloatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, res.ptr);
}

}  // namespace

EMatrix Evaluator::EvalAggregate(const AggregateExpr& a) {
  std::vector<std::string> grouping = a.grouping;
  std::sort(grouping.begin(), grouping.end());
  const AggregateOp op = a.op;

  std::string value_label;  // count_values
  const Expr* param_expr = a.param.get();
  if (op == AggregateOp::kCountValues) {
    const Expr& p = Unparen(*a.param);
    if (p.kind != ExprKind::kStringLiteral) ThrowExecution("count_values needs a string parameter");
    value_label = As<StringLiteral>(p).value;
    param_expr = nullptr;
    if (!IsValidLabelName(value_label)) {
      ThrowExecution("invalid label name \"" + value_label + "\"");
    }
    if (!a.without) {
      grouping.push_back(value_label);
      std::sort(grouping.begin(), grouping.end());
    }
  }

  // Group keys are numbered: per input series once (count_values, whose
  // groups depend on the values, per sample), with their output labels.
  std::unordered_map<std::string, size_t> group_ids;
  std::vector<LabelsRef> group_labels;
  auto group_of = [&](std::string key, const core::Labels& metric) {
    auto [it, inserted] = group_ids.try_emplace(std::move(key), group_labels.size());
    if (inserted) {
      if (a.without) {
        LabelsBuilder b(metric);
        for (const std::string& g : grouping) b.Del(g);
        b.Del("__name__");
        group_labels.push_back(MakeLabels(b.Build()));
      } else if (!grouping.empty()) {
        LabelsBuilder b(metric);
        b.Keep(grouping);
        group_labels.push_back(MakeLabels(b.Build()));
      } else {
        group_labels.push_back(EmptyLabels());
      }
    }
    return it->second;
  };
  std::vector<size_t> series_group;
  auto prep = [&](size_t arg, const EMatrix& m) {
    if (arg != 1 || op == AggregateOp::kCountValues) return;
    series_group.reserve(m.size());
    for (const ESeries& s : m) {
      series_group.push_back(
          group_of(GroupingKey(s.labels->labels, grouping, a.without), s.labels->labels));
    }
  };
  // Per step: the slot in `groups` of each group id, valid when stamped with the step.
  std::vector<uint64_t> slot_stamp;
  std::vector<size_t> slot;
  uint64_t epoch = 0;
  std::vector<Group> groups;

  const Expr* exprs[] = {param_expr, a.expr.get()};
  return RangeEval(exprs, prep, [&](const std::vector<EVector>& args, int64_t, EVector* out) {
    const EVector& vec = args[1];
    double param = 0;
    if (param_expr != nullptr) param = args[0].empty() ? std::nan("") : args[0][0].v;
    int64_t k = 0;
    if (op == AggregateOp::kTopk || op == AggregateOp::kBottomk) {
      // Go's convertibleToInt64.
      if (!(param <= 9.223372036854775807e18 && param >= -9.223372036854775808e18)) {
        ThrowExecution("Scalar value " + GoFloat(param) + " overflows int64");
      }
      k = static_cast<int64_t>(param);
      if (k < 1) return;
    }
    ++epoch;
    groups.clear();
    for (const ESample& s : vec) {
      LabelsRef metric = s.labels;
      size_t gid;
      if (op == AggregateOp::kCountValues) {
        LabelsBuilder b(metric->labels);
        b.Set(value_label, FormatFloatF(s.v));
        metric = MakeLabels(b.Build());
        gid = group_of(GroupingKey(metric->labels, grouping, a.without), metric->labels);
      } else {
        gid = series_group[static_cast<size_t>(s.series)];
      }
      if (slot.size() < group_labels.size()) {
        slot.resize(group_labels.size());
        slot_stamp.resize(group_labels.size(), 0);
      }
      if (slot_stamp[gid] != epoch) {  // the group's first sample in this step
        slot_stamp[gid] = epoch;
        slot[gid] = groups.size();
        Group g;
        g.labels = group_labels[gid];
        g.value = s.v;
        g.mean = s.v;
        g.count = 1;
        switch (op) {
          case AggregateOp::kStddev:
          case AggregateOp::kStdvar:
            g.value = 0;
            break;
          case AggregateOp::kTopk:
          case AggregateOp::kBottomk:
            g.heap.emplace(op == AggregateOp::kBottomk);
            g.heap->Push(ESample{metric, s.v, 0, -1});
            break;
          case AggregateOp::kQuantile:
            g.values.push_back(s.v);
            break;
          case AggregateOp::kGroup:
            g.value = 1;
            break;
          default:
            break;
        }
        groups.push_back(std::move(g));
        continue;
      }
      Group& g = groups[slot[gid]];
      switch (op) {
        case AggregateOp::kSum:
          g.value += s.v;
          break;
        case AggregateOp::kAvg:
          ++g.count;
          if (std::isinf(g.mean)) {
            // Inf of the same sign stays; a finite value cannot move an infinite mean.
            if (std::isinf(s.v) && (g.mean > 0) == (s.v > 0)) break;
            if (!std::isinf(s.v) && !std::isnan(s.v)) break;
          }
          g.mean += s.v / static_cast<double>(g.count) - g.mean / static_cast<double>(g.count);
          break;
        case AggregateOp::kGroup:
          break;
        case AggregateOp::kMax:
          if (g.value < s.v || std::isnan(g.value)) g.value = s.v;
          break;
        case AggregateOp::kMin:
          if (g.value > s.v || std::isnan(g.value)) g.value = s.v;
          break;
        case AggregateOp::kCount:
        case AggregateOp::kCountValues:
          ++g.count;
          break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar: {
          ++g.count;
          const double delta = s.v - g.mean;
          g.mean += delta / static_cast<double>(g.count);
          g.value += delta * (s.v - g.mean);
          break;
        }
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk: {
          SampleHeap& h = *g.heap;
          const double top = h.top().v;
          const bool better = op == AggregateOp::kTopk ? top < s.v : top > s.v;
          if (static_cast<int64_t>(h.size()) < k || better || std::isnan(top)) {
            if (static_cast<int64_t>(h.size()) == k) {
              if (k == 1) {
                h.ReplaceTop(ESample{metric, s.v, 0, -1});
                break;
              }
              h.Pop();
            }
            h.Push(ESample{metric, s.v, 0, -1});
          }
          break;
        }
        case AggregateOp::kQuantile:
          g.values.push_back(s.v);
          break;
      }
    }
    for (Group& g : groups) {
      switch (op) {
        case AggregateOp::kAvg:
          g.value = g.mean;
          break;
        case AggregateOp::kCount:
        case AggregateOp::kCountValues:
          g.value = static_cast<double>(g.count);
          break;
        case AggregateOp::kStdvar:
          g.value = g.value / static_cast<double>(g.count);
          break;
        case AggregateOp::kStddev:
          g.value = std::sqrt(g.value / static_cast<double>(g.count));
          break;
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk: {
          // Highest first for topk, lowest first for bottomk; NaN last.
          std::vector<ESample>& items = g.heap->items();
          const bool top = op == AggregateOp::kTopk;
          std::stable_sort(items.begin(), items.end(), [&](const ESample& x, const ESample& y) {
            if (std::isnan(x.v) || std::isnan(y.v)) return !std::isnan(x.v) && std::isnan(y.v);
            return top ? x.v > y.v : x.v < y.v;
          });
          for (ESample& s : items) out->push_back(std::move(s));
          continue;
        }
        case AggregateOp::kQuantile:
          g.value = Quantile(param, &g.values);
          break;
        default:
          break;
      }
      out->push_back(ESample{g.labels, g.value, 0, -1});
    }
  });
}

}  // namespace promql::internal

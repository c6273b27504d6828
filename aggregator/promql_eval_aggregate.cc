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

  // Grouping keys per input series, computed once.
  std::vector<std::string> keys;
  auto prep = [&](size_t arg, const EMatrix& m) {
    if (arg != 1 || op == AggregateOp::kCountValues) return;
    keys.reserve(m.size());
    for (const ESeries& s : m) keys.push_back(GroupingKey(s.labels->labels, grouping, a.without));
  };
  // Output labels per group key, cached across steps.
  std::unordered_map<std::string, LabelsRef> group_labels;
  auto labels_for = [&](const std::string& key, const core::Labels& metric) -> const LabelsRef& {
    auto [it, inserted] = group_labels.try_emplace(key);
    if (inserted) {
      if (a.without) {
        LabelsBuilder b(metric);
        for (const std::string& g : grouping) b.Del(g);
        b.Del("__name__");
        it->second = MakeLabels(b.Build());
      } else if (!grouping.empty()) {
        LabelsBuilder b(metric);
        b.Keep(grouping);
        it->second = MakeLabels(b.Build());
      } else {
        it->second = EmptyLabels();
      }
    }
    return it->second;
  };

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
    std::unordered_map<std::string, size_t> index;
    std::vector<Group> groups;
    for (const ESample& s : vec) {
      LabelsRef metric = s.labels;
      std::string key;
      if (op == AggregateOp::kCountValues) {
        LabelsBuilder b(metric->labels);
        b.Set(value_label, FormatFloatF(s.v));
        metric = MakeLabels(b.Build());
        key = GroupingKey(metric->labels, grouping, a.without);
      } else {
        key = keys[static_cast<size_t>(s.series)];
      }
      auto [it, inserted] = index.try_emplace(key, groups.size());
      if (inserted) {
        Group g;
        g.labels = labels_for(key, metric->labels);
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
      Group& g = groups[it->second];
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

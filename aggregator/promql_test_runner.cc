#include "aggregator/promql_test_runner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "aggregator/promql_functions.h"
#include "aggregator/promql_parser.h"
#include "aggregator/promql_printer.h"
#include "aggregator/promql_storage.h"
#include "aggregator/promql_test_file.h"
#include "aggregator/promql_text.h"
#include "aggregator/promql_value.h"

namespace promql {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Functions whose result depends on the evaluation time itself, so that
// adding `@` changes their meaning (Prometheus' AtModifierUnsafeFunctions).
bool IsAtModifierUnsafe(std::string_view fn) {
  static constexpr std::string_view kUnsafe[] = {
      "days_in_month", "day_of_month", "day_of_week",    "day_of_year", "hour",      "minute",
      "month",         "year",         "predict_linear", "time",        "timestamp",
  };
  for (std::string_view u : kUnsafe) {
    if (u == fn) return true;
  }
  return false;
}

// Sets `@ ts` on every selector and subquery that has none and is not inside
// a subquery; notes whether a time-dependent function is called outside
// subqueries.
void AddAtModifier(Expr& e, int64_t ts, bool in_subquery, bool* unsafe) {
  auto set = [&](AtModifier& at) {
    if (!in_subquery && !at.IsSet()) at = AtModifier{AtModifier::Kind::kTimestamp, ts};
  };
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return;
    case ExprKind::kVectorSelector:
      set(As<VectorSelector>(e).at);
      return;
    case ExprKind::kMatrixSelector:
      set(As<MatrixSelector>(e).selector->at);
      return;
    case ExprKind::kSubquery: {
      auto& sq = As<SubqueryExpr>(e);
      set(sq.at);
      AddAtModifier(*sq.expr, ts, true, unsafe);
      return;
    }
    case ExprKind::kParen:
      AddAtModifier(*As<ParenExpr>(e).expr, ts, in_subquery, unsafe);
      return;
    case ExprKind::kUnary:
      AddAtModifier(*As<UnaryExpr>(e).expr, ts, in_subquery, unsafe);
      return;
    case ExprKind::kBinary: {
      auto& b = As<BinaryExpr>(e);
      AddAtModifier(*b.lhs, ts, in_subquery, unsafe);
      AddAtModifier(*b.rhs, ts, in_subquery, unsafe);
      return;
    }
    case ExprKind::kAggregate: {
      auto& a = As<AggregateExpr>(e);
      if (a.param) AddAtModifier(*a.param, ts, in_subquery, unsafe);
      AddAtModifier(*a.expr, ts, in_subquery, unsafe);
      return;
    }
    case ExprKind::kCall: {
      auto& c = As<Call>(e);
      if (!in_subquery && IsAtModifierUnsafe(c.func->name)) *unsafe = true;
      for (ExprPtr& arg : c.args) AddAtModifier(*arg, ts, in_subquery, unsafe);
      return;
    }
  }
}

struct Query {
  std::string expr;
  int64_t t_ms = 0;
  ExprPtr tree;
};

// The eval's own query plus its `@` variants.
core::Result<std::vector<Query>> Queries(const EvalCommand& eval, bool with_at) {
  std::vector<Query> out;
  auto parsed = ParseExpr(eval.expr);
  if (!parsed) return core::Unexpected(parsed.error());
  out.push_back(Query{eval.expr, eval.at_ms, std::move(*parsed)});
  if (!with_at) return out;
  auto variants = AtModifierVariants(eval.expr, eval.at_ms);
  if (!variants) return core::Unexpected(variants.error());
  for (auto& [text, t] : *variants) {
    auto tree = ParseExpr(text);
    if (!tree) {
      return core::Fail(core::ErrorCode::kInternal, "printed query " + QuoteString(text) +
                                                        " does not parse: " + tree.error().message);
    }
    out.push_back(Query{std::move(text), t, std::move(*tree)});
  }
  return out;
}

std::string Describe(const Query& q) {
  return QuoteString(q.expr) + " at " + FormatNumber(static_cast<double>(q.t_ms) / 1000) + "s";
}

// Compares an instant-query result with the eval's expectation like
// Prometheus' evalCmd.compareResult. Returns an error message or nothing.
std::optional<std::string> Compare(const EvalCommand& eval, const Value& result) {
  if (std::holds_alternative<Matrix>(result)) return "received range result on instant evaluation";
  if (std::holds_alternative<String>(result)) return "received string result, expected samples";
  if (const auto* s = std::get_if<Scalar>(&result)) {
    if (IsStaleNaN(s->v)) return "staleness marker as scalar result";
    if (!eval.expected_scalar) {
      return "expected a vector but got scalar " + FormatNumber(s->v);
    }
    if (!AlmostEqual(*eval.expected_scalar, s->v)) {
      return "expected scalar " + FormatNumber(*eval.expected_scalar) + " but got " +
             FormatNumber(s->v);
    }
    return std::nullopt;
  }
  const Vector& vec = std::get<Vector>(result);
  for (const VectorSample& s : vec) {
    if (IsStaleNaN(s.v)) return "staleness marker in result for " + LabelsString(s.labels);
  }
  // Expected samples by labels; a repeated label set keeps its last line.
  struct Expected {
    const ExpectedSample* sample;
    int pos;
    bool seen = false;
  };
  std::vector<Expected> expected;
  for (size_t i = 0; i < eval.expected.size(); ++i) {
    const ExpectedSample& e = eval.expected[i];
    bool replaced = false;
    for (Expected& x : expected) {
      if (x.sample->labels == e.labels) {
        x = Expected{&e, static_cast<int>(i) + 1};
        replaced = true;
      }
    }
    if (!replaced) expected.push_back(Expected{&e, static_cast<int>(i) + 1});
  }
  if (eval.expected_scalar) {
    if (!vec.empty()) return "unexpected metric " + LabelsString(vec[0].labels) + " in result";
    return "expected scalar " + FormatNumber(*eval.expected_scalar) + " but got an empty vector";
  }
  for (size_t pos = 0; pos < vec.size(); ++pos) {
    const VectorSample& s = vec[pos];
    Expected* match = nullptr;
    for (Expected& x : expected) {
      if (x.sample->labels == s.labels) match = &x;
    }
    if (match == nullptr) return "unexpected metric " + LabelsString(s.labels) + " in result";
    if (eval.ordered && match->pos != static_cast<int>(pos) + 1) {
      return "expected metric " + LabelsString(s.labels) + " with " +
             FormatNumber(match->sample->value) + " at position " + std::to_string(match->pos) +
             " but was at " + std::to_string(pos + 1);
    }
    if (!AlmostEqual(match->sample->value, s.v)) {
      return "expected " + FormatNumber(match->sample->value) + " for " + LabelsString(s.labels) +
             " but got " + FormatNumber(s.v);
    }
    match->seen = true;
  }
  for (const Expected& x : expected) {
    if (!x.seen) {
      return "expected metric " + LabelsString(x.sample->labels) + " with " +
             FormatNumber(x.sample->value) + " not found";
    }
  }
  return std::nullopt;
}

// Runs one query of an eval (instant, then range mode). Returns a failure
// message or nothing.
std::optional<std::string> RunQuery(const Engine& engine, const MemoryStorage& storage,
                                    const EvalCommand& eval, const Query& q,
                                    const TestRunOptions& options) {
  QueryResult res = engine.InstantQuery(storage, *q.tree, q.t_ms);
  if (!res) {
    if (eval.fail) return std::nullopt;
    return "error evaluating query " + Describe(q) + ": " + res.error().message;
  }
  if (eval.fail) return "expected error evaluating query " + Describe(q) + " but got none";
  if (auto err = Compare(eval, *res)) return "query " + Describe(q) + ": " + *err;
  if (!options.check_range_mode) return std::nullopt;

  // The same query as a range query; its middle step must agree.
  QueryResult range = engine.RangeQuery(storage, *q.tree, q.t_ms - 60'000, q.t_ms + 60'000, 60'000);
  if (!range) {
    return "error evaluating query " + Describe(q) + " in range mode: " + range.error().message;
  }
  if (eval.ordered) return std::nullopt;  // range results have no order
  Vector at_t;
  for (const Series& s : std::get<Matrix>(*range)) {
    for (const Sample& p : s.samples) {
      if (p.t_ms == q.t_ms) {
        at_t.push_back(VectorSample{s.labels, p.t_ms, p.v});
        break;
      }
    }
  }
  std::optional<std::string> err;
  if (std::holds_alternative<Scalar>(*res)) {
    if (at_t.empty()) {
      err = "no scalar value at the evaluation time";
    } else {
      err = Compare(eval, Value(Scalar{q.t_ms, at_t[0].v}));
    }
  } else {
    err = Compare(eval, Value(std::move(at_t)));
  }
  if (err) return "query " + Describe(q) + " in range mode: " + *err;
  return std::nullopt;
}

// Loads one block. Returns the failures (line and message).
std::vector<TestCaseReport> Load(const LoadCommand& load, MemoryStorage* storage) {
  std::vector<TestCaseReport> failures;
  // Within a block, a later line for the same series replaces an earlier one.
  std::vector<const SeriesLine*> lines;
  for (const SeriesLine& s : load.series) {
    bool replaced = false;
    for (const SeriesLine*& l : lines) {
      if (l->labels == s.labels) {
        l = &s;
        replaced = true;
      }
    }
    if (!replaced) lines.push_back(&s);
  }
  for (const SeriesLine* s : lines) {
    for (size_t i = 0; i < s->values.size(); ++i) {
      const SequenceValue& v = s->values[i];
      if (v.omitted) continue;
      const int64_t t = static_cast<int64_t>(i) * load.interval_ms;
      auto st = storage->Append(s->labels, t, v.stale ? StaleNaN() : v.value);
      if (!st) {
        failures.push_back(TestCaseReport{s->line, false,
                                          "load: " + LabelsString(s->labels) + " at " +
                                              std::to_string(t) + "ms: " + st.error().message});
        break;
      }
    }
  }
  return failures;
}

}  // namespace

core::Result<std::vector<std::pair<std::string, int64_t>>> AtModifierVariants(std::string_view expr,
                                                                              int64_t t_ms) {
  auto tree = ParseExpr(expr);
  if (!tree) return core::Unexpected(tree.error());
  bool unsafe = false;
  AddAtModifier(**tree, t_ms, false, &unsafe);
  std::vector<std::pair<std::string, int64_t>> out;
  if (unsafe) return out;
  const std::string text = Format(**tree);
  const std::vector<int64_t> times =
      t_ms == 0 ? std::vector<int64_t>{-1000, 0, 1000}
                : std::vector<int64_t>{-10 * t_ms, 0, t_ms / 5, t_ms, 10 * t_ms};
  for (int64_t t : times) out.emplace_back(text, t);
  return out;
}

EngineOptions TestEngineOptions() {
  EngineOptions o;
  o.lookback_ms = 300'000;
  o.max_samples = 10'000;
  o.timeout = std::chrono::seconds(100);
  o.default_subquery_step_ms = 60'000;
  return o;
}

bool AlmostEqual(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  constexpr double kEpsilon = 0.000001;
  const double min_normal = std::numeric_limits<double>::min();  // 0x0010000000000000
  const double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || diff < min_normal) return diff < kEpsilon * min_normal;
  return diff / (std::fabs(a) + std::fabs(b)) < kEpsilon;
}

core::Result<SkipList> ParseSkipList(std::string_view content) {
  SkipList list;
  std::string errors;
  int line_no = 0;
  size_t start = 0;
  while (start <= content.size()) {
    size_t nl = content.find('\n', start);
    if (nl == std::string_view::npos) nl = content.size();
    const std::string_view line = Trim(content.substr(start, nl - start));
    start = nl + 1;
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    const size_t space = line.find_first_of(" \t");
    const std::string_view where = line.substr(0, space);
    const std::string_view reason =
        space == std::string_view::npos ? std::string_view() : Trim(line.substr(space));
    const size_t colon = where.rfind(':');
    int eval_line = 0;
    bool ok = colon != std::string_view::npos && colon > 0 && colon + 1 < where.size();
    if (ok) {
      for (char c : where.substr(colon + 1)) {
        if (c < '0' || c > '9' || eval_line > 10'000'000) {
          ok = false;
          break;
        }
        eval_line = eval_line * 10 + (c - '0');
      }
    }
    if (!ok || reason.empty()) {
      if (!errors.empty()) errors += "\n";
      errors += "line " + std::to_string(line_no) + ": expected `file:line reason`";
      continue;
    }
    list.entries[{std::string(where.substr(0, colon)), eval_line}] = std::string(reason);
  }
  if (!errors.empty()) return core::Fail(core::ErrorCode::kInvalidRequest, std::move(errors));
  return list;
}

TestFileResult RunTestFile(std::string_view file_name, std::string_view content,
                           const SkipList& skips, const TestRunOptions& options) {
  TestFileResult result;
  auto parsed = ParseTestFile(content);
  if (!parsed) {
    result.failed = 1;
    result.reports.push_back(TestCaseReport{0, false, parsed.error().message});
    return result;
  }
  // This file's skips; each must name an eval line.
  std::map<int, std::string> file_skips;
  for (const auto& [key, reason] : skips.entries) {
    if (key.first == file_name) file_skips[key.second] = reason;
  }
  std::map<int, bool> skip_used;
  const Engine engine(options.engine);
  MemoryStorage storage;
  for (const TestCommand& cmd : parsed->commands) {
    if (std::holds_alternative<ClearCommand>(cmd)) {
      storage.Clear();
      continue;
    }
    if (const auto* load = std::get_if<LoadCommand>(&cmd)) {
      for (TestCaseReport& f : Load(*load, &storage)) {
        ++result.failed;
        result.reports.push_back(std::move(f));
      }
      continue;
    }
    const EvalCommand& eval = std::get<EvalCommand>(cmd);
    if (auto skip = file_skips.find(eval.line); skip != file_skips.end()) {
      skip_used[eval.line] = true;
      ++result.skipped;
      result.reports.push_back(TestCaseReport{eval.line, true, skip->second});
      continue;
    }
    std::optional<std::string> failure;
    auto queries = Queries(eval, options.check_at_modifier);
    if (!queries) {
      failure = "query " + QuoteString(eval.expr) + ": " + queries.error().message;
    } else {
      for (const Query& q : *queries) {
        failure = RunQuery(engine, storage, eval, q, options);
        if (failure) break;
      }
    }
    if (failure) {
      ++result.failed;
      result.reports.push_back(TestCaseReport{eval.line, false, std::move(*failure)});
    } else {
      ++result.passed;
    }
  }
  for (const auto& [line, reason] : file_skips) {
    if (skip_used.contains(line)) continue;
    ++result.failed;
    result.reports.push_back(
        TestCaseReport{line, false, "SKIPS entry does not name an eval line: " + reason});
  }
  std::stable_sort(
      result.reports.begin(), result.reports.end(),
      [](const TestCaseReport& a, const TestCaseReport& b) { return a.line < b.line; });
  return result;
}

}  // namespace promql

// Runs Prometheus' PromQL test scripts (promql/testdata/*.test, read by
// promql_test_file.h) against tally's engine the way Prometheus 2.42's test
// framework (promql/test.go) does: `load` blocks go into a MemoryStorage (a
// repeated series line replaces the earlier one within a block); each `eval`
// is an instant query at its time, compared with the expected samples (in
// order for eval_ordered, as a set otherwise; values within a relative error
// of 1e-6, NaN equal to NaN, a staleness marker never), then re-run as a range
// query from t-1m to t+1m with a 1m step whose middle step must give the same
// result; and, for expressions without time-dependent functions, re-run with
// `@ t` added to every selector and subquery outside subqueries at the
// evaluation times -10t, 0, t/5, t and 10t (-1s, 0, 1s when t = 0). eval_fail
// passes when every one of those instant queries fails.
//
// Pure functions over the file contents; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aggregator/promql_engine.h"
#include "core/status.h"

namespace promql {

// Out-of-scope cases: file name (as written in the SKIPS file, usually the
// base name) and the `eval` line, with the reason.
struct SkipList {
  std::map<std::pair<std::string, int>, std::string> entries;
};

// Reads a SKIPS file: one `file:line reason` per line; blank lines and lines
// starting with `#` are ignored. Errors name the line.
core::Result<SkipList> ParseSkipList(std::string_view content);

struct TestCaseReport {
  int line = 0;          // the `eval` (or failing `load`) line
  bool skipped = false;  // false: a failure
  std::string message;   // why it failed, or the skip reason
};

struct TestFileResult {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  std::vector<TestCaseReport> reports;  // every failure and skip, in file order
};

// The engine settings of Prometheus' test framework: 5m lookback, at most
// 10000 samples, a 100s timeout, 1m resolution for subqueries without a step.
EngineOptions TestEngineOptions();

struct TestRunOptions {
  EngineOptions engine = TestEngineOptions();
  bool check_range_mode = true;   // also evaluate as a range query
  bool check_at_modifier = true;  // also evaluate the `@` variants
};

// Runs one file. `file_name` selects this file's SkipList entries. A file that
// does not parse counts as one failure (line 0, with every parse error).
TestFileResult RunTestFile(std::string_view file_name, std::string_view content,
                           const SkipList& skips, const TestRunOptions& options);

// Prometheus' atModifierTestCases: `expr` printed with `@ t_ms` added to every
// selector and subquery that has none and is not inside a subquery, paired
// with the evaluation times to run it at. Empty when the expression calls a
// function whose result depends on the evaluation time itself (time(),
// timestamp(), predict_linear(), the date functions) outside subqueries.
core::Result<std::vector<std::pair<std::string, int64_t>>> AtModifierVariants(std::string_view expr,
                                                                              int64_t t_ms);

// Prometheus' test comparison: NaN equals NaN; otherwise equal, or within a
// relative error of 1e-6 (absolute near zero).
bool AlmostEqual(double a, double b);

}  // namespace promql

// Runs promtool's rule unit-test files (`promtool test rules`, Prometheus 2.42
// cmd/promtool/unittest.go) against tally's rule evaluation:
//
//  * each `tests:` entry loads its input_series (expanding notation, one value
//    per `interval`, starting at 0) into a fresh MemoryStorage, lazily: the
//    samples up to t are present when the rules are evaluated at t;
//  * the rule_files (relative to the test file, globs allowed) are loaded;
//    groups run in `group_eval_order` (the others keep file order) at 0,
//    evaluation_interval (default 1m), ... up to the largest eval_time, writing
//    recorded series and ALERTS back into the storage;
//  * alert_rule_test compares the firing alerts of the named rule at the
//    evaluation at or just before eval_time (labels + annotations, as sets);
//  * promql_expr_test runs an instant query at eval_time afterwards and compares
//    label sets and values exactly (as sets, like promtool's sort + DeepEqual).
//
// Messages and their order are promtool's, so that the two tools print the same
// failures for the same file. Pure apart from reading the files; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rules {

struct RuleUnitTestResult {
  std::vector<std::string> warnings;  // "  WARNING: no file match pattern X"
  std::vector<std::string> errors;    // empty: the file passed
  int groups_run = 0;                 // test groups evaluated
  int checks = 0;                     // alert and expression checks made
};

// Runs one unit-test file.
RuleUnitTestResult RunRuleUnitTestFile(const std::string& path);

// Go's strconv.FormatFloat(v, 'E', -1, 64): "1E+01", "3.5E-07", "+Inf", "NaN".
std::string FormatFloatE(double v);
// Go's time.Duration.String() for milliseconds: "0s", "1m0s", "1h0m0s", "1.5s", "500ms".
std::string GoDurationString(int64_t ms);

}  // namespace rules

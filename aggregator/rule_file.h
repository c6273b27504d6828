// The two YAML formats of rules, read into plain structs:
//
//  * Prometheus rule files (`groups:` of `name`, `interval`, `limit`, `rules:`
//    of `record`|`alert`, `expr`, `for`, `keep_firing_for`, `labels`,
//    `annotations`), validated like Prometheus 2.42's rulefmt (what
//    `promtool check rules` reports), except that every error carries a line
//    and column and all errors are returned at once;
//  * promtool's rule unit-test files (`rule_files`, `evaluation_interval`,
//    `group_eval_order`, `tests:` with `input_series`, `promql_expr_test`,
//    `alert_rule_test`, `external_labels`), decoded strictly like promtool
//    (unknown fields are errors).
//
// This is the only file of aggregator/ that includes yaml-cpp. Pure functions
// (plus file reads in the Load* variants); thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/promql_ast.h"
#include "core/labels.h"
#include "core/status.h"

namespace rules {

struct RuleSpec {
  enum class Kind { kRecord, kAlert };
  Kind kind = Kind::kRecord;
  std::string name;  // the `record` metric name or the `alert` name
  std::string expr_text;
  std::shared_ptr<const promql::Expr> expr;  // parsed; never null in a loaded file
  int64_t for_ms = 0;                        // alerts: pending this long before firing
  int64_t keep_firing_for_ms = 0;            // alerts: keep firing this long after resolving
  core::Labels labels;                       // alert label values are templates
  core::Labels annotations;                  // alerts only; values are templates
  int line = 0;                              // where the rule starts (1-based)
  int column = 0;
};

struct RuleGroupSpec {
  std::string file;
  std::string name;
  int64_t interval_ms = 0;  // 0: the evaluation_interval of the runner
  int limit = 0;            // 0: no limit on series (records) / alerts per rule
  std::vector<RuleSpec> rules;
  int line = 0;
};

struct RuleFileError {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
  std::string message;  // e.g. `group "g", rule 2, "x": invalid recording rule name: x y`
  // "file: line:column: message" (the position left out when unknown).
  std::string ToString() const;
};

struct RuleFileLoad {
  std::vector<RuleGroupSpec> groups;  // complete only when errors is empty
  std::vector<RuleFileError> errors;
  bool ok() const { return errors.empty(); }
  size_t NumRules() const;
};

// Parses and validates the contents of a rule file; `file_name` is used in
// errors and RuleGroupSpec::file.
RuleFileLoad ParseRuleFile(std::string_view file_name, std::string_view content);
// Reads `path` and parses it (an unreadable file is one error).
RuleFileLoad LoadRuleFile(const std::string& path);

// Prometheus' model.IsValidMetricName: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(std::string_view name);

// ---- promtool's unit-test file format ----

struct InputSeriesSpec {
  std::string series;  // `metric{label="value"}`
  std::string values;  // expanding notation: `1+2x3 _ stale`
};

struct ExpSampleSpec {
  std::string labels;  // `metric{label="value"}` or `{label="value"}`
  double value = 0;
};

struct PromqlExprTestSpec {
  std::string expr;
  int64_t eval_time_ms = 0;
  std::vector<ExpSampleSpec> exp_samples;
};

struct ExpAlertSpec {
  std::map<std::string, std::string> exp_labels;
  std::map<std::string, std::string> exp_annotations;
};

struct AlertTestSpec {
  int64_t eval_time_ms = 0;
  std::string alertname;
  std::vector<ExpAlertSpec> exp_alerts;
};

struct TestGroupSpec {
  int64_t interval_ms = 0;  // spacing of input_series values (0 when unset, like promtool)
  std::vector<InputSeriesSpec> input_series;
  std::vector<AlertTestSpec> alert_rule_tests;
  std::vector<PromqlExprTestSpec> promql_expr_tests;
  core::Labels external_labels;
  std::string external_url;
  std::string name;
};

struct RuleTestFileSpec {
  std::vector<std::string> rule_files;  // as written (relative to the test file)
  int64_t evaluation_interval_ms = 0;   // 0 when unset (promtool then uses 1m)
  std::vector<std::string> group_eval_order;
  std::vector<TestGroupSpec> tests;
};

// Decodes a unit-test file. Errors read like promtool's (yaml.v2's
// "yaml: unmarshal errors:\n  line 5: field x not found in type main.testGroup",
// Prometheus' "not a valid duration string: ...").
core::Result<RuleTestFileSpec> ParseRuleTestFile(std::string_view content);

}  // namespace rules

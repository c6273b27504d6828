// `tally check-rules FILE...` and `tally test-rules FILE...`: promtool's
// `check rules` and `test rules` over tally's rule loader and evaluator
// (aggregator/rule_file.h, rule_unit_test.h), with promtool's output layout:
// progress and verdicts on `out`, failures on `err`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace app {

// Prints "Checking FILE" and "  SUCCESS: N rules found" or "  FAILED:" with
// every error as "FILE: LINE:COL: group \"g\", rule N, \"name\": message".
// Returns 0 when every file is valid, 1 otherwise.
int RunCheckRules(const std::vector<std::string>& files, std::ostream& out, std::ostream& err);

// Prints "Unit Testing:  FILE" and "  SUCCESS" or "  FAILED:" with each
// failure (promtool's wording). Returns 0 when every test passed, 1 otherwise.
int RunTestRules(const std::vector<std::string>& files, std::ostream& out, std::ostream& err);

}  // namespace app

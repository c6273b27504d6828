// `tally check-rules FILE...` and `tally test-rules FILE...`: promtool's
// `check rules` and `test rules` over tally's rule loader and evaluator
// (aggregator/rule_file.h, rule_unit_test.h), with promtool's output layout:
// progress and verdicts on `out`, failures on `err`. And `tally
// backfill-rules`, a client of a running server's POST /api/v1/admin/backfill.
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

struct BackfillRulesFlags {
  std::string url = "http://127.0.0.1:9470";  // the running tally serve / aggregator
  std::string key;    // an API key with account:admin (empty: $TALLY_API_KEY, else none)
  std::string start;  // RFC 3339, unix seconds, "-2h" (parsed by the server)
  std::string end;    // default: now
  std::vector<std::string> groups;
  std::vector<std::string> files;  // read here and sent inline
  double timeout_seconds = 0;      // 0: none
};

// Checks the files locally (like check-rules), sends their contents to
// URL/api/v1/admin/backfill and prints what was written per group on `out`.
// Returns 0 on success, 1 when the files are invalid or the server refused
// (its error, with the field, on `err`), 2 when the server could not be reached.
int RunBackfillRules(const BackfillRulesFlags& flags, std::ostream& out, std::ostream& err);

}  // namespace app

// `tally promql-test [--verbose] FILE...`: runs Prometheus' PromQL test files
// (promql/testdata/*.test) against tally's engine (aggregator/promql_test_runner.h).
//
// Prints `<file>: N passed, N failed, N skipped` per file and, with verbose,
// every failure and skip as `  line N: FAILED|skipped: reason`. Out-of-scope
// cases are listed in a file named SKIPS next to the test files (one
// `file:line reason` per line), which the runner honours and reports as
// skipped.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace app {

// Returns the process exit code: 0 when nothing failed, 1 otherwise (including
// an unreadable file or SKIPS file).
int RunPromqlTest(const std::vector<std::string>& files, bool verbose, std::ostream& out);

}  // namespace app

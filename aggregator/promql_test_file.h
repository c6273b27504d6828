// Reader for Prometheus' PromQL test scripts (promql/testdata/*.test in
// Prometheus 2.42; see /work/shared/conformance/promql/README.md):
//
//   load 5m
//     http_requests{job="api", instance="0"} 0+10x10 _ stale 1 2
//   clear
//   eval instant at 50m sum by (job) (http_requests)
//     {job="api"} 100
//   eval_ordered instant at 50m topk(1, x)   / eval_fail instant at 0m ...
//
// It only reads: it produces plain structs and leaves evaluation (and parsing
// the PromQL text of `eval` commands) to the caller. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/labels.h"
#include "core/status.h"

namespace promql {

// One step of a series in `load`: a value, nothing (`_`), or a staleness marker.
struct SequenceValue {
  double value = 0;      // Prometheus' StaleNaN bit pattern when `stale`
  bool omitted = false;  // `_`: no sample at this step
  bool stale = false;    // `stale`: a staleness marker
};

// A series line: labels (with __name__ when a metric name is written) and one
// value per step, starting at time 0.
struct SeriesLine {
  core::Labels labels;
  std::vector<SequenceValue> values;
  int line = 0;  // 1-based line number in the file
};

struct LoadCommand {
  int64_t interval_ms = 0;  // spacing of the samples
  std::vector<SeriesLine> series;
  int line = 0;
};

struct ClearCommand {
  int line = 0;
};

// An expected sample of an instant query result.
struct ExpectedSample {
  core::Labels labels;  // includes __name__ when the line names a metric
  double value = 0;
  int line = 0;
};

struct EvalCommand {
  std::string expr;                       // the PromQL text, not parsed here
  int line = 0;                           // where the `eval` line is
  int expr_column = 0;                    // 1-based byte column of expr on that line
  int64_t at_ms = 0;                      // evaluation time (offset from time 0)
  bool fail = false;                      // eval_fail: the query must fail
  bool ordered = false;                   // eval_ordered: the result order matters
  std::optional<double> expected_scalar;  // set when the result is a bare number
  std::vector<ExpectedSample> expected;   // in file order
};

using TestCommand = std::variant<LoadCommand, ClearCommand, EvalCommand>;

struct TestFile {
  std::vector<TestCommand> commands;
};

// Sequence values a file (or one series line) may expand to, so that `1x1e9`
// fails instead of exhausting memory.
inline constexpr size_t kMaxTestFileValues = 2'000'000;

// Parses a whole file. Errors name the line ("line 12: ..."); every bad line is
// reported, one per line of the error message.
core::Result<TestFile> ParseTestFile(std::string_view content);

// Parses one series description, `metric{l="v"} 1 2+3x4 _x2 stale` (exposed for tests).
core::Result<SeriesLine> ParseSeriesLine(std::string_view text);

// Prometheus' StaleNaN: the NaN bit pattern marking a stale series.
double StaleNaN();
bool IsStaleNaN(double v);

}  // namespace promql

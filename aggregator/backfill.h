// Backfill: evaluates rule groups at every step of a past time range against
// samples already stored, and writes what the live evaluator would have
// written then (recorded series; ALERTS / ALERTS_FOR_STATE history for
// alerting rules, without notifications). `tally backfill-rules` and
// POST /api/v1/admin/backfill (docs/rules.md) run it.
//
// The evaluation is RuleGroup::Eval itself, driven by a loop instead of the
// ticker: each group steps over the multiples of its interval in [start, end]
// (the live evaluator's alignment); at each time the due groups run in the
// order given (file order), so a group reading another group's output sees
// that output of the same time. Output is buffered and handed to the
// BackfillWriter in batches; before a query that could read buffered series
// (a matcher set matching one of them) the buffer is written first, so later
// rules see earlier rules' samples exactly as in a live evaluation.
//
// Before anything is written, RunBackfill refuses a range where any output
// metric of the selected rules (a record name; ALERTS{alertname=...},
// ALERTS_FOR_STATE{alertname=...}) already has samples: the store keeps
// samples sharing a timestamp side by side, so writing over live (or an
// earlier backfill's) output would duplicate or interleave series.
//
// Pure over its arguments: no clock, no threads. Thread-safety: one call at a
// time per writer; the querier must be thread-safe (promql::Querier is).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aggregator/promql_storage.h"
#include "aggregator/rule_file.h"
#include "aggregator/rule_group.h"
#include "core/labels.h"
#include "core/status.h"

namespace rules {

struct BackfillPoint {
  core::Labels labels;  // with __name__
  int64_t t_ms = 0;
  double v = 0;
};

// What a write stored: the points rejected by the store (per point) and why.
struct BackfillWriteResult {
  std::vector<size_t> rejected;  // indexes into the points written, ascending
  std::string first_error;       // of the first rejected point
};

// Where backfilled output goes, in batches (the server: one WAL record per
// batch through the ingest path). After Write returns, what was accepted must
// be visible to the querier. An error fails the whole batch and stops the run.
class BackfillWriter {
 public:
  virtual ~BackfillWriter() = default;
  virtual core::Result<BackfillWriteResult> Write(std::span<const BackfillPoint> points) = 0;
};

// A BackfillWriter over a MemoryStorage (tests).
class MemoryStorageBackfillWriter final : public BackfillWriter {
 public:
  explicit MemoryStorageBackfillWriter(promql::MemoryStorage& storage) : storage_(storage) {}
  core::Result<BackfillWriteResult> Write(std::span<const BackfillPoint> points) override;

 private:
  promql::MemoryStorage& storage_;
};

struct BackfillOptions {
  int64_t start_ms = 0;
  int64_t end_ms = 0;                      // inclusive
  int64_t default_interval_ms = 60'000;    // for groups without `interval`
  std::vector<std::string> group_names;    // empty: every group
  // Upper bound on steps x rules over all groups (work and output size).
  int64_t max_evaluations = 1'000'000;
  size_t batch_points = 20'000;            // points per BackfillWriter::Write
  RuleGroupOptions group_options;          // the notifier is ignored (none)
};

struct BackfillGroupReport {
  std::string file;
  std::string name;
  int64_t interval_ms = 0;
  int64_t first_step_ms = 0;  // 0 when steps == 0
  int64_t last_step_ms = 0;
  int64_t steps = 0;
  size_t rules = 0;
  int64_t samples_written = 0;   // accepted by the writer
  int64_t samples_rejected = 0;  // refused by the writer per point
  int64_t rule_failures = 0;     // rule evaluations that failed (summed over steps)
  std::string first_error;       // of the first failed rule evaluation or rejection
};

struct BackfillReport {
  int64_t steps = 0;  // distinct evaluation times
  int64_t evaluations = 0;  // steps x rules, summed over the groups
  int64_t samples_written = 0;
  int64_t samples_rejected = 0;
  int64_t writes = 0;  // BackfillWriter::Write calls
  std::vector<BackfillGroupReport> groups;
};

// Rule groups given as a file to read or inline YAML; `param` names it in
// errors ("files[0]", "rules[1]").
struct RuleSource {
  std::string param;
  std::string name;  // the file path, or a name for inline YAML ("" -> param)
  std::string yaml;  // inline content; empty: read the file `name`
};

// Loads every source. The error (kInvalidRequest, param of the first failing
// source) lists every problem of every source, one per line, as
// "file: line:column: message".
core::Result<std::vector<RuleGroupSpec>> LoadRuleSources(std::span<const RuleSource> sources);

// The first multiple of `interval_ms` at or after `t_ms` (floor for negatives).
int64_t AlignUp(int64_t t_ms, int64_t interval_ms);

// Validates `options` against `groups` and counts the work, without
// evaluating. Errors (param in core::Error::param): "start"/"end" (end before
// start), "group" (a name matching no group; every unknown name listed),
// "rules" (no groups), "end" with kPayloadTooLarge when steps x rules exceed
// max_evaluations. The report holds the groups selected, with their steps.
core::Result<BackfillReport> PlanBackfill(std::span<const RuleGroupSpec> groups,
                                          const BackfillOptions& options);

// Plans, checks the range against existing output (kConflict, param "end",
// naming the series and the first stored timestamp), then evaluates and
// writes. A writer error stops the run (what was written stays; the error
// says how far it got).
core::Result<BackfillReport> RunBackfill(std::span<const RuleGroupSpec> groups,
                                         const BackfillOptions& options,
                                         const promql::Querier& querier, BackfillWriter& writer);

}  // namespace rules

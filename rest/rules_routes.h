// The aggregator's read API and reload, in Prometheus 2.42's shapes:
//   GET /api/v1/rules    groups of recording and alerting rules with health
//   GET /api/v1/alerts   active (pending and firing) alerts
//   GET /api/v1/targets  scrape targets with health and last error
// (scope metrics:read; a key sees the rule groups and targets of its own
// project only: rules.project and each scrape config's `project`), and
//   POST /-/reload       re-read the config file (scope account:admin): 200,
//                        or 400 with the errors while the old config keeps running.
//   POST /api/v1/admin/backfill
//                        evaluate rule files over a past range of stored samples
//                        and write their output through the WAL (scope
//                        account:admin; BackfillService; docs/rules.md).
//
// The routes read plain status values (copies made by the aggregator runtime
// after each evaluation/scrape) through AggregatorStatusSource, so rest/ does
// not depend on the runtime. Thread-safe when the source is.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "aggregator/backfill.h"
#include "core/clock.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/status.h"
#include "exporter/ingest_service.h"
#include "rest/router.h"
#include "store/series_store.h"

namespace rest {

struct AlertStatus {
  core::Labels labels;
  core::Labels annotations;
  std::string state;  // "pending" or "firing"
  int64_t active_at_ms = 0;
  double value = 0;
};

struct RuleStatus {
  bool alerting = false;
  std::string name;
  std::string query;  // the printed expression
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  core::Labels labels;
  core::Labels annotations;
  std::vector<AlertStatus> alerts;  // alerting rules: pending and firing ones
  std::string health = "unknown";   // "ok", "err", "unknown" (not evaluated yet)
  std::string last_error;
  double evaluation_seconds = 0;
  int64_t last_eval_ms = 0;  // 0: never
};

struct RuleGroupStatus {
  std::string project;  // where the group reads and writes
  std::string name;
  std::string file;
  int64_t interval_ms = 0;
  int limit = 0;
  std::vector<RuleStatus> rules;
  double evaluation_seconds = 0;
  int64_t last_eval_ms = 0;
};

struct TargetStatus {
  std::string project;
  std::string job;
  core::Labels labels;  // target labels (job, instance, static labels)
  std::string scrape_url;
  std::string health = "unknown";  // "up", "down", "unknown" (not scraped yet)
  std::string last_error;
  int64_t last_scrape_ms = 0;
  double last_duration_seconds = 0;
  int64_t interval_ms = 0;
  int64_t timeout_ms = 0;
};

// Implemented by the aggregator runtime. Must be thread-safe.
class AggregatorStatusSource {
 public:
  virtual ~AggregatorStatusSource() = default;
  virtual std::vector<RuleGroupStatus> RuleGroups() const = 0;
  virtual std::vector<TargetStatus> Targets() const = 0;
};

// What POST /api/v1/admin/backfill asks for.
struct BackfillRequest {
  std::vector<rules::RuleSource> sources;  // server-side files and inline YAML
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::vector<std::string> groups;  // empty: every group
};

// Reads a backfill request from a JSON body ({"start", "end", "files": [...],
// "rules": "yaml" | ["yaml" | {"name", "yaml"}, ...], "groups": [...]}) or
// from form/URL parameters (start, end, file, rules, group; repeatable).
// Times: RFC 3339, unix seconds (or ms), "now", or "-2h" before `now_ms`; end
// defaults to now. Errors are kInvalidRequest naming the field.
core::Result<BackfillRequest> ParseBackfillRequest(const core::HttpRequest& req, int64_t now_ms);

struct BackfillServiceOptions {
  exporter::IngestService* ingest = nullptr;  // not owned
  const store::SeriesStore* store = nullptr;  // not owned
  const core::Clock* clock = nullptr;         // not owned
  bool include_project_label = true;          // for the StoreQuerier (as the live rules)
  int64_t default_interval_ms = 60'000;       // global.evaluation_interval
  int64_t retention_ms = 15LL * 86'400'000;   // start must be within it
  int64_t max_evaluations = 1'000'000;        // steps x rules per request
  // Not owned; when set and false (WAL replay, shutdown) backfills fail with
  // kUnavailable, so nothing is written before the WAL is open.
  const std::atomic<bool>* ready = nullptr;
};

// Runs backfills (rules::RunBackfill) against one project's samples in the
// store, writing the output as recorded samples through IngestService::Store
// (WAL first, one record per batch), so the running server stays the only
// writer. One backfill at a time: a second concurrent one fails with
// kConflict. Run() loads the rules and evaluates on its own thread (full-size
// stack: YAML and PromQL recurse) and waits for it. Thread-safe.
class BackfillService {
 public:
  explicit BackfillService(BackfillServiceOptions options) : options_(options) {}
  core::Result<rules::BackfillReport> Run(const std::string& project,
                                          const BackfillRequest& request);

 private:
  core::Result<rules::BackfillReport> RunLocked(const std::string& project,
                                                const BackfillRequest& request);
  const BackfillServiceOptions options_;
  std::mutex mu_;  // held for the duration of one backfill
};

struct RulesRoutesOptions {
  const AggregatorStatusSource* source = nullptr;  // not owned; outlives the router
  // Re-reads and applies the config; an error (kInvalidRequest with every
  // problem in the message) means the old config keeps running. Empty: no
  // /-/reload route.
  std::function<core::Status()> reload;
  // Not owned; nullptr: no /api/v1/admin/backfill route.
  BackfillService* backfill = nullptr;
  const core::Clock* clock = nullptr;  // "now" for backfill times; required with backfill
};

void AddRulesRoutes(Router& router, const RulesRoutesOptions& options);

// Go's strconv.FormatFloat(v, 'e', -1, 64), which Prometheus uses for alert
// values: "1e+00", "1.5e-01", "NaN", "+Inf".
std::string FormatAlertValue(double v);
// Prometheus' model.Duration text: "15s", "1m30s", "500ms", "1h", "0s".
std::string FormatPromDuration(int64_t ms);
// RFC 3339 with the milliseconds Prometheus prints ("2024-01-02T03:04:05.678Z");
// 0 is Go's zero time "0001-01-01T00:00:00Z".
std::string FormatRfc3339Ms(int64_t ms);

}  // namespace rest

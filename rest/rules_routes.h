// The aggregator's read API and reload, in Prometheus 2.42's shapes:
//   GET /api/v1/rules    groups of recording and alerting rules with health
//   GET /api/v1/alerts   active (pending and firing) alerts
//   GET /api/v1/targets  scrape targets with health and last error
// (scope metrics:read; a key sees the rule groups and targets of its own
// project only: rules.project and each scrape config's `project`), and
//   POST /-/reload       re-read the config file (scope account:admin): 200,
//                        or 400 with the errors while the old config keeps running.
//
// The routes read plain status values (copies made by the aggregator runtime
// after each evaluation/scrape) through AggregatorStatusSource, so rest/ does
// not depend on the runtime. Thread-safe when the source is.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/labels.h"
#include "core/status.h"
#include "rest/router.h"

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

struct RulesRoutesOptions {
  const AggregatorStatusSource* source = nullptr;  // not owned; outlives the router
  // Re-reads and applies the config; an error (kInvalidRequest with every
  // problem in the message) means the old config keeps running. Empty: no
  // /-/reload route.
  std::function<core::Status()> reload;
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

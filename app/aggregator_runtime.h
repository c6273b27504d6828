// AggregatorRuntime: runs the aggregator (DESIGN.md section 5, docs/aggregator.md)
// inside `tally serve` / `tally aggregator`:
//
//  * a scrape manager: one scrape::ScrapeTarget per target of the scrape
//    configs, scraped at its jittered NextScrapeMs schedule by a small worker
//    pool (min(4, targets) threads, each with its own libcurl handle); one
//    scrape's samples are stored as MetricType::kScraped into the job's
//    project through IngestService::Store (WAL first, like ingest);
//  * a rule manager: one thread evaluating every rule group on its interval
//    (aligned to multiples of it) against the rules project's StoreQuerier;
//    rule output is stored as MetricType::kRecorded, flushed before the next
//    query of the same evaluation so later rules see earlier rules' samples.
//
// Apply() swaps in a new AggregatorConfig (reload): unchanged targets and
// unchanged rule groups (same file, name and spec) keep their state (pending
// alerts, the last scrape's series); removed targets get staleness markers. A
// changed group (same file, name and project) takes the state of its matching
// rules (rules::RuleGroup::CopyState) and marks the series of removed rules
// stale at its next evaluation; a removed group's series are marked stale two
// of its intervals later (time for a renamed group to write them; those it
// wrote are skipped), like Prometheus. Groups of the first Apply (start-up)
// restore their alerts' `for` state from ALERTS_FOR_STATE after their second
// evaluation (rules::RuleGroup::RestoreForState).
// Status copies for the API are taken under a mutex (rest::AggregatorStatusSource).
//
// Thread-safe: Apply, Stop and the status accessors may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/registry.h>

#include "aggregator/rule_file.h"
#include "aggregator/rule_group.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/status.h"
#include "exporter/ingest_service.h"
#include "rest/rules_routes.h"
#include "store/series_store.h"

namespace app {

// What the aggregator runs, parsed and validated (scrape configs by the config
// loader; rule files loaded here).
struct AggregatorConfig {
  config::GlobalConfig global;
  std::vector<config::ScrapeJobConfig> scrape_configs;
  std::vector<rules::RuleGroupSpec> groups;
  std::string rules_project = "default";
  rules::ForRestoreOptions for_restore;  // rules.for_outage_tolerance, rules.for_grace_period
};

// Expands `config.rule_files` (globs; a pattern matching nothing is fine, like
// Prometheus) and loads every file. The error lists every problem, one per
// line, as "file: line:column: message".
core::Result<AggregatorConfig> LoadAggregatorConfig(const config::Config& config);

struct AggregatorDeps {
  exporter::IngestService* ingest = nullptr;  // not owned
  const store::SeriesStore* store = nullptr;  // not owned
  const core::Clock* clock = nullptr;         // not owned
  prometheus::Registry* registry = nullptr;   // not owned; self-metrics
  bool include_project_label = true;          // for the rules' StoreQuerier
  int64_t retention_ms = 15LL * 86'400'000;   // scraped samples older are dropped
  int64_t max_future_skew_ms = 600'000;       // and further ahead too
};

class AggregatorRuntime final : public rest::AggregatorStatusSource {
 public:
  explicit AggregatorRuntime(AggregatorDeps deps);
  ~AggregatorRuntime() override;
  AggregatorRuntime(const AggregatorRuntime&) = delete;
  AggregatorRuntime& operator=(const AggregatorRuntime&) = delete;

  // Applies `config` (the first call starts the threads).
  void Apply(AggregatorConfig config);
  // Stops the threads (in-flight scrapes and evaluations finish first).
  void Stop();

  std::vector<rest::RuleGroupStatus> RuleGroups() const override;
  std::vector<rest::TargetStatus> Targets() const override;

 private:
  struct Loop;
  struct Group;
  struct Metrics;
  void ScrapeWorker();
  void RuleWorker();
  void ApplyScrape(const AggregatorConfig& config);
  void ApplyRules(const AggregatorConfig& config);
  void EvalGroup(Group& group, int64_t now_ms);
  // Publishes the group's rule health and alerts as its status (status_mu_).
  void UpdateStatus(Group& group, int64_t now_ms, double seconds);
  void WriteDueStaleSeries(int64_t now_ms);  // REQUIRES: rule_mu_ held

  const AggregatorDeps deps_;
  std::unique_ptr<Metrics> metrics_;

  // Scrape loops; a worker takes the due loop with the earliest time.
  mutable std::mutex scrape_mu_;
  std::condition_variable scrape_cv_;
  std::vector<std::shared_ptr<Loop>> loops_;  // guarded by scrape_mu_
  std::vector<std::thread> scrape_threads_;
  size_t wanted_scrape_threads_ = 0;  // guarded by scrape_mu_

  // Rule groups: the rule thread holds rule_mu_ while it evaluates one group.
  mutable std::mutex rule_mu_;
  std::condition_variable rule_cv_;
  std::vector<std::shared_ptr<Group>> groups_;  // guarded by rule_mu_
  // Series of removed groups, marked stale once due.
  struct StaleBatch {
    std::string project;
    std::string group;
    std::vector<core::Labels> series;
    int64_t at_ms = 0;   // the marker's timestamp (when the group was removed)
    int64_t due_ms = 0;  // when to write it
  };
  std::vector<StaleBatch> stale_batches_;  // guarded by rule_mu_
  bool first_rules_apply_ = true;          // guarded by rule_mu_
  rules::ForRestoreOptions for_restore_;   // guarded by rule_mu_
  std::thread rule_thread_;

  mutable std::mutex status_mu_;
  std::vector<std::shared_ptr<Group>> status_groups_;  // guarded by status_mu_; = groups_

  bool stopping_ = false;  // guarded by scrape_mu_ and rule_mu_ (both set it)
  bool started_ = false;
};

}  // namespace app

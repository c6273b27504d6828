#include "app/aggregator_runtime.h"

#include <glob.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include "aggregator/curl_fetcher.h"
#include "aggregator/promql_printer.h"
#include "aggregator/promql_test_file.h"
#include "aggregator/rule_group.h"
#include "aggregator/scrape.h"
#include "exporter/point_decoder.h"
#include "rest/store_querier.h"

namespace app {

core::Result<AggregatorConfig> LoadAggregatorConfig(const config::Config& config) {
  AggregatorConfig out;
  out.global = config.global;
  out.scrape_configs = config.scrape_configs;
  out.rules_project = config.rules.project;
  out.for_restore.outage_tolerance_ms = config.rules.for_outage_tolerance_ms;
  out.for_restore.grace_period_ms = config.rules.for_grace_period_ms;
  std::string errors;
  std::vector<std::string> files;
  for (const std::string& pattern : config.rule_files) {
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
    } else if (rc != GLOB_NOMATCH) {
      errors += "rule_files: cannot expand " + pattern + "\n";
    }
    globfree(&g);
  }
  // In rule_files order (each pattern's matches sorted by glob), once each.
  std::vector<std::string> unique;
  for (std::string& f : files) {
    if (std::find(unique.begin(), unique.end(), f) == unique.end()) unique.push_back(std::move(f));
  }
  files = std::move(unique);
  for (const std::string& file : files) {
    rules::RuleFileLoad load = rules::LoadRuleFile(file);
    for (const rules::RuleFileError& e : load.errors) errors += e.ToString() + "\n";
    for (rules::RuleGroupSpec& g : load.groups) out.groups.push_back(std::move(g));
  }
  if (!errors.empty()) {
    errors.pop_back();
    return core::Fail(core::ErrorCode::kInvalidRequest, errors);
  }
  return out;
}

namespace {

// A fingerprint of everything in a scrape job that changes how a target is scraped.
std::string JobKey(const config::ScrapeJobConfig& j) {
  const scrape::ScrapeConfig& c = j.scrape;
  std::string k = j.project + '\x1f' + c.job_name + '\x1f' + std::to_string(c.scrape_interval_ms) +
                  '\x1f' + std::to_string(c.scrape_timeout_ms) + '\x1f' + c.metrics_path + '\x1f' +
                  c.scheme + '\x1f' + (c.honor_labels ? "1" : "0") +
                  (c.honor_timestamps ? "1" : "0") + '\x1f' + c.bearer_token + '\x1f';
  if (c.basic_auth) k += c.basic_auth->username + '\x1e' + c.basic_auth->password;
  for (const auto& [n, v] : c.params) k += '\x1f' + n + '=' + v;
  for (uint64_t n : {c.sample_limit, c.label_limit, c.label_name_length_limit,
                     c.label_value_length_limit, static_cast<uint64_t>(c.body_size_limit)}) {
    k += '\x1f' + std::to_string(n);
  }
  return k;
}

std::string LabelsKey(const core::Labels& labels) {
  std::string k;
  for (const core::Label& l : labels.items()) k += l.name + '\x1e' + l.value + '\x1f';
  return k;
}

bool SameRule(const rules::RuleSpec& a, const rules::RuleSpec& b) {
  return a.kind == b.kind && a.name == b.name && a.expr_text == b.expr_text &&
         a.for_ms == b.for_ms && a.keep_firing_for_ms == b.keep_firing_for_ms &&
         a.labels == b.labels && a.annotations == b.annotations;
}

bool SameGroup(const rules::RuleGroupSpec& a, const rules::RuleGroupSpec& b) {
  if (a.file != b.file || a.name != b.name || a.interval_ms != b.interval_ms ||
      a.limit != b.limit || a.rules.size() != b.rules.size()) {
    return false;
  }
  for (size_t i = 0; i < a.rules.size(); ++i) {
    if (!SameRule(a.rules[i], b.rules[i])) return false;
  }
  return true;
}

// Owned copies of points, turned into one DecodedBatch and stored through the
// ingest path (reserve, WAL, commit).
class PointBuffer {
 public:
  void Add(const core::Labels& labels, int64_t t_ms, double v) {
    points_.push_back(Point{labels, t_ms, v});
  }
  bool empty() const { return points_.empty(); }
  size_t size() const { return points_.size(); }

  // Stores and clears the buffer. Returns the points rejected (per point) or
  // the error of the whole batch.
  core::Result<size_t> Flush(exporter::IngestService& ingest, const std::string& project,
                             store::MetricType type) {
    exporter::DecodedBatch batch;
    batch.points.reserve(points_.size());
    for (size_t i = 0; i < points_.size(); ++i) {
      const Point& p = points_[i];
      batch.points.push_back(exporter::PointFromLabels(p.labels, p.t_ms, p.v, type, i));
    }
    batch.total = batch.points.size();
    batch.is_batch = true;
    auto outcome = ingest.Store(project, batch);
    points_.clear();
    if (!outcome) return core::Unexpected(outcome.error());
    if (!outcome->errors.empty()) {
      first_error_ = outcome->errors.front().error.message;
    }
    return outcome->errors.size();
  }
  const std::string& first_error() const { return first_error_; }

 private:
  struct Point {
    core::Labels labels;
    int64_t t_ms;
    double v;
  };
  std::vector<Point> points_;
  std::string first_error_;
};

}  // namespace

struct AggregatorRuntime::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : scrapes(prometheus::BuildCounter()
                    .Name("tally_scrapes_total")
                    .Help("Scrapes by job and result (success, failure: up 0, store_error: the "
                          "samples could not be stored)")
                    .Register(r)),
        scraped_samples(prometheus::BuildCounter()
                            .Name("tally_scraped_samples_total")
                            .Help("Samples (and staleness markers) stored by scrapes, by job")
                            .Register(r)),
        dropped_samples(prometheus::BuildCounter()
                            .Name("tally_scraped_samples_dropped_total")
                            .Help("Scraped samples not stored (outside retention or too far in "
                                  "the future, or rejected by the store), by job")
                            .Register(r)),
        rule_evals(prometheus::BuildCounter()
                       .Name("tally_rule_group_evaluations_total")
                       .Help("Rule group evaluations, by group")
                       .Register(r)),
        rule_failures(prometheus::BuildCounter()
                          .Name("tally_rule_evaluation_failures_total")
                          .Help("Rules whose evaluation failed, by group")
                          .Register(r)),
        rule_duration(prometheus::BuildGauge()
                          .Name("tally_rule_group_last_duration_seconds")
                          .Help("How long the last evaluation of the group took, by group")
                          .Register(r)) {}
  prometheus::Family<prometheus::Counter>& scrapes;
  prometheus::Family<prometheus::Counter>& scraped_samples;
  prometheus::Family<prometheus::Counter>& dropped_samples;
  prometheus::Family<prometheus::Counter>& rule_evals;
  prometheus::Family<prometheus::Counter>& rule_failures;
  prometheus::Family<prometheus::Gauge>& rule_duration;
};

// One target's scrape loop. The loop's fields other than the `guarded` ones
// are used only by the worker that has set `busy` (or by Apply when not busy).
struct AggregatorRuntime::Loop final : scrape::ScrapeSink {
  Loop(const config::ScrapeJobConfig& job, scrape::TargetSpec spec, const AggregatorDeps& deps,
       Metrics& metrics)
      : project(job.project),
        key(JobKey(job) + '\x1d' + LabelsKey(spec.labels)),
        deps(deps),
        scrapes_ok(metrics.scrapes.Add({{"job", job.scrape.job_name}, {"result", "success"}})),
        scrapes_failed(metrics.scrapes.Add({{"job", job.scrape.job_name}, {"result", "failure"}})),
        store_failed(metrics.scrapes.Add({{"job", job.scrape.job_name}, {"result", "store_error"}})),
        stored(metrics.scraped_samples.Add({{"job", job.scrape.job_name}})),
        dropped(metrics.dropped_samples.Add({{"job", job.scrape.job_name}})) {
    status.project = job.project;
    status.job = job.scrape.job_name;
    status.labels = spec.labels;
    status.interval_ms = job.scrape.scrape_interval_ms;
    status.timeout_ms = job.scrape.scrape_timeout_ms;
    target = std::make_unique<scrape::ScrapeTarget>(job.scrape, std::move(spec), fetcher, *this,
                                                    *deps.clock);
    status.scrape_url = target->url();
  }

  void Append(const core::Labels& labels, int64_t t_ms, double v) override {
    const int64_t now = deps.clock->NowMs();
    if (t_ms < now - deps.retention_ms || t_ms > now + deps.max_future_skew_ms) {
      ++too_old_or_new;
      return;
    }
    buffer.Add(labels, t_ms, v);
  }
  void Commit() override {
    const size_t n = buffer.size();
    if (too_old_or_new > 0) dropped.Increment(static_cast<double>(too_old_or_new));
    too_old_or_new = 0;
    if (n == 0) return;
    auto rejected = buffer.Flush(*deps.ingest, project, store::MetricType::kScraped);
    if (!rejected) {
      store_error = rejected.error().message;
      dropped.Increment(static_cast<double>(n));
      return;
    }
    stored.Increment(static_cast<double>(n - *rejected));
    if (*rejected > 0) {
      dropped.Increment(static_cast<double>(*rejected));
      store_error = std::to_string(*rejected) + " samples rejected by the store, e.g.: " +
                    buffer.first_error();
    }
  }

  const std::string project;
  const std::string key;
  const AggregatorDeps& deps;
  prometheus::Counter& scrapes_ok;
  prometheus::Counter& scrapes_failed;
  prometheus::Counter& store_failed;
  prometheus::Counter& stored;
  prometheus::Counter& dropped;
  scrape::CurlFetcher fetcher;
  std::unique_ptr<scrape::ScrapeTarget> target;
  PointBuffer buffer;
  uint64_t too_old_or_new = 0;
  std::string store_error;  // of the last commit; cleared before each scrape
  std::string last_store_error;  // of the previous scrape, to log changes only
  bool last_up = true;      // to log up/down transitions once

  // guarded by scrape_mu_
  int64_t next_ms = 0;
  bool busy = false;
  bool removed = false;  // taken out by Apply while busy: mark stale when done
  rest::TargetStatus status;
};

struct AggregatorRuntime::Group {
  Group(rules::RuleGroupSpec spec, int64_t interval, const std::string& project,
        const core::Clock* clock, bool restore)
      : interval_ms(interval),
        project(project),
        group(std::move(spec), Options(clock, restore)) {}
  static rules::RuleGroupOptions Options(const core::Clock* clock, bool restore) {
    rules::RuleGroupOptions o;
    o.clock = clock;
    o.restore_for_state = restore;
    return o;
  }
  const int64_t interval_ms;
  const std::string project;
  rules::RuleGroup group;
  int64_t next_ms = 0;  // guarded by rule_mu_
  int evaluations = 0;  // guarded by rule_mu_
  std::shared_ptr<const rest::RuleGroupStatus> status;  // guarded by status_mu_
};

namespace {

// Rule output, buffered and stored before the next query of the evaluation
// (FlushingQuerier) and at its end.
class RecordedSink final : public rules::RuleSink {
 public:
  RecordedSink(exporter::IngestService& ingest, std::string project, std::string group)
      : ingest_(ingest), project_(std::move(project)), group_(std::move(group)) {}
  core::Status Append(const core::Labels& labels, int64_t t_ms, double v) override {
    buffer_.Add(labels, t_ms, v);
    return {};
  }
  void Flush() {
    if (buffer_.empty()) return;
    const size_t n = buffer_.size();
    auto rejected = buffer_.Flush(ingest_, project_, store::MetricType::kRecorded);
    if (!rejected) {
      spdlog::warn("rules: group {}: {} recorded samples not stored: {}", group_, n,
                   rejected.error().message);
    } else if (*rejected > 0) {
      spdlog::warn("rules: group {}: {} of {} recorded samples rejected by the store, e.g.: {}",
                   group_, *rejected, n, buffer_.first_error());
    }
  }

 private:
  exporter::IngestService& ingest_;
  const std::string project_;
  const std::string group_;
  PointBuffer buffer_;
};

class FlushingQuerier final : public promql::Querier {
 public:
  FlushingQuerier(const promql::Querier& inner, RecordedSink& sink) : inner_(inner), sink_(sink) {}
  core::Result<std::vector<promql::Series>> Select(std::span<const promql::LabelMatcher> m,
                                                   int64_t min_ms, int64_t max_ms,
                                                   int64_t max_samples) const override {
    sink_.Flush();
    return inner_.Select(m, min_ms, max_ms, max_samples);
  }
  core::Result<std::vector<std::string>> LabelNames(std::span<const promql::LabelMatcher> m,
                                                    int64_t min_ms, int64_t max_ms) const override {
    sink_.Flush();
    return inner_.LabelNames(m, min_ms, max_ms);
  }
  core::Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                     std::span<const promql::LabelMatcher> m,
                                                     int64_t min_ms, int64_t max_ms) const override {
    sink_.Flush();
    return inner_.LabelValues(name, m, min_ms, max_ms);
  }

 private:
  const promql::Querier& inner_;
  RecordedSink& sink_;
};

}  // namespace

AggregatorRuntime::AggregatorRuntime(AggregatorDeps deps)
    : deps_(deps), metrics_(std::make_unique<Metrics>(*deps.registry)) {}

AggregatorRuntime::~AggregatorRuntime() { Stop(); }

void AggregatorRuntime::Apply(AggregatorConfig config) {
  ApplyScrape(config);
  ApplyRules(config);
  if (!started_) {
    started_ = true;
    rule_thread_ = std::thread([this] { RuleWorker(); });
  }
}

void AggregatorRuntime::ApplyScrape(const AggregatorConfig& config) {
  std::vector<std::shared_ptr<Loop>> removed;
  size_t targets = 0;
  {
    std::lock_guard lock(scrape_mu_);
    std::vector<std::shared_ptr<Loop>> next;
    std::vector<bool> kept(loops_.size(), false);
    for (const config::ScrapeJobConfig& job : config.scrape_configs) {
      const std::string job_key = JobKey(job);
      for (scrape::TargetSpec& spec : scrape::TargetsOf(job.scrape)) {
        const std::string key = job_key + '\x1d' + LabelsKey(spec.labels);
        bool found = false;
        for (size_t i = 0; i < loops_.size(); ++i) {
          if (!kept[i] && loops_[i]->key == key) {
            kept[i] = true;
            next.push_back(loops_[i]);
            found = true;
            break;
          }
        }
        if (found) continue;
        auto loop = std::make_shared<Loop>(job, std::move(spec), deps_, *metrics_);
        loop->next_ms = loop->target->NextScrapeMs(deps_.clock->NowMs());
        next.push_back(std::move(loop));
      }
    }
    for (size_t i = 0; i < loops_.size(); ++i) {
      if (kept[i]) continue;
      if (loops_[i]->busy) {
        loops_[i]->removed = true;  // the worker marks it stale when done
      } else {
        removed.push_back(loops_[i]);
      }
    }
    loops_ = std::move(next);
    targets = loops_.size();
    wanted_scrape_threads_ = std::min<size_t>(4, targets);
    while (scrape_threads_.size() < wanted_scrape_threads_ && !stopping_) {
      scrape_threads_.emplace_back([this] { ScrapeWorker(); });
    }
  }
  scrape_cv_.notify_all();
  // Not busy and no longer listed: no worker can take them any more.
  for (const auto& loop : removed) {
    loop->target->MarkStale(deps_.clock->NowMs());
    spdlog::info("scrape: target {} removed (staleness markers written)", loop->target->url());
  }
  spdlog::info("scrape: {} jobs, {} targets", config.scrape_configs.size(), targets);
}

void AggregatorRuntime::ApplyRules(const AggregatorConfig& config) {
  std::vector<std::shared_ptr<Group>> next;
  size_t kept_count = 0, copied_count = 0, removed_count = 0;
  {
    std::lock_guard lock(rule_mu_);
    for_restore_ = config.for_restore;
    const bool restore = first_rules_apply_;
    first_rules_apply_ = false;
    const int64_t now = deps_.clock->NowMs();
    std::vector<bool> kept(groups_.size(), false);
    std::vector<int64_t> intervals;
    // Unchanged groups first, so a changed twin cannot take their state.
    std::vector<std::shared_ptr<Group>> same(config.groups.size());
    for (size_t n = 0; n < config.groups.size(); ++n) {
      const rules::RuleGroupSpec& spec = config.groups[n];
      const int64_t interval =
          spec.interval_ms > 0 ? spec.interval_ms : config.global.evaluation_interval_ms;
      intervals.push_back(interval);
      for (size_t i = 0; i < groups_.size(); ++i) {
        if (!kept[i] && groups_[i]->interval_ms == interval &&
            groups_[i]->project == config.rules_project && SameGroup(groups_[i]->group.spec(), spec)) {
          kept[i] = true;
          same[n] = groups_[i];
          ++kept_count;
          break;
        }
      }
    }
    for (size_t n = 0; n < config.groups.size(); ++n) {
      if (same[n]) {
        next.push_back(same[n]);
        continue;
      }
      const rules::RuleGroupSpec& spec = config.groups[n];
      const int64_t interval = intervals[n];
      auto g = std::make_shared<Group>(spec, interval, config.rules_project, deps_.clock, restore);
      g->next_ms = (now / interval + 1) * interval;
      auto status = std::make_shared<rest::RuleGroupStatus>();
      status->project = g->project;
      status->name = spec.name;
      status->file = spec.file;
      status->interval_ms = interval;
      status->limit = spec.limit;
      for (const rules::RuleSpec& r : spec.rules) {
        rest::RuleStatus rs;
        rs.alerting = r.kind == rules::RuleSpec::Kind::kAlert;
        rs.name = r.name;
        rs.query = r.expr ? promql::Format(*r.expr) : r.expr_text;
        rs.for_ms = r.for_ms;
        rs.keep_firing_for_ms = r.keep_firing_for_ms;
        rs.labels = r.labels;
        rs.annotations = r.annotations;
        status->rules.push_back(std::move(rs));
      }
      // A changed group (same file, name and project): rule-by-rule state.
      for (size_t i = 0; i < groups_.size(); ++i) {
        const Group& old = *groups_[i];
        if (kept[i] || old.project != config.rules_project || old.group.spec().file != spec.file ||
            old.group.spec().name != spec.name) {
          continue;
        }
        kept[i] = true;
        g->group.CopyState(groups_[i]->group);
        g->evaluations = old.evaluations;
        std::lock_guard status_lock(status_mu_);
        status->evaluation_seconds = old.status->evaluation_seconds;
        status->last_eval_ms = old.status->last_eval_ms;
        ++copied_count;
        break;
      }
      g->status = std::move(status);
      next.push_back(std::move(g));
    }
    for (size_t i = 0; i < groups_.size(); ++i) {
      if (kept[i]) continue;
      ++removed_count;
      StaleBatch batch;
      batch.project = groups_[i]->project;
      batch.group = groups_[i]->group.spec().name;
      batch.series = groups_[i]->group.WrittenSeries();
      batch.at_ms = now;
      batch.due_ms = now + 2 * groups_[i]->interval_ms;
      if (!batch.series.empty()) stale_batches_.push_back(std::move(batch));
    }
    // Rules copied into a changed group show their health before its next evaluation.
    for (size_t n = 0; n < next.size(); ++n) {
      if (!same[n] && next[n]->evaluations > 0) UpdateStatus(*next[n], 0, -1);
    }
    groups_ = next;
  }
  {
    std::lock_guard lock(status_mu_);
    status_groups_ = std::move(next);
  }
  rule_cv_.notify_all();
  spdlog::info(
      "rules: {} groups ({} unchanged, {} changed with rule state copied, {} removed), project {}",
      config.groups.size(), kept_count, copied_count, removed_count, config.rules_project);
}

void AggregatorRuntime::ScrapeWorker() {
  std::unique_lock lock(scrape_mu_);
  while (!stopping_) {
    std::shared_ptr<Loop> due;
    int64_t earliest = INT64_MAX;
    for (const auto& loop : loops_) {
      if (!loop->busy && loop->next_ms < earliest) {
        earliest = loop->next_ms;
        due = loop;
      }
    }
    const int64_t now = deps_.clock->NowMs();
    if (!due || earliest > now) {
      // Poll the (injectable) clock at least every 100ms.
      const int64_t wait = due ? std::min<int64_t>(earliest - now, 100) : 100;
      scrape_cv_.wait_for(lock, std::chrono::milliseconds(wait));
      continue;
    }
    due->busy = true;
    lock.unlock();
    due->store_error.clear();
    // Samples carry the time the scrape really starts, like Prometheus: when
    // the workers fall behind, a late scrape is not back-dated to its slot.
    const int64_t start_ms = std::max(earliest, deps_.clock->NowMs());
    const scrape::ScrapeResult result = due->target->ScrapeOnce(start_ms);
    const bool store_ok = due->store_error.empty();
    if (!result.up) {
      due->scrapes_failed.Increment();
      if (due->last_up) {
        spdlog::warn("scrape: {} (job {}) is down: {}", due->target->url(), due->status.job,
                     result.error);
      }
    } else {
      due->scrapes_ok.Increment();
      if (!due->last_up) spdlog::info("scrape: {} is up again", due->target->url());
    }
    if (!store_ok) {
      due->store_failed.Increment();
      // Logged when the reason changes, not on every scrape.
      if (due->store_error != due->last_store_error) {
        spdlog::warn("scrape: {}: samples not stored: {}", due->target->url(), due->store_error);
      }
    }
    due->last_store_error = due->store_error;
    due->last_up = result.up;
    lock.lock();
    due->busy = false;
    // Slots missed while late are skipped, not caught up in a burst.
    due->next_ms = due->target->NextScrapeMs(start_ms + 1);
    due->status.health = result.up ? "up" : "down";
    due->status.last_error = result.up ? due->store_error : result.error;
    due->status.last_scrape_ms = start_ms;
    due->status.last_duration_seconds = static_cast<double>(result.duration_ns) / 1e9;
    if (due->removed) {
      lock.unlock();
      due->target->MarkStale(deps_.clock->NowMs());
      lock.lock();
    }
  }
}

void AggregatorRuntime::EvalGroup(Group& g, int64_t now_ms) {
  const std::string& name = g.group.spec().name;
  rest::StoreQuerier store_querier(*deps_.store, g.project, deps_.include_project_label);
  RecordedSink sink(*deps_.ingest, g.project, name);
  FlushingQuerier querier(store_querier, sink);
  const int64_t start_ns = deps_.clock->MonotonicNs();
  const int failed = g.group.Eval(now_ms, querier, sink);
  sink.Flush();
  ++g.evaluations;
  // Like Prometheus: restore after the second evaluation, when recording rules
  // and fresh scrapes have had time to bring the alerts back.
  if (g.evaluations >= 2 && g.group.NeedsRestore()) {
    const int restored = g.group.RestoreForState(now_ms, store_querier, for_restore_);
    if (restored > 0) {
      spdlog::info("rules: group {}: 'for' state of {} alerts restored from ALERTS_FOR_STATE",
                   name, restored);
    }
  }
  const double seconds = static_cast<double>(deps_.clock->MonotonicNs() - start_ns) / 1e9;
  metrics_->rule_evals.Add({{"group", name}}).Increment();
  metrics_->rule_duration.Add({{"group", name}}).Set(seconds);
  if (failed > 0) metrics_->rule_failures.Add({{"group", name}}).Increment(failed);
  UpdateStatus(g, now_ms, seconds);
}

void AggregatorRuntime::UpdateStatus(Group& g, int64_t now_ms, double seconds) {
  const std::string& name = g.group.spec().name;
  std::shared_ptr<const rest::RuleGroupStatus> old;
  {
    std::lock_guard lock(status_mu_);
    old = g.status;
  }
  auto status = std::make_shared<rest::RuleGroupStatus>(*old);
  if (seconds >= 0) {
    status->evaluation_seconds = seconds;
    status->last_eval_ms = now_ms;
  }
  for (size_t i = 0; i < status->rules.size(); ++i) {
    rest::RuleStatus& rs = status->rules[i];
    const rules::RuleHealth& h = g.group.health(i);
    rs.health = !h.evaluated ? "unknown" : h.last_error.empty() ? "ok" : "err";
    if (!h.last_error.empty() && h.last_error != rs.last_error) {
      spdlog::warn("rules: group {} rule {} failed: {}", name, rs.name, h.last_error);
    }
    rs.last_error = h.last_error;
    rs.last_eval_ms = h.last_eval_ms;
    rs.evaluation_seconds = h.eval_seconds;
    rs.alerts.clear();
    if (!rs.alerting) continue;
    for (const rules::Alert& a : g.group.ActiveAlerts(i)) {
      if (a.state == rules::AlertState::kInactive) continue;
      rs.alerts.push_back(rest::AlertStatus{a.labels, a.annotations,
                                            std::string(rules::AlertStateName(a.state)),
                                            a.active_at_ms, a.value});
    }
  }
  std::lock_guard lock(status_mu_);
  g.status = std::move(status);
}

void AggregatorRuntime::WriteDueStaleSeries(int64_t now_ms) {
  for (auto it = stale_batches_.begin(); it != stale_batches_.end();) {
    if (it->due_ms > now_ms) {
      ++it;
      continue;
    }
    // Skip what a current group of the project wrote last (a renamed or moved rule).
    std::vector<core::Labels> written;
    for (const auto& g : groups_) {
      if (g->project != it->project) continue;
      for (core::Labels& l : g->group.WrittenSeries()) written.push_back(std::move(l));
    }
    std::sort(written.begin(), written.end(), [](const core::Labels& a, const core::Labels& b) {
      return promql::CompareLabels(a, b) < 0;
    });
    RecordedSink sink(*deps_.ingest, it->project, it->group);
    size_t n = 0;
    for (const core::Labels& s : it->series) {
      if (std::binary_search(written.begin(), written.end(), s,
                             [](const core::Labels& a, const core::Labels& b) {
                               return promql::CompareLabels(a, b) < 0;
                             })) {
        continue;
      }
      (void)sink.Append(s, it->at_ms, promql::StaleNaN());
      ++n;
    }
    sink.Flush();
    spdlog::info("rules: removed group {}: staleness markers for {} series", it->group, n);
    it = stale_batches_.erase(it);
  }
}

void AggregatorRuntime::RuleWorker() {
  std::unique_lock lock(rule_mu_);
  while (!stopping_) {
    const int64_t now = deps_.clock->NowMs();
    int64_t earliest = INT64_MAX;
    std::shared_ptr<Group> due;
    WriteDueStaleSeries(now);
    for (const auto& g : groups_) {
      if (g->next_ms < earliest) {
        earliest = g->next_ms;
        due = g;
      }
    }
    if (!due || earliest > now) {
      // Poll the (injectable) clock at least every 100ms.
      const int64_t wait = due ? std::min<int64_t>(earliest - now, 100) : 100;
      rule_cv_.wait_for(lock, std::chrono::milliseconds(wait));
      continue;
    }
    // Evaluate at the scheduled time; a group that fell behind skips the
    // missed evaluations (like Prometheus) and keeps its alignment.
    EvalGroup(*due, earliest);
    const int64_t after = deps_.clock->NowMs();
    due->next_ms = earliest + due->interval_ms;
    if (due->next_ms <= after) {
      due->next_ms = (after / due->interval_ms + 1) * due->interval_ms;
    }
  }
}

void AggregatorRuntime::Stop() {
  {
    std::lock_guard a(scrape_mu_);
    std::lock_guard b(rule_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  scrape_cv_.notify_all();
  rule_cv_.notify_all();
  for (std::thread& t : scrape_threads_) {
    if (t.joinable()) t.join();
  }
  if (rule_thread_.joinable()) rule_thread_.join();
}

std::vector<rest::RuleGroupStatus> AggregatorRuntime::RuleGroups() const {
  std::vector<rest::RuleGroupStatus> out;
  std::lock_guard lock(status_mu_);
  for (const auto& g : status_groups_) out.push_back(*g->status);
  return out;
}

std::vector<rest::TargetStatus> AggregatorRuntime::Targets() const {
  std::vector<rest::TargetStatus> out;
  std::lock_guard lock(scrape_mu_);
  for (const auto& loop : loops_) out.push_back(loop->status);
  return out;
}

}  // namespace app

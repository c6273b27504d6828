// bench_rules_eval: evaluation time of the default rule groups (rules/*.yml) over
// ~100k series in a SeriesStore, read through rest::StoreQuerier like the
// aggregator's rule runner does (issue 5).
//
// Usage: bench_rules_eval [--rules-dir DIR] [--evals N] [--scale F] [--per-rule]
//                         [--openmetrics FILE]
//
// Data (project "default", 1 h of samples every 15 s ending at kEnd, each series
// with its own phase; --scale multiplies the tag counts of the big families):
//  * reported timings `api_latency` and `db_query_ms` (kTiming), route (50) x
//    host (20) = 1,000 tag sets each, one observation per series every 15 s.
//    The querier exposes each as 14 `_bucket` + `_sum` + `_count` + the raw
//    observations: 17 series per tag set, 34,000 in all;
//  * the `tally_llm_*` series as a self-scrape stores them (kScraped, labels
//    job, instance, project (3), model/provider (10 pairs), entity_type (3),
//    entity_id (15), success (2) = 2,700 label sets): requests_total,
//    tokens_total x 4 directions, cost_usd_total, latency_ms (14 buckets, sum,
//    count): 22 series per label set, 59,400 in all; running totals;
//  * 1,000 scrape targets' report series (up, scrape_duration_seconds,
//    scrape_samples_scraped, scrape_samples_post_metric_relabeling,
//    scrape_series_added): 5,000 series; 1% of targets down.
// About 98,400 series as the querier sees them, ~16M stored samples.
//
// Each group is evaluated --evals times, a minute apart, ending at kEnd (all
// groups at one time before the next time, in file order, so rules that read
// other groups' output find it); rule output is written back into the store
// (kRecorded, buffered and flushed before the next query, like the runtime's
// RecordedSink/FlushingQuerier, without the WAL). Reported per group: median
// and max wall ms, median thread CPU ms, series written. --per-rule also times
// each rule alone (a one-rule group at kEnd after the group runs).
// --openmetrics FILE writes the same samples as the querier exposes them, as
// OpenMetrics text (for `promtool tsdb create-blocks-from openmetrics`), and exits.
#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "aggregator/rule_file.h"
#include "aggregator/rule_group.h"
#include "rest/store_querier.h"
#include "store/series_store.h"

namespace {

constexpr int64_t kEnd = 1'736'899'200'000;  // 2025-01-15T00:00:00Z
constexpr int64_t kStepMs = 15'000;
constexpr int kSteps = 240;  // 1 h
constexpr const char* kProject = "default";

int64_t NowNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Owned label set; views are built when appending.
struct Series {
  std::string name;
  store::MetricType type;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name
};

class Loader {
 public:
  explicit Loader(store::SeriesStore& store, FILE* om) : store_(store), om_(om) {}

  // Appends one series' samples (timestamps and values).
  void Add(const Series& s, const std::vector<int64_t>& ts, const std::vector<double>& vs) {
    views_.clear();
    for (const auto& [n, v] : s.labels) views_.push_back(store::LabelView{n, v});
    points_.clear();
    for (size_t i = 0; i < ts.size(); ++i) {
      points_.push_back(store::PointView{s.name, s.type, views_, ts[i], vs[i]});
    }
    if (om_ == nullptr) {
      auto r = store_.Append(kProject, points_, kEnd);
      if (!r) {
        std::fprintf(stderr, "append failed: %s\n", r.error().message.c_str());
        std::exit(1);
      }
      for (const auto& o : *r) {
        if (o) {
          std::fprintf(stderr, "point rejected: %s\n", o->message.c_str());
          std::exit(1);
        }
      }
    }
    samples_ += ts.size();
  }
  uint64_t samples() const { return samples_; }

 private:
  store::SeriesStore& store_;
  FILE* om_;
  std::vector<store::LabelView> views_;
  std::vector<store::PointView> points_;
  uint64_t samples_ = 0;
};

std::vector<std::pair<std::string, std::string>> Sorted(
    std::vector<std::pair<std::string, std::string>> l) {
  std::sort(l.begin(), l.end());
  return l;
}

const std::vector<double> kBounds = {1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Writes `name{labels} value ts` lines for the OpenMetrics export.
void Om(FILE* om, const std::string& name,
        const std::vector<std::pair<std::string, std::string>>& labels, const std::vector<int64_t>& ts,
        const std::vector<double>& vs) {
  std::string prefix = name + "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) prefix += ',';
    prefix += labels[i].first + "=\"" + labels[i].second + "\"";
  }
  prefix += "} ";
  for (size_t i = 0; i < ts.size(); ++i) {
    std::fprintf(om, "%s%s %" PRId64 ".%03" PRId64 "\n", prefix.c_str(), Fmt(vs[i]).c_str(),
                 ts[i] / 1000, ts[i] % 1000);
  }
}

struct Counts {
  uint64_t exposed_series = 0;
};

// Fills the store (or writes OpenMetrics, where every family is untyped so
// promtool keeps the series as they are).
Counts Fill(store::SeriesStore& store, FILE* om, double scale) {
  Loader loader(store, om);
  Counts counts;
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(4.0, 1.0);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  auto times = [&](int64_t phase) {
    ts.clear();
    for (int i = 0; i < kSteps; ++i) ts.push_back(kEnd - (kSteps - 1 - i) * kStepMs - phase);
  };

  // Reported timings: raw observations.
  const int routes = std::max(1, static_cast<int>(50 * scale));
  for (const char* metric : {"api_latency", "db_query_ms"}) {
    for (int r = 0; r < routes; ++r) {
      for (int h = 0; h < 20; ++h) {
        Series s{metric, store::MetricType::kTiming,
                 Sorted({{"route", "/v1/r" + std::to_string(r)}, {"host", "h" + std::to_string(h)}})};
        times(static_cast<int64_t>(rng() % 15'000));
        vs.clear();
        for (int i = 0; i < kSteps; ++i) vs.push_back(std::round(latency(rng) * 10) / 10);
        if (om == nullptr) {
          loader.Add(s, ts, vs);
        } else {
          // As the querier exposes it: cumulative buckets, sum, count, raw.
          auto labels = s.labels;
          labels.emplace_back("project", kProject);
          std::sort(labels.begin(), labels.end());
          Om(om, metric, labels, ts, vs);
          std::vector<double> sum(kSteps), count(kSteps);
          double acc = 0;
          for (int i = 0; i < kSteps; ++i) {
            acc += vs[i];
            sum[i] = acc;
            count[i] = i + 1;
          }
          Om(om, std::string(metric) + "_sum", labels, ts, sum);
          Om(om, std::string(metric) + "_count", labels, ts, count);
          for (size_t b = 0; b <= kBounds.size(); ++b) {
            const double bound = b < kBounds.size() ? kBounds[b] : INFINITY;
            std::vector<double> cum(kSteps);
            double c = 0;
            for (int i = 0; i < kSteps; ++i) {
              c += vs[i] <= bound ? 1 : 0;
              cum[i] = c;
            }
            auto bl = labels;
            bl.emplace_back("le", b < kBounds.size() ? Fmt(bound) : "+Inf");
            std::sort(bl.begin(), bl.end());
            Om(om, std::string(metric) + "_bucket", bl, ts, cum);
          }
        }
        counts.exposed_series += 17;
      }
    }
  }

  // tally_llm_* as scraped from tally's own /metrics.
  const char* pairs[10][2] = {{"gpt-4o", "openai"},          {"gpt-4o-mini", "openai"},
                              {"o3-mini", "openai"},         {"claude-sonnet", "anthropic"},
                              {"claude-haiku", "anthropic"}, {"claude-opus", "anthropic"},
                              {"gemini-pro", "google"},      {"gemini-flash", "google"},
                              {"llama-70b", "groq"},         {"mistral-large", "mistral"}};
  const int entity_ids = std::max(1, static_cast<int>(15 * scale));
  auto scraped = [&](const std::string& name, std::vector<std::pair<std::string, std::string>> l,
                     const std::vector<double>& values) {
    // tally's own scrape labels, unless the series names its own target (a
    // label set must not hold a name twice).
    const bool has_target =
        std::any_of(l.begin(), l.end(), [](const auto& kv) { return kv.first == "job"; });
    if (!has_target) {
      l.emplace_back("job", "tally");
      l.emplace_back("instance", "127.0.0.1:9470");
    }
    Series s{name, store::MetricType::kScraped, Sorted(std::move(l))};
    if (om == nullptr) {
      loader.Add(s, ts, values);
    } else {
      Om(om, name, s.labels, ts, values);
    }
    ++counts.exposed_series;
  };
  std::vector<double> a(kSteps), b(kSteps);
  for (int p = 0; p < 3; ++p) {
    for (const auto& mp : pairs) {
      for (const char* et : {"user", "team", "workflow"}) {
        for (int e = 0; e < entity_ids; ++e) {
          for (const char* ok : {"true", "false"}) {
            std::vector<std::pair<std::string, std::string>> base = {
                {"project", "p" + std::to_string(p)}, {"model", mp[0]},          {"provider", mp[1]},
                {"entity_type", et},                  {"entity_id", "e" + std::to_string(e)},
                {"success", ok}};
            times(static_cast<int64_t>(rng() % 15'000));
            const bool failed = std::strcmp(ok, "false") == 0;
            // Requests per step and latencies.
            std::vector<std::vector<double>> lat(kSteps);
            double req = 0;
            for (int i = 0; i < kSteps; ++i) {
              const int n = failed ? static_cast<int>(rng() % 2) : static_cast<int>(rng() % 6);
              for (int k = 0; k < n; ++k) lat[i].push_back(latency(rng) * 4);
              req += n;
              a[i] = req;
            }
            scraped("tally_llm_requests_total", base, a);
            const char* dirs[4] = {"input", "output", "cache_read", "cache_write"};
            for (int d = 0; d < 4; ++d) {
              double tok = 0;
              for (int i = 0; i < kSteps; ++i) {
                tok += static_cast<double>(lat[i].size() * (rng() % 2000) / (d + 1));
                b[i] = tok;
              }
              auto l = base;
              l.emplace_back("direction", dirs[d]);
              scraped("tally_llm_tokens_total", l, b);
            }
            double cost = 0;
            for (int i = 0; i < kSteps; ++i) {
              cost += static_cast<double>(lat[i].size()) * 0.001 * static_cast<double>(rng() % 50);
              b[i] = cost;
            }
            scraped("tally_llm_cost_usd_total", base, b);
            for (size_t bi = 0; bi <= kBounds.size(); ++bi) {
              const double bound = bi < kBounds.size() ? kBounds[bi] : INFINITY;
              double c = 0;
              for (int i = 0; i < kSteps; ++i) {
                for (double x : lat[i]) c += x <= bound ? 1 : 0;
                b[i] = c;
              }
              auto l = base;
              l.emplace_back("le", bi < kBounds.size() ? Fmt(bound) : "+Inf");
              scraped("tally_llm_latency_ms_bucket", l, b);
            }
            double sum = 0;
            for (int i = 0; i < kSteps; ++i) {
              for (double x : lat[i]) sum += x;
              b[i] = sum;
            }
            scraped("tally_llm_latency_ms_sum", base, b);
            scraped("tally_llm_latency_ms_count", base, a);
          }
        }
      }
    }
  }

  // Scrape report series of 1,000 targets.
  for (int t = 0; t < 1000; ++t) {
    std::vector<std::pair<std::string, std::string>> base = {
        {"job", "node"}, {"instance", "10.0." + std::to_string(t / 250) + "." + std::to_string(t % 250) + ":9100"}};
    times(static_cast<int64_t>(rng() % 15'000));
    const bool down = t % 100 == 7;
    for (int i = 0; i < kSteps; ++i) a[i] = down ? 0 : 1;
    scraped("up", base, a);
    for (int i = 0; i < kSteps; ++i) b[i] = 0.002 + static_cast<double>(rng() % 1000) / 1e5;
    scraped("scrape_duration_seconds", base, b);
    for (int i = 0; i < kSteps; ++i) b[i] = down ? 0 : 1000;
    scraped("scrape_samples_scraped", base, b);
    scraped("scrape_samples_post_metric_relabeling", base, b);
    for (int i = 0; i < kSteps; ++i) b[i] = 0;
    scraped("scrape_series_added", base, b);
  }
  std::fprintf(stderr, "loaded %" PRIu64 " samples, %" PRIu64 " series as the querier sees them\n",
               loader.samples(), counts.exposed_series);
  return counts;
}

// Rule output into the store (kRecorded), flushed before each query.
class StoreSink final : public rules::RuleSink {
 public:
  explicit StoreSink(store::SeriesStore& store) : store_(store) {}
  core::Status Append(const core::Labels& labels, int64_t t_ms, double v) override {
    buffer_.push_back(Pending{labels, t_ms, v});
    ++written_;
    return {};
  }
  void Flush() {
    if (buffer_.empty()) return;
    std::vector<std::vector<store::LabelView>> views(buffer_.size());
    std::vector<store::PointView> points;
    points.reserve(buffer_.size());
    for (size_t i = 0; i < buffer_.size(); ++i) {
      std::string_view name;
      for (const core::Label& l : buffer_[i].labels.items()) {
        if (l.name == "__name__") {
          name = l.value;
        } else {
          views[i].push_back(store::LabelView{l.name, l.value});
        }
      }
      points.push_back(store::PointView{name, store::MetricType::kRecorded, views[i],
                                        buffer_[i].t_ms, buffer_[i].v});
    }
    (void)store_.Append(kProject, points, kEnd);
    buffer_.clear();
  }
  uint64_t written() const { return written_; }

 private:
  struct Pending {
    core::Labels labels;
    int64_t t_ms;
    double v;
  };
  store::SeriesStore& store_;
  std::vector<Pending> buffer_;
  uint64_t written_ = 0;
};

class FlushingQuerier final : public promql::Querier {
 public:
  FlushingQuerier(const promql::Querier& inner, StoreSink& sink) : inner_(inner), sink_(sink) {}
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
  StoreSink& sink_;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string rules_dir = "rules";
  std::string om_path;
  int evals = 5;
  double scale = 1;
  bool per_rule = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rules-dir" && i + 1 < argc) {
      rules_dir = argv[++i];
    } else if (a == "--evals" && i + 1 < argc) {
      evals = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--scale" && i + 1 < argc) {
      scale = std::atof(argv[++i]);
    } else if (a == "--per-rule") {
      per_rule = true;
    } else if (a == "--openmetrics" && i + 1 < argc) {
      om_path = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--rules-dir DIR] [--evals N] [--scale F] [--per-rule] "
                   "[--openmetrics FILE]\n",
                   argv[0]);
      return 2;
    }
  }

  store::SeriesStoreOptions options;
  options.max_series_per_metric = 10'000'000;
  options.max_memory_bytes = 64LL << 30;
  store::SeriesStore store(options);

  if (!om_path.empty()) {
    FILE* om = std::fopen(om_path.c_str(), "w");
    if (om == nullptr) {
      std::perror(om_path.c_str());
      return 1;
    }
    Fill(store, om, scale);
    std::fputs("# EOF\n", om);
    std::fclose(om);
    return 0;
  }

  std::vector<rules::RuleGroupSpec> specs;
  for (const char* file : {"alerts.yml", "errors.yml", "latency.yml", "llm_cost.yml", "scrape.yml"}) {
    rules::RuleFileLoad load = rules::LoadRuleFile(rules_dir + "/" + file);
    if (!load.ok()) {
      for (const auto& e : load.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
      return 1;
    }
    for (auto& g : load.groups) specs.push_back(std::move(g));
  }
  // Producers before consumers: alerts last.
  std::stable_partition(specs.begin(), specs.end(),
                        [](const rules::RuleGroupSpec& g) { return g.name != "tally_llm_alerts"; });

  const int64_t load_start = NowNs(CLOCK_MONOTONIC);
  const Counts counts = Fill(store, nullptr, scale);
  std::fprintf(stderr, "fill: %.1f s\n",
               static_cast<double>(NowNs(CLOCK_MONOTONIC) - load_start) / 1e9);

  rest::StoreQuerier store_querier(store, kProject, /*include_project_label=*/true);
  StoreSink sink(store);
  FlushingQuerier querier(store_querier, sink);

  struct GroupRun {
    std::vector<double> wall_ms, cpu_ms;
    uint64_t written = 0;
    int failed = 0;
  };
  std::vector<rules::RuleGroup> groups;
  for (const auto& spec : specs) groups.emplace_back(spec, rules::RuleGroupOptions{});
  std::vector<GroupRun> runs(groups.size());
  for (int e = 0; e < evals; ++e) {
    const int64_t now = kEnd - static_cast<int64_t>(evals - 1 - e) * 60'000;
    for (size_t g = 0; g < groups.size(); ++g) {
      const uint64_t before = sink.written();
      const int64_t w0 = NowNs(CLOCK_MONOTONIC);
      const int64_t c0 = NowNs(CLOCK_THREAD_CPUTIME_ID);
      const int failed = groups[g].Eval(now, querier, sink);
      sink.Flush();
      runs[g].wall_ms.push_back(static_cast<double>(NowNs(CLOCK_MONOTONIC) - w0) / 1e6);
      runs[g].cpu_ms.push_back(static_cast<double>(NowNs(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e6);
      runs[g].written = sink.written() - before;
      runs[g].failed = failed;
      for (size_t r = 0; failed > 0 && r < specs[g].rules.size(); ++r) {
        if (!groups[g].health(r).last_error.empty()) {
          std::fprintf(stderr, "%s/%s: %s\n", specs[g].name.c_str(), specs[g].rules[r].name.c_str(),
                       groups[g].health(r).last_error.c_str());
        }
      }
    }
  }

  std::printf("%" PRIu64 " series (querier view), %d evaluations per group, a minute apart\n\n",
              counts.exposed_series, evals);
  std::printf("| group | interval | rules | median wall ms | max wall ms | median CPU ms | "
              "samples written per eval | failed rules |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  double total = 0, total_cpu = 0;
  int64_t shortest = INT64_MAX;
  for (size_t g = 0; g < groups.size(); ++g) {
    const double wall = Median(runs[g].wall_ms);
    const double cpu = Median(runs[g].cpu_ms);
    total += wall;
    total_cpu += cpu;
    shortest = std::min(shortest, specs[g].interval_ms);
    std::printf("| %s | %" PRId64 " s | %zu | %.1f | %.1f | %.1f | %" PRIu64 " | %d |\n",
                specs[g].name.c_str(), specs[g].interval_ms / 1000, specs[g].rules.size(), wall,
                *std::max_element(runs[g].wall_ms.begin(), runs[g].wall_ms.end()), cpu,
                runs[g].written, runs[g].failed);
  }
  std::printf("| **all groups** | | | **%.1f** | | **%.1f** | | |\n\n", total, total_cpu);
  std::printf("All groups once: %.1f ms wall (%.1f ms CPU) = %.2f%% of the shortest interval (%" PRId64
              " s).\n",
              total, total_cpu, 100.0 * total / static_cast<double>(shortest), shortest / 1000);

  if (per_rule) {
    std::printf("\n| group | rule | wall ms | CPU ms | samples |\n|---|---|---:|---:|---:|\n");
    for (const auto& spec : specs) {
      for (const auto& rule : spec.rules) {
        rules::RuleGroupSpec one = spec;
        one.rules = {rule};
        rules::RuleGroup group(one, rules::RuleGroupOptions{});
        // At a time no group wrote yet (no duplicate samples), after the last evaluation.
        const uint64_t before = sink.written();
        const int64_t w0 = NowNs(CLOCK_MONOTONIC);
        const int64_t c0 = NowNs(CLOCK_THREAD_CPUTIME_ID);
        group.Eval(kEnd + 30'000, querier, sink);
        sink.Flush();
        std::printf("| %s | %s | %.1f | %.1f | %" PRIu64 " |\n", spec.name.c_str(),
                    rule.name.c_str(), static_cast<double>(NowNs(CLOCK_MONOTONIC) - w0) / 1e6,
                    static_cast<double>(NowNs(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e6,
                    sink.written() - before);
      }
    }
  }
  return 0;
}

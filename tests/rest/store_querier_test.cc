#include "rest/store_querier.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "aggregator/promql_value.h"
#include "core/clock.h"
#include "exporter/exposition.h"
#include "store/series_store.h"

namespace rest {
namespace {

using promql::LabelMatcher;
using promql::MatchType;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

store::SeriesStoreOptions Options() {
  store::SeriesStoreOptions o;
  o.bucket_resolver = [](std::string_view) {
    return std::make_shared<const std::vector<double>>(std::vector<double>{10, 100});
  };
  return o;
}

class StoreQuerierTest : public ::testing::Test {
 protected:
  StoreQuerierTest() : store_(Options()) {}

  void Add(const std::string& project, const std::string& name, store::MetricType type,
           std::vector<std::pair<std::string, std::string>> tags, int64_t ts, double v) {
    std::vector<store::LabelView> labels;
    for (const auto& [k, val] : tags) labels.push_back({k, val});
    std::sort(labels.begin(), labels.end(),
              [](const store::LabelView& a, const store::LabelView& b) { return a.name < b.name; });
    const store::PointView p{name, type, labels, ts, v};
    auto r = store_.Append(project, std::span(&p, 1), 1'000'000);
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE((*r)[0].has_value()) << (*r)[0]->message;
  }

  static std::vector<LabelMatcher> Matchers(
      std::vector<std::tuple<MatchType, std::string, std::string>> specs) {
    std::vector<LabelMatcher> out;
    for (auto& [t, n, v] : specs) out.push_back(*LabelMatcher::Make(t, n, v));
    return out;
  }

  std::vector<promql::Series> Select(const StoreQuerier& q, std::vector<LabelMatcher> m,
                                     int64_t min_ms = 0, int64_t max_ms = kMax) {
    auto r = q.Select(m, min_ms, max_ms, kMax);
    EXPECT_TRUE(r.has_value());
    return r ? *r : std::vector<promql::Series>{};
  }

  store::SeriesStore store_;
};

std::vector<std::pair<int64_t, double>> Points(const promql::Series& s) {
  std::vector<std::pair<int64_t, double>> out;
  for (const auto& p : s.samples) out.emplace_back(p.t_ms, p.v);
  return out;
}

TEST_F(StoreQuerierTest, GaugeIsItsRawSamples) {
  Add("acme", "temp", store::MetricType::kGauge, {{"host", "a"}}, 1000, 1);
  Add("acme", "temp", store::MetricType::kGauge, {{"host", "a"}}, 2000, 3);
  const StoreQuerier q(store_, "acme", true);
  auto got = Select(q, Matchers({{MatchType::kEqual, "__name__", "temp"}}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(promql::LabelsString(got[0].labels), R"({__name__="temp", host="a", project="acme"})");
  EXPECT_EQ(Points(got[0]), (std::vector<std::pair<int64_t, double>>{{1000, 1}, {2000, 3}}));
  // The window bounds the samples.
  got = Select(q, Matchers({{MatchType::kEqual, "__name__", "temp"}}), 1500, 2500);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Points(got[0]), (std::vector<std::pair<int64_t, double>>{{2000, 3}}));
  EXPECT_TRUE(Select(q, Matchers({{MatchType::kEqual, "__name__", "temp"}}), 3000, 4000).empty());
}

TEST_F(StoreQuerierTest, CounterIsRunningSumAsTotal) {
  Add("acme", "requests", store::MetricType::kCounter, {}, 1000, 1);
  Add("acme", "requests", store::MetricType::kCounter, {}, 2000, 2);
  Add("acme", "requests", store::MetricType::kCounter, {}, 2000, 4);  // same timestamp: one point
  Add("acme", "requests", store::MetricType::kCounter, {}, 3000, 3);
  Add("acme", "hits_total", store::MetricType::kCounter, {}, 1000, 5);
  const StoreQuerier q(store_, "acme", true);
  EXPECT_TRUE(Select(q, Matchers({{MatchType::kEqual, "__name__", "requests"}})).empty());
  auto got = Select(q, Matchers({{MatchType::kEqual, "__name__", "requests_total"}}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Points(got[0]),
            (std::vector<std::pair<int64_t, double>>{{1000, 1}, {2000, 7}, {3000, 10}}));
  // A window in the middle still carries the total so far.
  got = Select(q, Matchers({{MatchType::kEqual, "__name__", "requests_total"}}), 1500, 2500);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Points(got[0]), (std::vector<std::pair<int64_t, double>>{{2000, 7}}));
  // No double suffix.
  got = Select(q, Matchers({{MatchType::kEqual, "__name__", "hits_total"}}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Points(got[0]), (std::vector<std::pair<int64_t, double>>{{1000, 5}}));
}

TEST_F(StoreQuerierTest, TimingIsHistogramPlusRawObservations) {
  Add("acme", "latency", store::MetricType::kTiming, {{"route", "/x"}}, 1000, 5);
  Add("acme", "latency", store::MetricType::kTiming, {{"route", "/x"}}, 2000, 50);
  Add("acme", "latency", store::MetricType::kTiming, {{"route", "/x"}}, 3000, 500);
  const StoreQuerier q(store_, "acme", true);
  auto got = Select(q, Matchers({{MatchType::kRegexMatch, "__name__", "latency.*"}}));
  std::map<std::string, std::vector<std::pair<int64_t, double>>> by_labels;
  for (const auto& s : got) by_labels[promql::LabelsString(s.labels)] = Points(s);
  using P = std::vector<std::pair<int64_t, double>>;
  const std::string tail = R"(, project="acme", route="/x"})";
  EXPECT_EQ(by_labels.size(), 6u);
  EXPECT_EQ(by_labels[R"({__name__="latency_bucket", le="10")" + tail],
            (P{{1000, 1}, {2000, 1}, {3000, 1}}));
  EXPECT_EQ(by_labels[R"({__name__="latency_bucket", le="100")" + tail],
            (P{{1000, 1}, {2000, 2}, {3000, 2}}));
  EXPECT_EQ(by_labels[R"({__name__="latency_bucket", le="+Inf")" + tail],
            (P{{1000, 1}, {2000, 2}, {3000, 3}}));
  EXPECT_EQ(by_labels[R"({__name__="latency_sum")" + tail], (P{{1000, 5}, {2000, 55}, {3000, 555}}));
  EXPECT_EQ(by_labels[R"({__name__="latency_count")" + tail], (P{{1000, 1}, {2000, 2}, {3000, 3}}));
  EXPECT_EQ(by_labels[R"({__name__="latency")" + tail], (P{{1000, 5}, {2000, 50}, {3000, 500}}));
  // le matchers apply to buckets only.
  got = Select(q, Matchers({{MatchType::kEqual, "__name__", "latency_bucket"},
                            {MatchType::kEqual, "le", "100"}}));
  ASSERT_EQ(got.size(), 1u);
}

// Parses "name{a="x",b="y"} value" lines of /metrics (simple values only).
std::map<std::string, double> ParseExposition(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.starts_with("tally_")) continue;
    const size_t space = line.rfind(' ');
    std::string series = line.substr(0, space);
    const double v = std::stod(line.substr(space + 1));
    // Canonical form: name{sorted labels}.
    const size_t brace = series.find('{');
    std::vector<core::Label> labels;
    labels.push_back({"__name__", series.substr(0, brace)});
    if (brace != std::string::npos) {
      std::string body = series.substr(brace + 1, series.size() - brace - 2);
      std::istringstream parts(body);
      std::string part;
      while (std::getline(parts, part, ',')) {
        const size_t eq = part.find('=');
        labels.push_back({part.substr(0, eq), part.substr(eq + 2, part.size() - eq - 3)});
      }
    }
    out[promql::LabelsString(core::Labels(std::move(labels)))] = v;
  }
  return out;
}

TEST_F(StoreQuerierTest, NewestPointsEqualTheMetricsPage) {
  Add("acme", "temp", store::MetricType::kGauge, {{"host", "a"}}, 1000, 1);
  Add("acme", "temp", store::MetricType::kGauge, {{"host", "a"}}, 2000, 3);
  Add("acme", "requests", store::MetricType::kCounter, {{"project", "mine"}}, 1000, 2);
  Add("acme", "requests", store::MetricType::kCounter, {{"project", "mine"}}, 3000, 2.5);
  Add("acme", "latency", store::MetricType::kTiming, {{"le", "x"}}, 1000, 5);
  Add("acme", "latency", store::MetricType::kTiming, {{"le", "x"}}, 2000, 50);
  Add("acme", "size", store::MetricType::kDistribution, {}, 2500, 1e6);
  for (bool include_project : {true, false}) {
    SCOPED_TRACE(include_project);
    config::ExpositionConfig config;
    config.include_project_label = include_project;
    const core::FakeClock clock(5000);
    const exporter::StoreExposition exposition(store_, config, clock);
    std::string text;
    exposition.RenderText(text);
    const std::map<std::string, double> want = ParseExposition(text);

    const StoreQuerier q(store_, "acme", include_project);
    std::map<std::string, double> got;
    // The raw observations (`latency`, `size` of a histogram) are not on /metrics.
    for (const auto& s : Select(q, Matchers({{MatchType::kRegexMatch, "__name__", ".+"},
                                             {MatchType::kNotEqual, "__name__", "latency"},
                                             {MatchType::kNotEqual, "__name__", "size"}}))) {
      ASSERT_FALSE(s.samples.empty());
      got[promql::LabelsString(s.labels)] = s.samples.back().v;
    }
    EXPECT_EQ(got, want);
  }
}

TEST_F(StoreQuerierTest, OtherProjectsNeverAppear) {
  Add("acme", "temp", store::MetricType::kGauge, {{"host", "a"}}, 1000, 1);
  Add("globex", "temp", store::MetricType::kGauge, {{"host", "b"}}, 1000, 2);
  Add("globex", "secret", store::MetricType::kCounter, {}, 1000, 2);
  const StoreQuerier q(store_, "acme", false);
  auto got = Select(q, {});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(promql::LabelsString(got[0].labels), R"({__name__="temp", host="a"})");
  EXPECT_TRUE(Select(q, Matchers({{MatchType::kEqual, "__name__", "secret_total"}})).empty());
  auto names = q.LabelValues("__name__", {}, 0, kMax);
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, std::vector<std::string>{"temp"});
  auto hosts = q.LabelValues("host", {}, 0, kMax);
  ASSERT_TRUE(hosts.has_value());
  EXPECT_EQ(*hosts, std::vector<std::string>{"a"});
  auto label_names = q.LabelNames({}, 0, kMax);
  ASSERT_TRUE(label_names.has_value());
  EXPECT_EQ(*label_names, (std::vector<std::string>{"__name__", "host"}));
  EXPECT_TRUE(StoreQuerier(store_, "nobody", true).Select({}, 0, kMax, kMax)->empty());
}

TEST_F(StoreQuerierTest, MatchersSelectByNameAndTags) {
  Add("acme", "requests", store::MetricType::kCounter, {{"code", "200"}}, 1000, 1);
  Add("acme", "requests", store::MetricType::kCounter, {{"code", "500"}}, 1000, 1);
  Add("acme", "temp", store::MetricType::kGauge, {{"code", "200"}}, 1000, 1);
  const StoreQuerier q(store_, "acme", true);
  EXPECT_EQ(Select(q, Matchers({{MatchType::kRegexMatch, "__name__", "req.*"}})).size(), 2u);
  EXPECT_EQ(Select(q, Matchers({{MatchType::kRegexMatch, "__name__", "req"}})).size(), 0u);
  EXPECT_EQ(Select(q, Matchers({{MatchType::kEqual, "code", "200"}})).size(), 2u);
  auto got = Select(q, Matchers({{MatchType::kRegexMatch, "__name__", "requests_total|temp"},
                                 {MatchType::kNotEqual, "code", "200"}}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(promql::LabelsString(got[0].labels),
            R"({__name__="requests_total", code="500", project="acme"})");
  EXPECT_EQ(Select(q, Matchers({{MatchType::kEqual, "project", "acme"}})).size(), 3u);
  EXPECT_EQ(Select(q, Matchers({{MatchType::kEqual, "project", "globex"}})).size(), 0u);
}

TEST_F(StoreQuerierTest, StopsCopyingPastMaxSamples) {
  for (int host = 0; host < 20; ++host) {
    for (int t = 1; t <= 10; ++t) {
      Add("acme", "temp", store::MetricType::kGauge, {{"host", std::to_string(host)}}, t * 1000, t);
    }
  }
  const StoreQuerier q(store_, "acme", true);
  auto all = q.Select({}, 0, kMax, kMax);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 20u);
  auto some = q.Select({}, 0, kMax, 25);
  ASSERT_TRUE(some.has_value());
  size_t samples = 0;
  for (const auto& s : *some) samples += s.samples.size();
  EXPECT_GT(samples, 25u);
  EXPECT_LT(samples, 200u);
}

TEST_F(StoreQuerierTest, ScrapedAndRecordedSeriesKeepTheirLabelsAndStaleMarkers) {
  Add("acme", "up", store::MetricType::kScraped, {{"instance", "h:1"}, {"job", "node"}}, 1000, 1);
  Add("acme", "up", store::MetricType::kScraped, {{"instance", "h:1"}, {"job", "node"}}, 2000,
      store::StaleMarker());
  Add("acme", "cost:sum", store::MetricType::kRecorded, {{"project", "other"}}, 1000, 7);
  const StoreQuerier q(store_, "acme", true);
  auto up = Select(q, Matchers({{MatchType::kEqual, "__name__", "up"}}));
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(promql::LabelsString(up[0].labels), R"({__name__="up", instance="h:1", job="node"})");
  ASSERT_EQ(up[0].samples.size(), 2u);
  EXPECT_TRUE(store::IsStaleMarker(up[0].samples[1].v));
  // Their own `project` label is matched, not the querier's.
  EXPECT_EQ(Select(q, Matchers({{MatchType::kEqual, "project", "other"}})).size(), 1u);
  EXPECT_EQ(Select(q, Matchers({{MatchType::kEqual, "project", "acme"}})).size(), 0u);
  EXPECT_EQ(Select(q, Matchers({{MatchType::kEqual, "job", "node"}})).size(), 1u);
}

// The label index must select exactly what filtering every series would:
// random tags (some series lack a tag, a tag named `le` or `project` that gets
// renamed) against random matchers of all four kinds, including ones that
// match the empty value.
TEST_F(StoreQuerierTest, IndexedMatchersSelectLikeAFullScan) {
  std::mt19937 rng(7);
  const std::vector<std::string> values = {"a", "b", "c", "ab", ""};
  for (int i = 0; i < 300; ++i) {
    std::vector<std::pair<std::string, std::string>> tags;
    for (const char* key : {"x", "y", "le", "project"}) {
      const std::string& v = values[rng() % values.size()];
      if (!v.empty() && rng() % 3 != 0) tags.emplace_back(key, v);
    }
    static const std::vector<std::pair<std::string, store::MetricType>> kMetrics = {
        {"lat", store::MetricType::kTiming},
        {"temp", store::MetricType::kGauge},
        {"hits", store::MetricType::kCounter}};
    const auto& [name, type] = kMetrics[rng() % kMetrics.size()];
    Add("acme", name, type, tags, 1000 + i, 5);
  }
  const StoreQuerier q(store_, "acme", true);
  const std::vector<promql::Series> all = Select(q, {});
  ASSERT_GT(all.size(), 300u);
  const std::vector<MatchType> types = {MatchType::kEqual, MatchType::kNotEqual,
                                        MatchType::kRegexMatch, MatchType::kRegexNoMatch};
  const std::vector<std::string> names = {"x", "y", "le", "exported_le", "project",
                                          "exported_project", "__name__"};
  const std::vector<std::string> patterns = {"a", "b", "", "a.*", ".+", "ab|c", "temp",
                                             "lat_bucket", "acme", "10"};
  for (int round = 0; round < 400; ++round) {
    std::vector<std::tuple<MatchType, std::string, std::string>> spec;
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) {
      spec.emplace_back(types[rng() % types.size()], names[rng() % names.size()],
                        patterns[rng() % patterns.size()]);
    }
    const std::vector<LabelMatcher> matchers = Matchers(spec);
    std::string trace;
    for (const auto& m : matchers) trace += m.ToString() + " ";
    SCOPED_TRACE(trace);
    std::vector<std::string> want;
    for (const promql::Series& s : all) {
      bool ok = true;
      for (const LabelMatcher& m : matchers) {
        const std::string* v = s.labels.Get(m.name());
        ok = ok && m.Matches(v == nullptr ? std::string_view() : std::string_view(*v));
      }
      if (ok) want.push_back(promql::LabelsString(s.labels));
    }
    std::vector<std::string> got;
    for (const promql::Series& s : Select(q, matchers)) got.push_back(promql::LabelsString(s.labels));
    ASSERT_EQ(got, want);
    // Label browsing sees the same series without their samples.
    auto values_got = q.LabelValues("x", matchers, 0, kMax);
    ASSERT_TRUE(values_got.has_value());
    std::set<std::string> values_want;
    for (const promql::Series& s : Select(q, matchers)) {
      const std::string* v = s.labels.Get("x");
      if (v != nullptr && !v->empty()) values_want.insert(*v);
    }
    EXPECT_EQ(*values_got, std::vector<std::string>(values_want.begin(), values_want.end()));
  }
}

TEST_F(StoreQuerierTest, LabelBrowsingHonoursTheTimeWindow) {
  Add("acme", "hits", store::MetricType::kCounter, {{"x", "early"}}, 1000, 1);
  Add("acme", "hits", store::MetricType::kCounter, {{"x", "late"}}, 9000, 1);
  const StoreQuerier q(store_, "acme", true);
  auto early = q.LabelValues("x", {}, 0, 5000);
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(*early, std::vector<std::string>{"early"});
  auto late = q.LabelValues("x", {}, 5000, 10000);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(*late, std::vector<std::string>{"late"});
  auto names = q.LabelNames({}, 2000, 3000);
  ASSERT_TRUE(names.has_value());
  EXPECT_TRUE(names->empty());
}

}  // namespace
}  // namespace rest

// Tests of rest/metrics_query.h and the GET /v1/metrics/query route: a table of
// good and bad parameters, an oracle comparing random queries with a brute
// force (sort and interpolate) over the same random samples, and the route's
// auth, tenancy and limits through Router::Handle.
#include "rest/metrics_query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/time_parse.h"
#include "exporter/idempotency.h"
#include "exporter/ingest_service.h"
#include "rest/metrics_routes.h"
#include "store/series_store.h"
#include "tests/rest/rest_test_util.h"

namespace rest {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kNow = 1'736'937'000'000;  // 2025-01-15T10:30:00Z
constexpr int64_t kHour = 3'600'000;

// ---- parsing ---------------------------------------------------------------

TEST(MetricsQueryParseTest, Defaults) {
  auto q = ParseMetricsQuery({{"name", "api.latency"}, {"agg", "p99"}}, kNow);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->name, "api.latency");
  EXPECT_EQ(q->agg.kind, MetricsAgg::Kind::kQuantile);
  EXPECT_DOUBLE_EQ(q->agg.quantile, 0.99);
  EXPECT_EQ(q->until_ms, kNow);
  EXPECT_EQ(q->since_ms, kNow - kHour);
  EXPECT_FALSE(q->window_ms);
  EXPECT_TRUE(q->tags.empty());
  EXPECT_TRUE(q->group_by.empty());
  EXPECT_FALSE(q->project_id);
}

TEST(MetricsQueryParseTest, GoodParameters) {
  struct Case {
    Params params;
    std::function<void(const MetricsQuery&)> check;
  };
  const Params base = {{"name", "api_latency"}, {"agg", "avg"}};
  auto with = [&](Params extra) {
    Params p = base;
    p.insert(p.end(), extra.begin(), extra.end());
    return p;
  };
  const std::vector<Case> cases = {
      {with({{"tags", "route:/v1/chat,env:prod"}}),
       [](const MetricsQuery& q) {
         ASSERT_EQ(q.tags.size(), 2u);
         EXPECT_EQ(q.tags[0], (core::Label{"env", "prod"}));  // sorted by key
         EXPECT_EQ(q.tags[1], (core::Label{"route", "/v1/chat"}));
       }},
      {with({{"tags[url]", "a:b,c"}, {"tags", "env:x:y"}}),
       [](const MetricsQuery& q) {
         ASSERT_EQ(q.tags.size(), 2u);
         EXPECT_EQ(q.tags[0], (core::Label{"env", "x:y"})) << "split at the first colon";
         EXPECT_EQ(q.tags[1], (core::Label{"url", "a:b,c"})) << "bracket form keeps commas";
       }},
      {with({{"window", "1h30m"}}),
       [](const MetricsQuery& q) {
         EXPECT_EQ(q.window_ms, 90 * 60'000);
         EXPECT_EQ(q.window_text, "1h30m");
       }},
      {with({{"window", "1w"}, {"since", "-30d"}}),
       [](const MetricsQuery& q) { EXPECT_EQ(q.window_ms, 7 * 86'400'000LL); }},
      {with({{"since", "2025-01-15T09:00:00Z"}, {"until", "2025-01-15T11:00:00+01:00"}}),
       [](const MetricsQuery& q) {
         EXPECT_EQ(q.since_ms, *core::ParseIso8601Ms("2025-01-15T09:00:00Z"));
         EXPECT_EQ(q.until_ms, *core::ParseIso8601Ms("2025-01-15T10:00:00Z"));
       }},
      {with({{"since", "1736920800"}, {"until", "1736924400000"}}),
       [](const MetricsQuery& q) {
         EXPECT_EQ(q.since_ms, 1'736'920'800'000) << "seconds";
         EXPECT_EQ(q.until_ms, 1'736'924'400'000) << "milliseconds";
       }},
      {with({{"since", "-2h"}, {"until", "now-30m"}}),
       [](const MetricsQuery& q) {
         EXPECT_EQ(q.since_ms, kNow - 2 * kHour);
         EXPECT_EQ(q.until_ms, kNow - kHour / 2);
       }},
      {with({{"since", "2025-01-14"}, {"until", "2025-01-14"}}),
       [](const MetricsQuery& q) {
         EXPECT_EQ(q.since_ms, *core::ParseIso8601Ms("2025-01-14T00:00:00Z"));
         EXPECT_EQ(q.until_ms, *core::ParseIso8601Ms("2025-01-15T00:00:00Z"))
             << "a date as until includes that day";
       }},
      {with({{"until", "now"}, {"since", "now-1d"}}),
       [](const MetricsQuery& q) { EXPECT_EQ(q.until_ms - q.since_ms, 24 * kHour); }},
      {with({{"group_by", "region,host,region"}}),
       [](const MetricsQuery& q) {
         EXPECT_EQ(q.group_by, (std::vector<std::string>{"region", "host"}));
       }},
      {with({{"project_id", "prj_1"}}),
       [](const MetricsQuery& q) { EXPECT_EQ(q.project_id, "prj_1"); }},
      {with({{"tags", ""}, {"group_by", ""}}),
       [](const MetricsQuery& q) {
         EXPECT_TRUE(q.tags.empty());
         EXPECT_TRUE(q.group_by.empty());
       }},
      // 10,000 buckets exactly is allowed: [00:00, 10000 min) aligned.
      {with({{"window", "1m"}, {"since", "0"}, {"until", "600000"}}),
       [](const MetricsQuery& q) { EXPECT_EQ(q.window_ms, 60'000); }},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    auto q = ParseMetricsQuery(cases[i].params, kNow);
    ASSERT_TRUE(q) << q.error().message << " param " << q.error().param;
    cases[i].check(*q);
  }
}

TEST(MetricsQueryParseTest, Aggregations) {
  const std::vector<std::pair<std::string, double>> quantiles = {
      {"p50", 0.5},      {"p90", 0.9},       {"p95", 0.95},    {"p99", 0.99},
      {"p999", 99.9 / 100}, {"p9999", 99.99 / 100}, {"p75", 0.75}, {"p99.9", 99.9 / 100},
      {"p0.1", 0.1 / 100}, {"p1", 0.01},     {"P99", 0.99},    {"p99.99", 99.99 / 100},
      {"p050", 0.5}};
  for (const auto& [text, q] : quantiles) {
    SCOPED_TRACE(text);
    auto agg = ParseMetricsAgg(text);
    ASSERT_TRUE(agg) << agg.error().message;
    EXPECT_EQ(agg->kind, MetricsAgg::Kind::kQuantile);
    EXPECT_EQ(agg->quantile, q);
  }
  const std::vector<std::pair<std::string, MetricsAgg::Kind>> others = {
      {"sum", MetricsAgg::Kind::kSum}, {"avg", MetricsAgg::Kind::kAvg},
      {"count", MetricsAgg::Kind::kCount}, {"min", MetricsAgg::Kind::kMin},
      {"max", MetricsAgg::Kind::kMax}, {"MAX", MetricsAgg::Kind::kMax}};
  for (const auto& [text, kind] : others) {
    SCOPED_TRACE(text);
    auto agg = ParseMetricsAgg(text);
    ASSERT_TRUE(agg) << agg.error().message;
    EXPECT_EQ(agg->kind, kind);
  }
}

TEST(MetricsQueryParseTest, BadParametersNameTheParameter) {
  struct Case {
    Params params;
    std::string param;
    std::string message_part;
  };
  const Params base = {{"name", "api_latency"}, {"agg", "avg"}};
  auto with = [&](Params extra) {
    Params p = base;
    for (auto& [k, v] : extra) {
      auto it = std::find_if(p.begin(), p.end(), [&](const auto& x) { return x.first == k; });
      if (it != p.end() && (k == "name" || k == "agg")) {
        it->second = v;
      } else {
        p.emplace_back(k, v);
      }
    }
    return p;
  };
  const std::vector<Case> cases = {
      {{{"agg", "avg"}}, "name", "required"},
      {with({{"name", ""}}), "name", "required"},
      {with({{"name", "9lives"}}), "name", ""},
      {with({{"name", std::string(201, 'a')}}), "name", ""},
      {with({{"name", "a b"}}), "name", ""},
      {{{"name", "x"}}, "agg", "required"},
      {with({{"agg", ""}}), "agg", "required"},
      {with({{"agg", "median"}}), "agg", "not an aggregation"},
      {with({{"agg", "p0"}}), "agg", "out of range"},
      {with({{"agg", "p100"}}), "agg", "out of range"},
      {with({{"agg", "p100.0"}}), "agg", "out of range"},
      {with({{"agg", "p0.0"}}), "agg", "out of range"},
      {with({{"agg", "p150"}}), "agg", "out of range"},
      {with({{"agg", "p990"}}), "agg", "out of range"},
      {with({{"agg", "p"}}), "agg", ""},
      {with({{"agg", "p-5"}}), "agg", "not a percentile"},
      {with({{"agg", "p9.9.9"}}), "agg", "not a percentile"},
      {with({{"agg", "p.5"}}), "agg", "not a percentile"},
      {with({{"agg", "p5."}}), "agg", "not a percentile"},
      {with({{"agg", "p1e1"}}), "agg", "not a percentile"},
      {with({{"agg", "pnan"}}), "agg", "not a percentile"},
      {with({{"tags", "env"}}), "tags", "key:value"},
      {with({{"tags", "env:a,"}}), "tags", "key:value"},
      {with({{"tags", "9x:a"}}), "tags", "not a valid tag key"},
      {with({{"tags", ":a"}}), "tags", "not a valid tag key"},
      {with({{"tags", "env:a,env:b"}}), "tags", "more than once"},
      {with({{"tags[env]", "a"}, {"tags", "env:b"}}), "tags", "more than once"},
      {with({{"tags[b-d]", "a"}}), "tags[b-d]", "not a valid tag key"},
      {with({{"window", "5"}}), "window", "unit"},
      {with({{"window", "0"}}), "window", "positive"},
      {with({{"window", "0s"}}), "window", "positive"},
      {with({{"window", "-5m"}}), "window", ""},
      {with({{"window", "5x"}}), "window", ""},
      {with({{"window", ""}}), "window", ""},
      {with({{"window", "1s"}, {"since", "-1d"}}), "window", "86400 buckets"},
      {with({{"window", "1s"}, {"since", "-1d1s"}}), "window", "86401 buckets"},
      {with({{"window", "1ms"}, {"since", "0"}, {"until", "10.001"}}), "window", "10001 buckets"},
      {with({{"window", "1m"}, {"since", "0"}, {"until", "600001"}}), "window", "10001 buckets"},
      {with({{"since", "yesterday"}}), "since", "not a time"},
      {with({{"since", ""}}), "since", "empty"},
      {with({{"since", "-1x"}}), "since", ""},
      {with({{"since", "now-"}}), "since", ""},
      {with({{"since", "2025-13-01"}}), "since", ""},
      {with({{"since", "NaN"}}), "since", ""},
      {with({{"until", "2025-01-15T25:00:00Z"}}), "until", ""},
      {with({{"until", "1e300"}}), "until", ""},
      {with({{"since", "now"}}), "since", "before until"},
      {with({{"since", "-1h"}, {"until", "-2h"}}), "since", "before until"},
      {with({{"since", "1736920800"}, {"until", "1736920800"}}), "since", "before until"},
      {with({{"group_by", "host,"}}), "group_by", "not a valid tag key"},
      {with({{"group_by", "a b"}}), "group_by", "not a valid tag key"},
      {with({{"group_by", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"}}), "group_by", "limit"},
      {with({{"project_id", ""}}), "project_id", ""},
      {with({{"step", "1m"}}), "step", "unknown parameter"},
      {with({{"window", "1m"}, {"window", "5m"}}), "window", "more than once"},
      {{{"name", "x"}, {"agg", "avg"}, {"name", "y"}}, "name", "more than once"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string trace;
    for (const auto& [k, v] : cases[i].params) trace += k + "=" + v.substr(0, 40) + "&";
    SCOPED_TRACE(trace);
    auto q = ParseMetricsQuery(cases[i].params, kNow);
    ASSERT_FALSE(q) << "accepted";
    EXPECT_EQ(q.error().code, core::ErrorCode::kInvalidRequest);
    EXPECT_EQ(q.error().param, cases[i].param) << q.error().message;
    EXPECT_THAT(q.error().message, HasSubstr(cases[i].message_part));
    EXPECT_FALSE(q.error().message.empty());
  }
}

// ---- the oracle --------------------------------------------------------------

// The brute force: sort and interpolate exactly as API.md writes it.
double BruteQuantile(std::vector<double> x, double q) {
  std::sort(x.begin(), x.end());
  const double h = q * static_cast<double>(x.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= x.size()) return x[lo];
  return x[lo] + (h - std::floor(h)) * (x[lo + 1] - x[lo]);
}

double BruteAggregate(const std::vector<double>& x, const MetricsAgg& agg) {
  long double sum = 0;
  for (double v : x) sum += v;
  switch (agg.kind) {
    case MetricsAgg::Kind::kSum: return static_cast<double>(sum);
    case MetricsAgg::Kind::kAvg: return static_cast<double>(sum / x.size());
    case MetricsAgg::Kind::kCount: return static_cast<double>(x.size());
    case MetricsAgg::Kind::kMin: return *std::min_element(x.begin(), x.end());
    case MetricsAgg::Kind::kMax: return *std::max_element(x.begin(), x.end());
    case MetricsAgg::Kind::kQuantile: return BruteQuantile(x, agg.quantile);
  }
  return 0;
}

struct RawSample {
  std::map<std::string, std::string> tags;
  int64_t ts;
  double value;
};

// Expected answer: group -> bucket start -> values.
std::map<std::map<std::string, std::string>, std::map<int64_t, double>> BruteForce(
    const std::vector<RawSample>& samples, const MetricsQuery& q) {
  std::map<std::map<std::string, std::string>, std::map<int64_t, std::vector<double>>> values;
  for (const RawSample& s : samples) {
    if (s.ts < q.since_ms || s.ts >= q.until_ms) continue;
    bool keep = true;
    for (const core::Label& t : q.tags) {
      auto it = s.tags.find(t.name);
      keep = keep && it != s.tags.end() && it->second == t.value;
    }
    if (!keep) continue;
    std::map<std::string, std::string> group;
    for (const std::string& k : q.group_by) {
      if (auto it = s.tags.find(k); it != s.tags.end()) group[k] = it->second;
    }
    int64_t bucket = q.since_ms;
    if (q.window_ms) bucket = s.ts / *q.window_ms * *q.window_ms;  // ts > 0
    values[group][bucket].push_back(s.value);
  }
  std::map<std::map<std::string, std::string>, std::map<int64_t, double>> out;
  for (const auto& [group, buckets] : values) {
    for (const auto& [ts, x] : buckets) out[group][ts] = BruteAggregate(x, q.agg);
  }
  return out;
}

bool Close(double got, double want) {
  return std::fabs(got - want) <= 1e-9 * std::max(1.0, std::fabs(want));
}

class MetricsQueryOracleTest : public ::testing::TestWithParam<int> {};

TEST_P(MetricsQueryOracleTest, MatchesBruteForce) {
  std::mt19937_64 rng(GetParam());
  store::SeriesStore store(store::SeriesStoreOptions{.block_capacity = 16});
  const int64_t t0 = kNow - 6 * kHour;
  // Series: host x region (x an optional "zone" tag on some), one metric.
  const std::vector<std::string> hosts = {"a", "b", "c", "d"};
  const std::vector<std::string> regions = {"eu", "us"};
  std::vector<RawSample> samples;
  std::uniform_int_distribution<int64_t> ts_dist(t0, kNow);
  std::uniform_int_distribution<int> small(0, 9);
  for (const std::string& host : hosts) {
    for (const std::string& region : regions) {
      std::map<std::string, std::string> tags = {{"host", host}, {"region", region}};
      if (host == "a") tags["zone"] = region + "-1";
      const int n = std::uniform_int_distribution<int>(0, 400)(rng);
      const int style = small(rng);
      for (int i = 0; i < n; ++i) {
        double v;
        if (style < 3) {
          v = static_cast<double>(small(rng));  // many equal values
        } else if (style < 4) {
          v = 42.5;  // all equal
        } else {
          v = std::uniform_real_distribution<double>(-500, 1500)(rng);
        }
        int64_t ts = ts_dist(rng);
        if (small(rng) == 0 && !samples.empty()) ts = samples.back().ts;  // shared timestamps
        samples.push_back({tags, ts, v});
      }
    }
  }
  // Append in time order (the store keeps each series in time order anyway).
  std::stable_sort(samples.begin(), samples.end(),
                   [](const RawSample& a, const RawSample& b) { return a.ts < b.ts; });
  for (const RawSample& s : samples) {
    std::vector<store::LabelView> labels;
    for (const auto& [k, v] : s.tags) labels.push_back({k, v});
    const store::PointView p{"lat", store::MetricType::kTiming, labels, s.ts, s.value};
    auto out = store.Append("p1", std::span(&p, 1), kNow);
    ASSERT_TRUE(out);
    ASSERT_FALSE((*out)[0]);
  }
  const std::vector<std::string> aggs = {"p50",  "p90",  "p95", "p99", "p999", "p0.1", "p99.9",
                                         "p1",   "p75",  "p33.3", "sum", "avg",  "count", "min",
                                         "max",  "p12.5"};
  const std::vector<std::string> windows = {"", "1ms", "7s", "1m", "5m", "13m", "1h", "1h30m", "1d"};
  const std::vector<std::string> group_bys = {"", "host", "region,host", "zone", "nope"};
  const std::vector<std::string> tag_filters = {"", "region:eu", "host:a,region:us", "host:zz",
                                                "zone:eu-1"};
  int checked_points = 0;
  for (int iter = 0; iter < 150; ++iter) {
    Params params = {{"name", "lat"},
                     {"agg", aggs[rng() % aggs.size()]}};
    const std::string window = windows[rng() % windows.size()];
    if (!window.empty()) params.emplace_back("window", window);
    const std::string gb = group_bys[rng() % group_bys.size()];
    if (!gb.empty()) params.emplace_back("group_by", gb);
    const std::string tf = tag_filters[rng() % tag_filters.size()];
    if (!tf.empty()) params.emplace_back("tags", tf);
    int64_t since = ts_dist(rng) - kHour;
    int64_t until = since + std::uniform_int_distribution<int64_t>(1, 7 * kHour)(rng);
    if (iter % 5 == 0) {  // the whole data range
      since = t0;
      until = kNow + 1;
    }
    params.emplace_back("since", std::to_string(since));  // unix ms (> 1e11)
    params.emplace_back("until", std::to_string(until));
    std::string trace;
    for (const auto& [k, v] : params) trace += k + "=" + v + "&";
    SCOPED_TRACE(trace);
    auto q = ParseMetricsQuery(params, kNow);
    if (!q) {
      // Only a window too fine for the range may fail.
      EXPECT_EQ(q.error().param, "window") << q.error().message;
      continue;
    }
    MetricsQueryLimits limits;
    limits.slice_samples = 1 + rng() % 300;  // many slices: buckets span reads
    auto got = RunMetricsQuery(store, "p1", *q, limits);
    ASSERT_TRUE(got) << got.error().Message();
    EXPECT_EQ(got->type, store::MetricType::kTiming);
    const auto want = BruteForce(samples, *q);
    if (q->group_by.empty()) {
      ASSERT_EQ(got->series.size(), 1u);
      EXPECT_TRUE(got->series[0].tags.empty());
    } else {
      ASSERT_EQ(got->series.size(), want.size());
    }
    auto want_it = want.begin();
    for (const MetricsSeries& s : got->series) {
      std::map<std::string, std::string> tags;
      for (const core::Label& l : s.tags.items()) tags[l.name] = l.value;
      if (want_it == want.end()) {
        EXPECT_TRUE(s.points.empty()) << "no samples, no points";
        continue;
      }
      ASSERT_EQ(tags, want_it->first) << "series sorted by tags";
      const auto& buckets = want_it->second;
      ASSERT_EQ(s.points.size(), buckets.size());
      auto b = buckets.begin();
      for (const MetricsPoint& p : s.points) {
        EXPECT_EQ(p.ts_ms, b->first);
        EXPECT_TRUE(Close(p.value, b->second))
            << "bucket " << core::FormatIso8601(p.ts_ms) << ": got " << p.value << " want "
            << b->second;
        ++b;
        ++checked_points;
      }
      ++want_it;
    }
  }
  EXPECT_GT(checked_points, 200) << "the random queries must hit data";
}

INSTANTIATE_TEST_SUITE_P(Seeds, MetricsQueryOracleTest, ::testing::Values(1, 2, 3, 4, 5));

TEST(MetricsQueryTest, ExactQuantileEdges) {
  std::vector<double> one = {7};
  EXPECT_EQ(ExactQuantile(one, 0.001), 7);
  EXPECT_EQ(ExactQuantile(one, 0.999), 7);
  std::vector<double> two = {10, 0};
  EXPECT_DOUBLE_EQ(ExactQuantile(two, 0.5), 5);
  std::vector<double> equal(1000, 3.25);
  EXPECT_EQ(ExactQuantile(equal, 0.999), 3.25);
  // numpy.percentile([1..5], 90) = 4.6; [1..100], 99.9 -> 99.901.
  std::vector<double> five = {5, 3, 1, 4, 2};
  EXPECT_DOUBLE_EQ(ExactQuantile(five, 0.9), 4.6);
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_NEAR(ExactQuantile(hundred, 0.999), 99.901, 1e-9);
  EXPECT_NEAR(ExactQuantile(hundred, 0.001), 1.099, 1e-9);
  std::vector<double> big = {1e308, -1e308};
  EXPECT_TRUE(std::isfinite(ExactQuantile(big, 0.0)));
}

TEST(MetricsQueryTest, SampleLimit) {
  store::SeriesStore store(store::SeriesStoreOptions{});
  std::vector<store::PointView> points;
  for (int i = 0; i < 100; ++i) {
    points.push_back({"m", store::MetricType::kGauge, {}, kNow - 1000 * i, 1.0 * i});
  }
  ASSERT_TRUE(store.Append("p", points, kNow));
  auto q = ParseMetricsQuery({{"name", "m"}, {"agg", "count"}}, kNow + 1);
  ASSERT_TRUE(q);
  MetricsQueryLimits limits;
  limits.max_samples = 100;
  auto ok = RunMetricsQuery(store, "p", *q, limits);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->series[0].points.size(), 1u);
  EXPECT_EQ(ok->series[0].points[0].value, 100);
  EXPECT_EQ(ok->samples, 100u);
  limits.max_samples = 99;
  auto over = RunMetricsQuery(store, "p", *q, limits);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().limit, 99u);
  EXPECT_GT(over.error().read, 99u);
  EXPECT_THAT(over.error().Message(), HasSubstr("more than 99 raw samples"));
}

// ---- the route ---------------------------------------------------------------

// Keys: "good" (project acme, all scopes), "other" (project globex), "writer"
// (acme, metrics:write only), "reader" (acme, metrics:read only).
class QueryAuthenticator final : public Authenticator {
 public:
  core::Result<RequestContext> Authenticate(const core::HttpRequest& req) const override {
    const std::string* auth = req.Header("authorization");
    if (auth == nullptr) return core::Fail(core::ErrorCode::kUnauthorized, "missing API key");
    if (*auth == "Bearer good") return RequestContext{"acct_1", "acme", "key_1", {}};
    if (*auth == "Bearer other") return RequestContext{"acct_2", "globex", "key_2", {}};
    if (*auth == "Bearer writer") {
      return RequestContext{"acct_1", "acme", "key_3", {"metrics:write"}};
    }
    if (*auth == "Bearer reader") {
      return RequestContext{"acct_1", "acme", "key_4", {"metrics:read"}};
    }
    return core::Fail(core::ErrorCode::kUnauthorized, "unknown API key");
  }
};

class MetricsQueryRouteTest : public ::testing::Test {
 protected:
  MetricsQueryRouteTest()
      : clock_(kNow),
        store_(store::SeriesStoreOptions{}),
        ingest_(store_, exporter::IngestOptions{}, clock_, registry_),
        router_(auth_, clock_, registry_) {
    AddMetricsRoutes(router_, ingest_, idempotency_, clock_);
    MetricsQueryServices services{&store_, &clock_, nullptr, {}};
    services.limits.max_samples = 1000;
    AddMetricsQueryRoute(router_, services);
  }

  core::HttpResponse Send(const std::string& method, const std::string& path,
                          const std::string& key, const std::string& body = "") {
    core::HttpRequest req = test_util::MakeRequest(method, path, body);
    const size_t q = path.find('?');
    if (q != std::string::npos) {
      req.path = path.substr(0, q);
      req.query_string = path.substr(q + 1);
    }
    if (!key.empty()) req.headers.emplace_back("authorization", "Bearer " + key);
    core::HttpResponse resp;
    router_.Handle(req, resp);
    return resp;
  }

  void Report(const std::string& point_json, const std::string& key = "good") {
    const auto r = Send("POST", "/v1/metrics/report", key, point_json);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  json Query(const std::string& query, const std::string& key = "good", int status = 200) {
    const auto r = Send("GET", "/v1/metrics/query?" + query, key);
    EXPECT_EQ(r.status, status) << query << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return json::parse(r.body);
  }

  QueryAuthenticator auth_;
  core::FakeClock clock_;
  prometheus::Registry registry_;
  store::SeriesStore store_;
  exporter::IngestService ingest_;
  exporter::IdempotencyCache idempotency_;
  Router router_;
};

TEST_F(MetricsQueryRouteTest, AnswersTheDocumentedShape) {
  // Five timings one second apart in [10:29:50, 10:29:54], two routes.
  for (int i = 0; i < 5; ++i) {
    Report(R"({"name":"api.latency","type":"timing","value":)" + std::to_string(10 * (i + 1)) +
           R"(,"tags":{"route":")" + (i % 2 == 0 ? "/a" : "/b") + R"("},"timestamp":)" +
           std::to_string(kNow - 10'000 + 1000 * i) + "}");
  }
  json body = Query("name=api.latency&agg=p50");
  EXPECT_EQ(body["name"], "api_latency");
  EXPECT_EQ(body["agg"], "p50");
  EXPECT_EQ(body["window"], nullptr);
  EXPECT_EQ(body["since"], "2025-01-15T09:30:00Z");
  EXPECT_EQ(body["until"], "2025-01-15T10:30:00Z");
  EXPECT_EQ(body["tags"], json::object());
  EXPECT_EQ(body["type"], "timing");
  EXPECT_EQ(body["points"], json::parse(R"([{"ts":"2025-01-15T09:30:00Z","value":30}])"));
  EXPECT_FALSE(body.contains("series"));

  // Both spellings, a tag filter in both forms, windows aligned to the epoch.
  body = Query("name=api_latency&agg=sum&tags=route:/a&window=2s");
  EXPECT_EQ(body["points"], json::parse(R"([{"ts":"2025-01-15T10:29:50Z","value":10},
                                            {"ts":"2025-01-15T10:29:52Z","value":30},
                                            {"ts":"2025-01-15T10:29:54Z","value":50}])"));
  EXPECT_EQ(body["tags"], json::parse(R"({"route":"/a"})"));
  EXPECT_EQ(body["window"], "2s");
  EXPECT_EQ(Query("name=api-latency&agg=sum&tags%5Broute%5D=%2Fa&window=2s")["points"],
            body["points"]);

  body = Query("name=api.latency&agg=count&group_by=route&since=-1m");
  EXPECT_EQ(body["group_by"], json::parse(R"(["route"])"));
  EXPECT_FALSE(body.contains("points"));
  EXPECT_EQ(body["series"], json::parse(R"([
      {"tags":{"route":"/a"},"points":[{"ts":"2025-01-15T10:29:00Z","value":3}]},
      {"tags":{"route":"/b"},"points":[{"ts":"2025-01-15T10:29:00Z","value":2}]}])"));
}

TEST_F(MetricsQueryRouteTest, CounterByItsExposedNameAndUnknownMetric) {
  // `until` defaults to now and is exclusive: report a second before it.
  const std::string ts = std::to_string(kNow - 1000);
  Report(R"({"name":"jobs.done","type":"counter","value":3,"timestamp":)" + ts + "}");
  Report(R"({"name":"jobs.done","type":"counter","value":4,"timestamp":)" + ts + "}");
  EXPECT_EQ(Query("name=jobs_done_total&agg=sum")["points"][0]["value"], 7);
  EXPECT_EQ(Query("name=jobs_done_total&agg=sum")["name"], "jobs_done");
  json unknown = Query("name=nothing.here&agg=p99&window=1m");
  EXPECT_EQ(unknown["points"], json::array());
  EXPECT_EQ(unknown["type"], nullptr);
  EXPECT_EQ(unknown["name"], "nothing_here");
  EXPECT_EQ(Query("name=nothing&agg=p99&group_by=host")["series"], json::array());
}

TEST_F(MetricsQueryRouteTest, AuthScopesAndTenancy) {
  const std::string ts = std::to_string(kNow - 1000);
  Report(R"({"name":"temp","value":20,"timestamp":)" + ts + "}");
  Report(R"({"name":"temp","value":99,"timestamp":)" + ts + "}", "other");
  EXPECT_EQ(Send("GET", "/v1/metrics/query?name=temp&agg=max", "").status, 401);
  EXPECT_EQ(Send("GET", "/v1/metrics/query?name=temp&agg=max", "bogus").status, 401);
  const auto forbidden = Send("GET", "/v1/metrics/query?name=temp&agg=max", "writer");
  EXPECT_EQ(forbidden.status, 403) << forbidden.body;
  EXPECT_EQ(json::parse(forbidden.body)["error"]["code"], "forbidden");
  EXPECT_EQ(Query("name=temp&agg=max", "reader")["points"][0]["value"], 20);
  EXPECT_EQ(Query("name=temp&agg=max", "other")["points"][0]["value"], 99);
  EXPECT_EQ(Send("POST", "/v1/metrics/query?name=temp&agg=max", "good", "{}").status, 405);
  // project_id: the key's own project works; another one is not found (no
  // control plane here, and "reader" lacks account:admin anyway).
  EXPECT_EQ(Query("name=temp&agg=max&project_id=acme", "reader")["points"][0]["value"], 20);
  json nf = Query("name=temp&agg=max&project_id=globex", "reader", 404);
  EXPECT_EQ(nf["error"]["code"], "not_found");
  EXPECT_EQ(nf["error"]["param"], "project_id");
  nf = Query("name=temp&agg=max&project_id=globex", "good", 404);
  EXPECT_EQ(nf["error"]["param"], "project_id");
}

TEST_F(MetricsQueryRouteTest, BadInputAndLimits) {
  json err = Query("agg=p99", "good", 400);
  EXPECT_EQ(err["error"]["code"], "invalid_request");
  EXPECT_EQ(err["error"]["param"], "name");
  err = Query("name=x&agg=p100", "good", 400);
  EXPECT_EQ(err["error"]["param"], "agg");
  err = Query("name=x&agg=p99&window=1s&since=-1d", "good", 400);
  EXPECT_EQ(err["error"]["param"], "window");
  err = Query("name=x&agg=p99&since=now", "good", 400);
  EXPECT_EQ(err["error"]["param"], "since");

  std::string batch = R"({"points":[)";
  for (int i = 0; i < 1001; ++i) {
    if (i > 0) batch += ",";
    batch += R"({"name":"many","value":)" + std::to_string(i) + R"(,"timestamp":)" +
             std::to_string(kNow - 100 * (i + 1)) + "}";
  }
  batch += "]}";
  const auto r = Send("POST", "/v1/metrics/batch", "good", batch);
  ASSERT_EQ(r.status, 200) << r.body;
  err = Query("name=many&agg=p99", "good", 422);
  EXPECT_EQ(err["error"]["code"], "execution");
  EXPECT_THAT(err["error"]["message"].get<std::string>(), HasSubstr("more than 1000 raw samples"));
  EXPECT_EQ(Query("name=many&agg=count&since=-50s")["points"][0]["value"], 500);
}

}  // namespace
}  // namespace rest

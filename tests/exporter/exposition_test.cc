#include "exporter/exposition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace exporter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using store::LabelView;
using store::MetricType;

constexpr int64_t kNow = 1'736'937'000'000;

// One sample line of the text format, with label values as written (escaped).
struct SampleLine {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in written order
  std::string value;

  std::map<std::string, std::string> LabelMap() const {
    return {labels.begin(), labels.end()};
  }
  bool HasDuplicateLabel() const { return LabelMap().size() != labels.size(); }
};

// Parses `name{k="v",...} value`; fails the test on malformed lines.
SampleLine ParseLine(const std::string& line) {
  SampleLine out;
  size_t pos = line.find_first_of("{ ");
  out.name = line.substr(0, pos);
  if (pos != std::string::npos && line[pos] == '{') {
    ++pos;
    while (pos < line.size() && line[pos] != '}') {
      const size_t eq = line.find('=', pos);
      EXPECT_NE(eq, std::string::npos) << line;
      if (eq == std::string::npos) return out;
      std::string name = line.substr(pos, eq - pos);
      EXPECT_EQ(line[eq + 1], '"') << line;
      size_t end = eq + 2;
      while (end < line.size() && line[end] != '"') end += line[end] == '\\' ? 2 : 1;
      out.labels.emplace_back(std::move(name), line.substr(eq + 2, end - eq - 2));
      pos = end + 1;
      if (pos < line.size() && line[pos] == ',') ++pos;
    }
    ++pos;  // '}'
  }
  EXPECT_EQ(pos < line.size() ? line[pos] : '\0', ' ') << line;
  out.value = pos < line.size() ? line.substr(pos + 1) : "";
  return out;
}

// A store whose histogram buckets come from the exposition config, as in app/.
class ExpositionTest : public ::testing::Test {
 protected:
  ExpositionTest() : clock_(kNow) { Init(); }

  void Init(config::ExpositionConfig config = {}) {
    store::SeriesStoreOptions options;
    options.bucket_resolver = [config](std::string_view name) {
      return ResolveBuckets(config, name);
    };
    exposition_.reset();
    store_ = std::make_unique<store::SeriesStore>(options);
    exposition_ = std::make_unique<StoreExposition>(*store_, config, clock_);
  }

  void Append(std::string_view project, std::string_view name, MetricType type,
              std::vector<LabelView> labels, double value, int64_t ts = kNow) {
    const store::PointView p{name, type, labels, ts, value};
    auto r = store_->Append(project, std::span<const store::PointView>(&p, 1), clock_.NowMs());
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE((*r)[0].has_value()) << (*r)[0]->message;
  }

  std::string Render() {
    std::string out;
    exposition_->RenderText(out);
    return out;
  }

  // Sample lines (no comments) whose metric name is `name`.
  std::vector<SampleLine> Samples(const std::string& name) {
    std::vector<SampleLine> out;
    std::istringstream in(Render());
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      SampleLine s = ParseLine(line);
      if (s.name == name) out.push_back(std::move(s));
    }
    return out;
  }

  // The value of the one sample of `name` with exactly `labels`, or "<missing>".
  std::string Value(const std::string& name, const std::map<std::string, std::string>& labels) {
    std::string found = "<missing>";
    for (const SampleLine& s : Samples(name)) {
      if (s.LabelMap() == labels) {
        EXPECT_EQ(found, "<missing>") << "two samples " << name;
        found = s.value;
      }
    }
    return found;
  }

  core::FakeClock clock_;
  std::unique_ptr<store::SeriesStore> store_;
  std::unique_ptr<StoreExposition> exposition_;
};

TEST(ExposedNameTest, CountersGetTotalSuffixOnce) {
  EXPECT_EQ(ExposedName("requests", MetricType::kCounter), "requests_total");
  EXPECT_EQ(ExposedName("requests_total", MetricType::kCounter), "requests_total");
  EXPECT_EQ(ExposedName("total", MetricType::kCounter), "total_total");
  EXPECT_EQ(ExposedName("temp", MetricType::kGauge), "temp");
  EXPECT_EQ(ExposedName("temp_total", MetricType::kGauge), "temp_total");
  EXPECT_EQ(ExposedName("latency", MetricType::kTiming), "latency");
  EXPECT_EQ(ExposedName("size", MetricType::kDistribution), "size");
}

TEST(AppendEscapedLabelValueTest, EscapesBackslashQuoteAndNewline) {
  struct Case {
    std::string in;
    std::string want;
  };
  const Case cases[] = {
      {"", ""},
      {"plain", "plain"},
      {"a\"b", "a\\\"b"},
      {"a\\b", "a\\\\b"},
      {"a\nb", "a\\nb"},
      {"\\n", "\\\\n"},
      {"tab\there", "tab\there"},
      {"Z\xC3\xBCrich \xE6\x97\xA5\xF0\x9F\x98\x80", "Z\xC3\xBCrich \xE6\x97\xA5\xF0\x9F\x98\x80"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    std::string out = "x=";
    AppendEscapedLabelValue(out, c.in);
    EXPECT_EQ(out, "x=" + c.want);
  }
}

TEST(AppendSampleValueTest, ParsesBackExactly) {
  struct Case {
    double value;
    std::string want;
  };
  const Case cases[] = {
      {0, "0"},
      {1, "1"},
      {-3.5, "-3.5"},
      {0.1, "0.1"},
      {1165, "1165"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    std::string out;
    AppendSampleValue(out, c.value);
    EXPECT_EQ(out, c.want);
  }
  for (double v : {1e21, 1.7976931348623157e308, 5e-324, 123456789.123456789, -0.000001}) {
    std::string out;
    AppendSampleValue(out, v);
    double back = 0;
    const auto res = std::from_chars(out.data(), out.data() + out.size(), back);
    EXPECT_EQ(res.ptr, out.data() + out.size()) << out;
    EXPECT_EQ(back, v) << out;
  }
}

TEST_F(ExpositionTest, CountersAreCumulativeWithTotalSuffix) {
  Append("p", "requests", MetricType::kCounter, {{"route", "/a"}}, 2);
  Append("p", "requests", MetricType::kCounter, {{"route", "/a"}}, 3);
  Append("p", "requests", MetricType::kCounter, {{"route", "/b"}}, 1);
  Append("p", "jobs_total", MetricType::kCounter, {}, 4.5);
  const std::string text = Render();
  EXPECT_THAT(text, HasSubstr("# TYPE requests_total counter\n"));
  EXPECT_EQ(Value("requests_total", {{"project", "p"}, {"route", "/a"}}), "5");
  EXPECT_EQ(Value("requests_total", {{"project", "p"}, {"route", "/b"}}), "1");
  EXPECT_THAT(text, HasSubstr("# TYPE jobs_total counter\n"));
  EXPECT_EQ(Value("jobs_total", {{"project", "p"}}), "4.5");
  EXPECT_THAT(text, Not(HasSubstr("_total_total")));
  EXPECT_THAT(Samples("requests"), IsEmpty());
}

TEST_F(ExpositionTest, RecordedSeriesAreExposedAsTheyAreAndScrapedOnesNot) {
  Append("p", "job:errors:rate5m", MetricType::kRecorded, {{"job", "api"}, {"project", "acme"}},
         0.25);
  Append("p", "job:errors:rate5m", MetricType::kRecorded, {{"job", "db"}}, 1, kNow - 1000);
  Append("p", "job:errors:rate5m", MetricType::kRecorded, {{"job", "db"}}, store::StaleMarker());
  Append("p", "node_load1", MetricType::kScraped, {{"instance", "h:9100"}, {"job", "node"}}, 3);
  const std::string text = Render();
  EXPECT_THAT(text, HasSubstr("# TYPE job:errors:rate5m untyped\n"));
  EXPECT_EQ(Value("job:errors:rate5m", {{"job", "api"}, {"project", "acme"}}), "0.25");
  // The rule stopped producing job="db": its staleness marker hides it.
  EXPECT_EQ(Value("job:errors:rate5m", {{"job", "db"}}), "<missing>");
  EXPECT_THAT(Samples("node_load1"), IsEmpty());
  EXPECT_THAT(text, Not(HasSubstr("node_load1")));
}

TEST_F(ExpositionTest, CountersStayCumulativePastRetention) {
  store::SeriesStoreOptions options;
  options.block_capacity = 1;
  store_ = std::make_unique<store::SeriesStore>(options);
  exposition_ = std::make_unique<StoreExposition>(*store_, config::ExpositionConfig{}, clock_);
  Append("p", "requests", MetricType::kCounter, {}, 2, kNow - 10'000);
  Append("p", "requests", MetricType::kCounter, {}, 3, kNow);
  ASSERT_GT(store_->DropBefore(kNow), 0u);
  EXPECT_EQ(Value("requests_total", {{"project", "p"}}), "5");
}

TEST_F(ExpositionTest, GaugesShowLatestValue) {
  Append("p", "temp", MetricType::kGauge, {{"room", "a"}}, 20, kNow - 1000);
  Append("p", "temp", MetricType::kGauge, {{"room", "a"}}, 19, kNow - 2000);  // older
  Append("p", "temp", MetricType::kGauge, {{"room", "b"}}, -3.5);
  EXPECT_THAT(Render(), HasSubstr("# TYPE temp gauge\n"));
  EXPECT_EQ(Value("temp", {{"project", "p"}, {"room", "a"}}), "20");
  EXPECT_EQ(Value("temp", {{"project", "p"}, {"room", "b"}}), "-3.5");
  EXPECT_THAT(Samples("temp"), SizeIs(2));
}

TEST_F(ExpositionTest, HistogramsAreCumulativeWithInfBucket) {
  config::ExpositionConfig config;
  config.histograms.push_back({"api_*", {10, 100}});
  Init(config);
  for (double v : {5.0, 10.0, 50.0, 100.0, 1000.0}) {
    Append("p", "api_latency", MetricType::kTiming, {{"route", "/x"}}, v);
  }
  EXPECT_THAT(Render(), HasSubstr("# TYPE api_latency histogram\n"));
  const std::map<std::string, std::string> base = {{"project", "p"}, {"route", "/x"}};
  auto with_le = [&](const std::string& le) {
    auto m = base;
    m["le"] = le;
    return m;
  };
  // le is inclusive: 10 and 100 count in their own buckets.
  EXPECT_EQ(Value("api_latency_bucket", with_le("10")), "2");
  EXPECT_EQ(Value("api_latency_bucket", with_le("100")), "4");
  EXPECT_EQ(Value("api_latency_bucket", with_le("+Inf")), "5");
  EXPECT_EQ(Value("api_latency_sum", base), "1165");
  EXPECT_EQ(Value("api_latency_count", base), "5");
  // Buckets are written in increasing le order, +Inf last.
  std::vector<std::string> les;
  for (const SampleLine& s : Samples("api_latency_bucket")) les.push_back(s.LabelMap()["le"]);
  EXPECT_THAT(les, ElementsAre("10", "100", "+Inf"));
}

TEST_F(ExpositionTest, DistributionsUseDefaultBuckets) {
  Append("p", "payload_size", MetricType::kDistribution, {}, 3);
  const auto buckets = Samples("payload_size_bucket");
  ASSERT_THAT(buckets, SizeIs(config::ExpositionConfig{}.default_buckets.size() + 1));
  EXPECT_EQ(buckets.front().LabelMap()["le"], "1");
  EXPECT_EQ(buckets.front().value, "0");
  EXPECT_EQ(buckets[1].LabelMap()["le"], "2.5");
  EXPECT_EQ(buckets[2].value, "1");  // le=5
  EXPECT_EQ(buckets.back().LabelMap()["le"], "+Inf");
  EXPECT_EQ(buckets.back().value, "1");
}

TEST_F(ExpositionTest, LabelValuesAreEscaped) {
  Append("p", "g", MetricType::kGauge,
         {{"a", "quote\"here"},
          {"b", "back\\slash"},
          {"c", "new\nline"},
          {"d", "Z\xC3\xBCrich \xE6\x97\xA5"}},
         1);
  EXPECT_EQ(Value("g", {{"a", "quote\\\"here"},
                        {"b", "back\\\\slash"},
                        {"c", "new\\nline"},
                        {"d", "Z\xC3\xBCrich \xE6\x97\xA5"},
                        {"project", "p"}}),
            "1");
  // The raw newline never reaches the output: each sample is one line.
  EXPECT_THAT(Samples("g"), SizeIs(1));
}

TEST_F(ExpositionTest, ProjectNamesAreEscapedToo) {
  Append("we\"ird\\", "g", MetricType::kGauge, {}, 1);
  EXPECT_EQ(Value("g", {{"project", "we\\\"ird\\\\"}}), "1");
}

TEST_F(ExpositionTest, ProjectLabelAndExportedProjectOnConflict) {
  Append("acme", "g", MetricType::kGauge, {{"project", "mobile"}, {"zone", "eu"}}, 1);
  Append("acme", "g", MetricType::kGauge, {{"host", "a"}}, 2);
  Append("globex", "g", MetricType::kGauge, {}, 3);
  EXPECT_EQ(Value("g", {{"exported_project", "mobile"}, {"project", "acme"}, {"zone", "eu"}}), "1");
  EXPECT_EQ(Value("g", {{"host", "a"}, {"project", "acme"}}), "2");
  EXPECT_EQ(Value("g", {{"project", "globex"}}), "3");
  EXPECT_THAT(Samples("g"), SizeIs(3));
  // One family header for both projects.
  const std::string text = Render();
  EXPECT_EQ(text.find("# TYPE g gauge"), text.rfind("# TYPE g gauge"));
}

TEST_F(ExpositionTest, ProjectLabelCanBeTurnedOff) {
  config::ExpositionConfig config;
  config.include_project_label = false;
  config.histograms.push_back({"lat", {1}});
  Init(config);
  Append("acme", "g", MetricType::kGauge, {{"project", "mobile"}}, 1);
  Append("acme", "h", MetricType::kGauge, {}, 2);
  Append("acme", "lat", MetricType::kTiming, {}, 0.5);
  EXPECT_EQ(Value("g", {{"project", "mobile"}}), "1");
  EXPECT_EQ(Value("h", {}), "2");
  EXPECT_EQ(Value("lat_bucket", {{"le", "1"}}), "1");
  EXPECT_EQ(Value("lat_count", {}), "1");
}

TEST_F(ExpositionTest, SeriesTtlHidesStaleSeriesButKeepsThemStored) {
  config::ExpositionConfig config;
  config.series_ttl_ms = 60'000;
  Init(config);
  Append("p", "stale", MetricType::kGauge, {}, 1);
  clock_.AdvanceMs(30'000);
  Append("p", "fresh", MetricType::kGauge, {}, 2);
  clock_.AdvanceMs(30'000);  // stale was updated exactly one TTL ago: still shown
  EXPECT_THAT(Samples("stale"), SizeIs(1));
  clock_.AdvanceMs(1);
  EXPECT_THAT(Samples("stale"), IsEmpty());
  EXPECT_THAT(Render(), Not(HasSubstr("# TYPE stale"))) << "no header for an empty family";
  EXPECT_THAT(Samples("fresh"), SizeIs(1));
  EXPECT_EQ(store_->Stats().series, 2u);
  // A new point brings it back.
  Append("p", "stale", MetricType::kGauge, {}, 5);
  EXPECT_EQ(Value("stale", {{"project", "p"}}), "5");
}

TEST_F(ExpositionTest, SeriesTtlOffKeepsEverything) {
  Append("p", "old", MetricType::kGauge, {}, 1);
  clock_.AdvanceMs(365LL * 86'400'000);
  EXPECT_THAT(Samples("old"), SizeIs(1));
}

TEST_F(ExpositionTest, StoreGaugesAreExposed) {
  Append("p", "a", MetricType::kGauge, {}, 1);
  Append("p", "a", MetricType::kGauge, {}, 1);
  Append("p", "b", MetricType::kCounter, {}, 1);
  const std::string text = Render();
  EXPECT_THAT(text, HasSubstr("# TYPE tally_store_series gauge\ntally_store_series 2\n"));
  EXPECT_EQ(Value("tally_store_samples", {}), "3");
  EXPECT_EQ(Value("tally_store_metrics", {}), "2");
  EXPECT_EQ(Value("tally_store_memory_bytes", {}), std::to_string(store_->Stats().memory_bytes));
}

TEST_F(ExpositionTest, EmptyStoreRendersOnlyStoreGauges) {
  EXPECT_EQ(Value("tally_store_series", {}), "0");
  std::istringstream in(Render());
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE")) {
      EXPECT_THAT(line, HasSubstr("tally_store_"));
    }
  }
}

TEST_F(ExpositionTest, FamiliesAreSortedAndEachTypedOnce) {
  Append("p1", "zeta", MetricType::kGauge, {}, 1);
  Append("p2", "alpha", MetricType::kCounter, {}, 1);
  Append("p1", "mid", MetricType::kDistribution, {}, 1);
  Append("p2", "zeta", MetricType::kGauge, {}, 2);
  Append("p3", "beta", MetricType::kGauge, {}, 2);
  std::vector<std::string> types;
  std::istringstream in(Render());
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ") && !line.starts_with("# TYPE tally_store_")) {
      types.push_back(line.substr(7));
    }
  }
  EXPECT_THAT(types, ElementsAre("alpha_total counter", "beta gauge", "mid histogram",
                                 "zeta gauge"));
}

TEST_F(ExpositionTest, EachFamilyKeepsOneTypeAcrossProjects) {
  // Types are per project, but /metrics merges projects into one family per
  // name. A family has one type: a series of another type must not be written
  // under it (a gauge read as a counter, or an empty histogram).
  Append("p1", "x", MetricType::kGauge, {}, 7);
  Append("p2", "x", MetricType::kTiming, {}, 3);
  Append("p3", "y_total", MetricType::kGauge, {}, 9);
  Append("p4", "y", MetricType::kCounter, {}, 4);
  Append("p5", "z", MetricType::kTiming, {}, 1);
  Append("p6", "z", MetricType::kDistribution, {}, 2);  // both histograms: one family
  const std::string text = Render();
  std::map<std::string, int> type_lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ")) ++type_lines[line.substr(7, line.find(' ', 7) - 7)];
  }
  for (const auto& [name, n] : type_lines) EXPECT_EQ(n, 1) << name;
  // Whichever type wins, its values are right and the loser is absent.
  const auto x = Samples("x");
  const auto x_count = Samples("x_count");
  EXPECT_EQ(x.size() + x_count.size(), 1u);
  if (!x.empty()) {
    EXPECT_EQ(x[0].value, "7");
  }
  if (!x_count.empty()) {
    EXPECT_EQ(x_count[0].value, "1");
  }
  const auto y = Samples("y_total");
  ASSERT_THAT(y, SizeIs(1));
  EXPECT_TRUE(y[0].value == "9" || y[0].value == "4") << y[0].value;
  EXPECT_THAT(Samples("z_count"), SizeIs(2));
}

TEST_F(ExpositionTest, HistogramTagNamedLeDoesNotCollideWithBuckets) {
  // "le" is a valid tag key (API.md), but a histogram's buckets own that label:
  // two `le` labels on one line make Prometheus reject the whole scrape.
  Append("p", "lat", MetricType::kTiming, {{"le", "x"}}, 1);
  const auto buckets = Samples("lat_bucket");
  ASSERT_THAT(buckets, Not(IsEmpty()));
  for (const SampleLine& s : buckets) {
    EXPECT_FALSE(s.HasDuplicateLabel()) << s.name;
    EXPECT_EQ(s.LabelMap()["exported_le"], "x");
  }
  EXPECT_EQ(Value("lat_count", {{"exported_le", "x"}, {"project", "p"}}), "1");
  // Gauges and counters keep a tag named le as it is.
  Append("p", "g", MetricType::kGauge, {{"le", "x"}}, 1);
  EXPECT_EQ(Value("g", {{"le", "x"}, {"project", "p"}}), "1");
}

TEST_F(ExpositionTest, EveryLineIsWellFormed) {
  config::ExpositionConfig config;
  config.histograms.push_back({"*", {0.5, 1}});
  Init(config);
  Append("p", "a", MetricType::kCounter, {{"k", "v"}}, 1);
  Append("p", "b", MetricType::kGauge, {}, 1);
  Append("p", "c", MetricType::kTiming, {}, 1);
  Append("q", "d", MetricType::kDistribution, {{"x", "1"}, {"y", "2"}}, 1);
  std::istringstream in(Render());
  int samples = 0;
  for (std::string line; std::getline(in, line);) {
    SCOPED_TRACE(line);
    ASSERT_FALSE(line.empty());
    if (line[0] == '#') {
      EXPECT_TRUE(line.starts_with("# HELP ") || line.starts_with("# TYPE "));
      continue;
    }
    const SampleLine s = ParseLine(line);
    EXPECT_FALSE(s.HasDuplicateLabel());
    EXPECT_FALSE(s.value.empty());
    ++samples;
  }
  // 1 counter + 1 gauge + (3 buckets + sum + count) x 2 + 4 store gauges.
  EXPECT_EQ(samples, 1 + 1 + 5 * 2 + 4);
}

TEST_F(ExpositionTest, MetricsPageAppendsCollectables) {
  prometheus::Registry registry;
  prometheus::BuildCounter()
      .Name("tally_self_total")
      .Help("self")
      .Register(registry)
      .Add({})
      .Increment(2);
  Append("p", "g", MetricType::kGauge, {}, 1);
  const std::string page = RenderMetricsPage(*exposition_, {&registry});
  EXPECT_THAT(page, HasSubstr("tally_self_total 2\n"));
  EXPECT_THAT(page, HasSubstr("g{project=\"p\"} 1\n"));
  EXPECT_LT(page.find("g{project=\"p\"} 1"), page.find("tally_self_total 2"));
  EXPECT_EQ(RenderTextFormat({}), "");
  EXPECT_EQ(RenderTextFormat({&registry}), RenderTextFormat({&registry}));
}

TEST(ResolveBucketsTest, FirstMatchingGlobWins) {
  config::ExpositionConfig config;
  config.histograms = {{"api_*", {1, 2}}, {"*_latency", {5}}, {"db_?", {7, 8, 9}}};
  config.default_buckets = {100};
  struct Case {
    std::string name;
    std::vector<double> want;
  };
  const Case cases[] = {
      {"api_latency", {1, 2}},  // matches the first and second rule: first wins
      {"api_", {1, 2}},
      {"db_latency", {5}},
      {"db_x", {7, 8, 9}},
      {"db_xy", {100}},
      {"API_latency_ms", {100}},  // globs are case-sensitive
      {"other", {100}},
      {"", {100}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = ResolveBuckets(config, c.name);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, c.want);
  }
}

TEST(ResolveBucketsTest, NoRulesMeansDefaults) {
  const config::ExpositionConfig config;
  auto got = ResolveBuckets(config, "anything");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, config.default_buckets);
}

}  // namespace
}  // namespace exporter

TEST(ExpositionConflictTest, ProjectAndExportedProjectTagsBothSurvive) {
  core::FakeClock clock(1'700'000'000'000);
  store::SeriesStore st(store::SeriesStoreOptions{});
  std::vector<store::LabelView> tags = {{"exported_project", "a"}, {"project", "b"}};
  std::vector<store::PointView> points = {
      {"conflict_gauge", store::MetricType::kGauge, tags, clock.NowMs(), 1}};
  ASSERT_TRUE(st.Append("default", points, clock.NowMs()));
  exporter::StoreExposition exposition(st, config::ExpositionConfig{}, clock);
  std::string out;
  exposition.RenderText(out);
  EXPECT_NE(out.find("conflict_gauge{project=\"default\",exported_project=\"a\","
                     "exported_exported_project=\"b\"} 1"),
            std::string::npos)
      << out;
}

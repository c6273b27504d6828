#include "aggregator/scrape.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aggregator/curl_fetcher.h"
#include "core/clock.h"
#include "core/http_server.h"

namespace scrape {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNow = 1'700'000'000'000;

// "name{a=\"b\",...}" with labels sorted, __name__ first as the name.
std::string SeriesText(const core::Labels& labels) {
  std::string name;
  std::string rest;
  for (const core::Label& l : labels.items()) {
    if (l.name == "__name__") {
      name = l.value;
      continue;
    }
    rest += (rest.empty() ? "" : ",") + l.name + "=\"" + l.value + "\"";
  }
  return name + "{" + rest + "}";
}

struct Written {
  std::string series;
  int64_t t;
  double v;
};

class RecordingSink final : public ScrapeSink {
 public:
  void Append(const core::Labels& labels, int64_t t_ms, double v) override {
    batch_.push_back({SeriesText(labels), t_ms, v});
  }
  void Commit() override {
    commits.push_back(std::move(batch_));
    batch_.clear();
  }
  // The last committed batch as "series=value" (StaleNaN as "stale"), report
  // series excluded unless `with_report`.
  std::vector<std::string> Last(bool with_report = false) const {
    std::vector<std::string> out;
    if (commits.empty()) return out;
    for (const Written& w : commits.back()) {
      if (!with_report && IsReport(w.series)) continue;
      out.push_back(w.series + "=" + Format(w.v));
    }
    return out;
  }
  // Value of a report series (e.g. "up") in the last batch, NaN when missing.
  double Report(const std::string& name) const {
    for (const Written& w : commits.back()) {
      if (w.series.starts_with(name + "{")) return w.v;
    }
    return std::nan("");
  }
  static bool IsReport(const std::string& s) {
    for (const char* r : {"up{", "scrape_duration_seconds{", "scrape_samples_scraped{",
                          "scrape_samples_post_metric_relabeling{", "scrape_series_added{"}) {
      if (s.starts_with(r)) return true;
    }
    return false;
  }
  static std::string Format(double v) {
    if (IsStaleNaN(v)) return "stale";
    if (std::isnan(v)) return "NaN";
    std::ostringstream o;
    o << v;
    return o.str();
  }
  std::vector<std::vector<Written>> commits;

 private:
  std::vector<Written> batch_;
};

// Answers from a script; records the requests. Advances the fake clock by
// `latency_ms` per fetch so scrape_duration_seconds is deterministic.
class FakeFetcher final : public HttpFetcher {
 public:
  explicit FakeFetcher(core::FakeClock& clock) : clock_(clock) {}
  core::Status Fetch(const FetchRequest& request, FetchResponse& response,
                     FetchError* error) override {
    requests.push_back(request);
    clock_.AdvanceMs(latency_ms);
    *error = fail;
    if (fail != FetchError::kNone) return core::Fail(core::ErrorCode::kUnavailable, "fake failure");
    response.status = status;
    response.content_type = content_type;
    response.body = body;
    return {};
  }
  core::FakeClock& clock_;
  int64_t latency_ms = 250;
  FetchError fail = FetchError::kNone;
  int status = 200;
  std::string content_type = "text/plain; version=0.0.4";
  std::string body;
  std::vector<FetchRequest> requests;
};

ScrapeConfig BaseConfig() {
  ScrapeConfig c;
  c.job_name = "node";
  c.scrape_interval_ms = 15'000;
  c.scrape_timeout_ms = 5'000;
  c.static_configs.push_back({{"host-a:9100"}, {}});
  return c;
}

class ScrapeTargetTest : public ::testing::Test {
 protected:
  ScrapeTargetTest() : clock_(kNow), fetcher_(clock_) {}
  ScrapeTarget& Make(const ScrapeConfig& c) {
    target_ = std::make_unique<ScrapeTarget>(c, TargetsOf(c).at(0), fetcher_, sink_, clock_);
    return *target_;
  }
  core::FakeClock clock_;
  FakeFetcher fetcher_;
  RecordingSink sink_;
  std::unique_ptr<ScrapeTarget> target_;
};

TEST_F(ScrapeTargetTest, WritesSamplesWithTargetLabelsAndReport) {
  auto& t = Make(BaseConfig());
  fetcher_.body = "# TYPE a counter\na_total{x=\"1\"} 3\nb 4.5 1699999999000\n";
  const ScrapeResult r = t.ScrapeOnce(kNow);
  EXPECT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.samples_scraped, 2u);
  EXPECT_EQ(r.series_added, 2u);
  ASSERT_EQ(sink_.commits.size(), 1u);
  const auto& batch = sink_.commits[0];
  ASSERT_EQ(batch.size(), 7u);  // 2 samples + 5 report series
  EXPECT_EQ(batch[0].series, "a_total{instance=\"host-a:9100\",job=\"node\",x=\"1\"}");
  EXPECT_EQ(batch[0].t, kNow);
  EXPECT_EQ(batch[1].series, "b{instance=\"host-a:9100\",job=\"node\"}");
  EXPECT_EQ(batch[1].t, 1699999999000);  // honor_timestamps
  EXPECT_EQ(sink_.Report("up"), 1);
  EXPECT_DOUBLE_EQ(sink_.Report("scrape_duration_seconds"), 0.25);
  EXPECT_EQ(sink_.Report("scrape_samples_scraped"), 2);
  EXPECT_EQ(sink_.Report("scrape_samples_post_metric_relabeling"), 2);
  EXPECT_EQ(sink_.Report("scrape_series_added"), 2);
  for (const Written& w : batch) {
    if (RecordingSink::IsReport(w.series)) {
      EXPECT_EQ(w.t, kNow);
      EXPECT_THAT(w.series, HasSubstr("{instance=\"host-a:9100\",job=\"node\"}"));
    }
  }
  // Second scrape: the series are cached (none added).
  EXPECT_EQ(t.ScrapeOnce(kNow + 15'000).series_added, 0u);
}

TEST_F(ScrapeTargetTest, HonorTimestampsOff) {
  ScrapeConfig c = BaseConfig();
  c.honor_timestamps = false;
  auto& t = Make(c);
  fetcher_.body = "b 4.5 1699999999000\n";
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  EXPECT_EQ(sink_.commits[0][0].t, kNow);
}

TEST_F(ScrapeTargetTest, HonorLabelsFalseRenamesConflicts) {
  ScrapeConfig c = BaseConfig();
  c.static_configs[0].labels = {{"env", "prod"}};
  auto& t = Make(c);
  fetcher_.body =
      "m{job=\"scraped\",instance=\"i\",env=\"dev\",exported_env=\"x\",k=\"v\"} 1\n"
      "n{job=\"\"} 2\n";
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  EXPECT_THAT(sink_.Last(),
              ElementsAre("m{env=\"prod\",exported_env=\"x\",exported_exported_env=\"dev\","
                          "exported_instance=\"i\",exported_job=\"scraped\",instance=\"host-a:9100\","
                          "job=\"node\",k=\"v\"}=1",
                          "n{env=\"prod\",instance=\"host-a:9100\",job=\"node\"}=2"));
}

TEST_F(ScrapeTargetTest, HonorLabelsTrueKeepsScrapedLabels) {
  ScrapeConfig c = BaseConfig();
  c.honor_labels = true;
  c.static_configs[0].labels = {{"env", "prod"}};
  auto& t = Make(c);
  fetcher_.body = "m{job=\"scraped\",env=\"dev\"} 1\nn 2\n";
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  EXPECT_THAT(sink_.Last(),
              ElementsAre("m{env=\"dev\",instance=\"host-a:9100\",job=\"scraped\"}=1",
                          "n{env=\"prod\",instance=\"host-a:9100\",job=\"node\"}=2"));
  // Report series always carry the target's own labels.
  EXPECT_THAT(sink_.Last(true), ::testing::Contains(
                                    "up{env=\"prod\",instance=\"host-a:9100\",job=\"node\"}=1"));
}

TEST_F(ScrapeTargetTest, FlappingSeriesGetStaleMarkers) {
  auto& t = Make(BaseConfig());
  fetcher_.body = "a 1\nb 2\nc 3 1699999990000\n";
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  fetcher_.body = "a 1\n";  // b and c vanish; c had an explicit timestamp: no marker
  ScrapeResult r = t.ScrapeOnce(kNow + 15'000);
  ASSERT_TRUE(r.up);
  EXPECT_EQ(r.stale_markers, 1u);
  EXPECT_THAT(sink_.Last(), ElementsAre("a{instance=\"host-a:9100\",job=\"node\"}=1",
                                        "b{instance=\"host-a:9100\",job=\"node\"}=stale"));
  EXPECT_EQ(sink_.commits.back()[1].t, kNow + 15'000);
  fetcher_.body = "a 1\nb 5\n";  // b is back: a new sample, no marker
  r = t.ScrapeOnce(kNow + 30'000);
  EXPECT_EQ(r.stale_markers, 0u);
  EXPECT_THAT(sink_.Last(), ElementsAre("a{instance=\"host-a:9100\",job=\"node\"}=1",
                                        "b{instance=\"host-a:9100\",job=\"node\"}=5"));
  fetcher_.body = "b 6\n";
  r = t.ScrapeOnce(kNow + 45'000);
  EXPECT_THAT(sink_.Last(), ElementsAre("b{instance=\"host-a:9100\",job=\"node\"}=6",
                                        "a{instance=\"host-a:9100\",job=\"node\"}=stale"));
  // A vanished series is marked once, not on every later scrape.
  r = t.ScrapeOnce(kNow + 60'000);
  EXPECT_EQ(r.stale_markers, 0u);
}

TEST_F(ScrapeTargetTest, FailedScrapeMarksEverythingStaleOnce) {
  auto& t = Make(BaseConfig());
  fetcher_.body = "a 1\nb 2\n";
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  fetcher_.status = 500;
  ScrapeResult r = t.ScrapeOnce(kNow + 15'000);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error, "server returned HTTP status 500");
  EXPECT_THAT(sink_.Last(), ElementsAre("a{instance=\"host-a:9100\",job=\"node\"}=stale",
                                        "b{instance=\"host-a:9100\",job=\"node\"}=stale"));
  EXPECT_EQ(sink_.Report("up"), 0);
  EXPECT_EQ(sink_.Report("scrape_samples_scraped"), 0);
  r = t.ScrapeOnce(kNow + 30'000);
  EXPECT_EQ(r.stale_markers, 0u);
  EXPECT_THAT(sink_.Last(), IsEmpty());
  fetcher_.status = 200;
  r = t.ScrapeOnce(kNow + 45'000);
  EXPECT_TRUE(r.up);
  EXPECT_EQ(sink_.Last().size(), 2u);
}

TEST_F(ScrapeTargetTest, MarkStaleOnRemoval) {
  auto& t = Make(BaseConfig());
  fetcher_.body = "a 1\n";
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  t.MarkStale(kNow + 1'000);
  EXPECT_THAT(sink_.Last(true),
              ElementsAre("a{instance=\"host-a:9100\",job=\"node\"}=stale",
                          "up{instance=\"host-a:9100\",job=\"node\"}=stale",
                          "scrape_duration_seconds{instance=\"host-a:9100\",job=\"node\"}=stale",
                          "scrape_samples_scraped{instance=\"host-a:9100\",job=\"node\"}=stale",
                          "scrape_samples_post_metric_relabeling{instance=\"host-a:9100\",job=\"node\"}=stale",
                          "scrape_series_added{instance=\"host-a:9100\",job=\"node\"}=stale"));
  for (const Written& w : sink_.commits.back()) EXPECT_EQ(w.t, kNow + 1'000);
}

TEST_F(ScrapeTargetTest, DuplicateSeriesKeepsTheFirst) {
  auto& t = Make(BaseConfig());
  fetcher_.body = "a 1\na 2\na{} 3\n";
  const ScrapeResult r = t.ScrapeOnce(kNow);
  EXPECT_TRUE(r.up);
  EXPECT_EQ(r.duplicates, 1u);  // "a{}" is different text: a second cache entry
  EXPECT_EQ(sink_.Last().front(), "a{instance=\"host-a:9100\",job=\"node\"}=1");
}

TEST_F(ScrapeTargetTest, NaNIsNotStale) {
  auto& t = Make(BaseConfig());
  fetcher_.body = "a NaN\n";
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  EXPECT_THAT(sink_.Last(), ElementsAre("a{instance=\"host-a:9100\",job=\"node\"}=NaN"));
}

struct LimitCase {
  const char* name;
  void (*set)(ScrapeConfig&);
  std::string body;
  std::string error;  // empty: the scrape succeeds
};

TEST_F(ScrapeTargetTest, LimitsFailTheWholeScrape) {
  const LimitCase cases[] = {
      {"sample_limit ok", [](ScrapeConfig& c) { c.sample_limit = 2; }, "a 1\nb 2\n", ""},
      {"sample_limit exceeded", [](ScrapeConfig& c) { c.sample_limit = 2; }, "a 1\nb 2\nc 3\nd 4\n",
       "sample_limit exceeded (4 samples, limit 2)"},
      // __name__ + x + job + instance = 4 labels.
      {"label_limit ok", [](ScrapeConfig& c) { c.label_limit = 4; }, "a{x=\"1\"} 1\n", ""},
      {"label_limit exceeded", [](ScrapeConfig& c) { c.label_limit = 3; }, "a 1\na2{x=\"1\"} 1\n",
       "label_limit exceeded (metric: a2, number of labels: 4, limit: 3)"},
      {"label name length", [](ScrapeConfig& c) { c.label_name_length_limit = 8; },
       "a{abcdefghi=\"1\"} 1\n",
       "label_name_length_limit exceeded (metric: a, label name: abcdefghi, length: 9, limit: 8)"},
      {"label value length", [](ScrapeConfig& c) { c.label_value_length_limit = 11; },
       "a{x=\"123456789012\"} 1\n",
       "label_value_length_limit exceeded (metric: a, label name: x, value: \"123456789012\", "
       "length: 12, limit: 11)"},
      {"label value length ok", [](ScrapeConfig& c) { c.label_value_length_limit = 11; },
       "a{x=\"12345678901\"} 1\n", ""},
      {"parse error", [](ScrapeConfig&) {}, "a 1\nb{ 2\n", "line 2, column 4: expected label name"},
  };
  for (const LimitCase& lc : cases) {
    SCOPED_TRACE(lc.name);
    ScrapeConfig c = BaseConfig();
    lc.set(c);
    RecordingSink sink;
    ScrapeTarget t(c, TargetsOf(c).at(0), fetcher_, sink, clock_);
    // A good scrape first, so a failing one must mark its series stale.
    fetcher_.body = "first 1\n";
    ASSERT_TRUE(t.ScrapeOnce(kNow).up);
    fetcher_.body = lc.body;
    const ScrapeResult r = t.ScrapeOnce(kNow + 15'000);
    if (lc.error.empty()) {
      EXPECT_TRUE(r.up) << r.error;
      EXPECT_EQ(sink.Report("up"), 1);
      continue;
    }
    EXPECT_FALSE(r.up);
    EXPECT_THAT(r.error, HasSubstr(lc.error));
    EXPECT_EQ(sink.Report("up"), 0);
    // Nothing of the failed body is written; the old series go stale.
    EXPECT_THAT(sink.Last(), ElementsAre("first{instance=\"host-a:9100\",job=\"node\"}=stale"));
  }
}

TEST_F(ScrapeTargetTest, LabelNameLengthLimitCountsName) {
  ScrapeConfig c = BaseConfig();
  c.label_name_length_limit = 7;  // "__name__" has 8
  auto& t = Make(c);
  fetcher_.body = "a 1\n";
  const ScrapeResult r = t.ScrapeOnce(kNow);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error,
            "label_name_length_limit exceeded (metric: a, label name: __name__, length: 8, limit: 7)");
}

TEST_F(ScrapeTargetTest, SampleLimitReportsTheScrapedCount) {
  ScrapeConfig c = BaseConfig();
  c.sample_limit = 1;
  auto& t = Make(c);
  fetcher_.body = "a 1\nb 2\nc 3\n";
  EXPECT_FALSE(t.ScrapeOnce(kNow).up);
  EXPECT_EQ(sink_.Report("scrape_samples_scraped"), 3);
}

TEST_F(ScrapeTargetTest, FetchErrorsAreWordedLikePrometheus) {
  auto& t = Make(BaseConfig());
  fetcher_.fail = FetchError::kTimeout;
  EXPECT_EQ(t.ScrapeOnce(kNow).error, "context deadline exceeded (scrape_timeout 5s)");
  fetcher_.fail = FetchError::kBodyTooLarge;
  EXPECT_THAT(t.ScrapeOnce(kNow).error, HasSubstr("body size limit exceeded"));
  fetcher_.fail = FetchError::kTransport;
  EXPECT_EQ(t.ScrapeOnce(kNow).error, "fake failure");
  EXPECT_EQ(sink_.Report("up"), 0);
}

TEST_F(ScrapeTargetTest, OpenMetricsByContentType) {
  auto& t = Make(BaseConfig());
  fetcher_.content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
  fetcher_.body = "a_total 1 1699999999.5 # {trace=\"x\"} 1\n# EOF\n";
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  EXPECT_EQ(sink_.commits[0][0].t, 1699999999500);
  fetcher_.body = "a_total 1\n";  // no # EOF: fails as OpenMetrics
  const ScrapeResult r = t.ScrapeOnce(kNow + 15'000);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("data does not end with # EOF"));
}

TEST_F(ScrapeTargetTest, RequestHeadersAndUrl) {
  ScrapeConfig c = BaseConfig();
  c.metrics_path = "/probe";
  c.params = {{"module", "http 2xx"}, {"target", "a&b"}};
  c.bearer_token = "s3cret";
  auto& t = Make(c);
  t.ScrapeOnce(kNow);
  ASSERT_EQ(fetcher_.requests.size(), 1u);
  const FetchRequest& req = fetcher_.requests[0];
  EXPECT_EQ(req.url, "http://host-a:9100/probe?module=http%202xx&target=a%26b");
  EXPECT_EQ(req.timeout_ms, 5'000);
  std::map<std::string, std::string> h(req.headers.begin(), req.headers.end());
  EXPECT_EQ(h["Authorization"], "Bearer s3cret");
  EXPECT_EQ(h["Accept"], std::string(kAcceptHeader));
  EXPECT_EQ(h["X-Prometheus-Scrape-Timeout-Seconds"], "5");

  c.bearer_token.clear();
  c.basic_auth = BasicAuth{"Aladdin", "open sesame"};
  FakeFetcher f2(clock_);
  ScrapeTarget t2(c, TargetsOf(c).at(0), f2, sink_, clock_);
  t2.ScrapeOnce(kNow);
  std::map<std::string, std::string> h2(f2.requests[0].headers.begin(), f2.requests[0].headers.end());
  EXPECT_EQ(h2["Authorization"], "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST_F(ScrapeTargetTest, JitteredScheduleIsStableAndSpread) {
  ScrapeConfig c = BaseConfig();
  c.static_configs[0].targets.clear();
  for (int i = 0; i < 50; ++i) c.static_configs[0].targets.push_back("host-" + std::to_string(i) + ":9100");
  std::set<int64_t> offsets;
  for (const TargetSpec& spec : TargetsOf(c)) {
    ScrapeTarget t(c, spec, fetcher_, sink_, clock_);
    const int64_t next = t.NextScrapeMs(kNow);
    EXPECT_GE(next, kNow);
    EXPECT_LT(next, kNow + c.scrape_interval_ms);
    EXPECT_EQ(t.NextScrapeMs(next), next);  // on the schedule already
    EXPECT_EQ(t.NextScrapeMs(next + 1), next + c.scrape_interval_ms);
    EXPECT_EQ(next % c.scrape_interval_ms, ScrapeOffsetMs(c.scrape_interval_ms, t.hash()));
    ScrapeTarget same(c, spec, fetcher_, sink_, clock_);
    EXPECT_EQ(same.NextScrapeMs(kNow), next);
    offsets.insert(next % c.scrape_interval_ms);
  }
  EXPECT_GT(offsets.size(), 45u);
  // Spread over the interval, not bunched at its start.
  EXPECT_GT(*offsets.rbegin() - *offsets.begin(), c.scrape_interval_ms / 2);
}

TEST(ScrapeConfigTest, TargetsOfAddsJobAndInstance) {
  ScrapeConfig c = BaseConfig();
  c.static_configs = {{{"a:1", "b:2", "a:1"}, {{"env", "prod"}, {"empty", ""}}},
                      {{"c:3"}, {{"instance", "custom"}, {"job", "override"}}}};
  const auto targets = TargetsOf(c);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].address, "a:1");
  EXPECT_EQ(SeriesText(targets[0].labels), "{env=\"prod\",instance=\"a:1\",job=\"node\"}");
  EXPECT_EQ(SeriesText(targets[1].labels), "{env=\"prod\",instance=\"b:2\",job=\"node\"}");
  EXPECT_EQ(SeriesText(targets[2].labels), "{instance=\"custom\",job=\"override\"}");
  EXPECT_EQ(ScrapeUrl(c, "a:1"), "http://a:1/metrics");
}

struct ConfigCase {
  const char* name;
  void (*mutate)(ScrapeConfig&);
  std::string param;  // empty: valid
  std::string message;
};

TEST(ScrapeConfigTest, Validation) {
  const ConfigCase cases[] = {
      {"base", [](ScrapeConfig&) {}, "", ""},
      {"https", [](ScrapeConfig& c) { c.scheme = "https"; }, "", ""},
      {"no job", [](ScrapeConfig& c) { c.job_name.clear(); }, "scrape_configs[].job_name", "job_name"},
      {"zero interval", [](ScrapeConfig& c) { c.scrape_interval_ms = 0; },
       "scrape_configs[job=node].scrape_interval", "positive"},
      {"timeout above interval", [](ScrapeConfig& c) { c.scrape_timeout_ms = 20'000; },
       "scrape_configs[job=node].scrape_timeout", "not greater than scrape_interval"},
      {"path", [](ScrapeConfig& c) { c.metrics_path = "metrics"; },
       "scrape_configs[job=node].metrics_path", "must start with '/'"},
      {"scheme", [](ScrapeConfig& c) { c.scheme = "ftp"; }, "scrape_configs[job=node].scheme",
       "http or https"},
      {"two auths", [](ScrapeConfig& c) {
         c.bearer_token = "t";
         c.basic_auth = BasicAuth{"u", "p"};
       }, "scrape_configs[job=node].basic_auth", "at most one"},
      {"basic auth without user", [](ScrapeConfig& c) { c.basic_auth = BasicAuth{"", "p"}; },
       "scrape_configs[job=node].basic_auth.username", "username"},
      {"negative body limit", [](ScrapeConfig& c) { c.body_size_limit = -1; },
       "scrape_configs[job=node].body_size_limit", "negative"},
      {"url as target", [](ScrapeConfig& c) { c.static_configs[0].targets = {"http://x:1/metrics"}; },
       "scrape_configs[job=node].static_configs[0].targets[0]", "host:port"},
      {"empty target", [](ScrapeConfig& c) { c.static_configs[0].targets = {""}; },
       "scrape_configs[job=node].static_configs[0].targets[0]", "empty"},
      {"bad label", [](ScrapeConfig& c) { c.static_configs[0].labels = {{"1x", "v"}}; },
       "scrape_configs[job=node].static_configs[0].labels.1x", "invalid label name"},
      {"reserved label", [](ScrapeConfig& c) { c.static_configs[0].labels = {{"__address__", "v"}}; },
       "scrape_configs[job=node].static_configs[0].labels.__address__", "not start with __"},
      {"duplicate label", [](ScrapeConfig& c) { c.static_configs[0].labels = {{"a", "1"}, {"a", "2"}}; },
       "scrape_configs[job=node].static_configs[0].labels.a", "duplicate"},
  };
  for (const ConfigCase& cc : cases) {
    SCOPED_TRACE(cc.name);
    ScrapeConfig c = BaseConfig();
    cc.mutate(c);
    auto s = ValidateScrapeConfig(c);
    if (cc.param.empty()) {
      EXPECT_TRUE(s.has_value()) << s.error().message;
      continue;
    }
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, core::ErrorCode::kInvalidRequest);
    EXPECT_EQ(s.error().param, cc.param);
    EXPECT_THAT(s.error().message, HasSubstr(cc.message));
  }
  auto dup = ValidateScrapeConfigs({BaseConfig(), BaseConfig()});
  ASSERT_FALSE(dup.has_value());
  EXPECT_THAT(dup.error().message, HasSubstr("duplicate job_name \"node\""));
}

// --- Against real HTTP servers on 127.0.0.1 (core::HttpServer), through libcurl.

std::string Gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A /metrics server whose answer the test sets; records request headers.
class TestTargetServer {
 public:
  TestTargetServer() {
    core::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.num_threads = 4;
    options.shutdown_grace_ms = 100;
    options.request_timeout_ms = 200;
    auto s = core::HttpServer::Start(options, [this](const core::HttpRequest& req,
                                                     core::HttpResponse& resp) {
      int delay_ms;
      {
        std::lock_guard lock(mu_);
        last_headers_.clear();
        for (const auto& [k, v] : req.headers) last_headers_[k] = v;
        last_path_ = req.path + "?" + req.query_string;
        resp.status = status_;
        resp.content_type = content_type_;
        resp.body = gzip_ ? Gzip(body_) : body_;
        if (gzip_) resp.headers.emplace_back("Content-Encoding", "gzip");
        delay_ms = delay_ms_;
      }
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    });
    EXPECT_TRUE(s.has_value());
    server_ = std::move(*s);
  }
  ~TestTargetServer() { server_->Stop(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  void Set(int status, std::string body, std::string content_type = "text/plain; version=0.0.4",
           int delay_ms = 0, bool gzip = false) {
    std::lock_guard lock(mu_);
    status_ = status;
    body_ = std::move(body);
    content_type_ = std::move(content_type);
    delay_ms_ = delay_ms;
    gzip_ = gzip;
  }
  std::string Header(const std::string& name) {
    std::lock_guard lock(mu_);
    return last_headers_[name];
  }
  std::string Path() {
    std::lock_guard lock(mu_);
    return last_path_;
  }

 private:
  std::mutex mu_;
  int status_ = 200;
  std::string body_;
  std::string content_type_;
  int delay_ms_ = 0;
  bool gzip_ = false;
  std::map<std::string, std::string> last_headers_;
  std::string last_path_;
  std::unique_ptr<core::HttpServer> server_;
};

// One server for all HTTP tests (stopping civetweb takes ~2 s).
class ScrapeHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_ = new TestTargetServer(); }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  ScrapeHttpTest() : clock_(kNow) { server_.Set(200, ""); }

  ScrapeConfig Config() {
    ScrapeConfig c;
    c.job_name = "live";
    c.scrape_interval_ms = 1'000;
    c.scrape_timeout_ms = 1'000;
    c.static_configs.push_back({{server_.address()}, {}});
    return c;
  }
  static TestTargetServer* shared_;
  TestTargetServer& server_ = *shared_;
  CurlFetcher fetcher_;
  core::FakeClock clock_;
  RecordingSink sink_;
};

TestTargetServer* ScrapeHttpTest::shared_ = nullptr;

TEST_F(ScrapeHttpTest, ScrapesAndSendsHeaders) {
  ScrapeConfig c = Config();
  c.basic_auth = BasicAuth{"user", "pa:ss"};
  c.params = {{"module", "x y"}};
  ScrapeTarget t(c, TargetsOf(c).at(0), fetcher_, sink_, clock_);
  server_.Set(200, "# HELP a x\n# TYPE a gauge\na{k=\"v\"} 1.5\n");
  const ScrapeResult r = t.ScrapeOnce(kNow);
  ASSERT_TRUE(r.up) << r.error;
  EXPECT_THAT(sink_.Last(), ElementsAre("a{instance=\"" + server_.address() +
                                        "\",job=\"live\",k=\"v\"}=1.5"));
  EXPECT_EQ(server_.Header("authorization"), "Basic dXNlcjpwYTpzcw==");
  EXPECT_EQ(server_.Header("accept"), std::string(kAcceptHeader));
  EXPECT_THAT(server_.Header("accept-encoding"), HasSubstr("gzip"));
  EXPECT_EQ(server_.Header("x-prometheus-scrape-timeout-seconds"), "1");
  EXPECT_EQ(server_.Path(), "/metrics?module=x%20y");
}

TEST_F(ScrapeHttpTest, BearerTokenAndGzipAndOpenMetrics) {
  ScrapeConfig c = Config();
  c.bearer_token = "tok";
  ScrapeTarget t(c, TargetsOf(c).at(0), fetcher_, sink_, clock_);
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "m{i=\"" + std::to_string(i) + "\"} " + std::to_string(i) + "\n";
  body += "# EOF\n";
  server_.Set(200, body, "application/openmetrics-text; version=1.0.0", 0, /*gzip=*/true);
  const ScrapeResult r = t.ScrapeOnce(kNow);
  ASSERT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.samples_scraped, 2000u);
  EXPECT_EQ(server_.Header("authorization"), "Bearer tok");
}

TEST_F(ScrapeHttpTest, FailingTarget) {
  ScrapeConfig c = Config();
  ScrapeTarget t(c, TargetsOf(c).at(0), fetcher_, sink_, clock_);
  server_.Set(200, "a 1\n");
  ASSERT_TRUE(t.ScrapeOnce(kNow).up);
  server_.Set(500, "boom");
  const ScrapeResult r = t.ScrapeOnce(kNow + 1'000);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error, "server returned HTTP status 500");
  EXPECT_EQ(sink_.Report("up"), 0);
  EXPECT_EQ(r.stale_markers, 1u);
}

TEST_F(ScrapeHttpTest, SlowTargetTimesOut) {
  ScrapeConfig c = Config();
  c.scrape_timeout_ms = 150;
  ScrapeTarget t(c, TargetsOf(c).at(0), fetcher_, sink_, clock_);
  server_.Set(200, "a 1\n", "text/plain", /*delay_ms=*/1'000);
  const auto start = std::chrono::steady_clock::now();
  const ScrapeResult r = t.ScrapeOnce(kNow);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error, "context deadline exceeded (scrape_timeout 0.15s)");
  EXPECT_LT(took, std::chrono::milliseconds(900));
  EXPECT_EQ(sink_.Report("up"), 0);
}

TEST_F(ScrapeHttpTest, OversizedBodyFails) {
  ScrapeConfig c = Config();
  c.body_size_limit = 1'000;
  ScrapeTarget t(c, TargetsOf(c).at(0), fetcher_, sink_, clock_);
  std::string big;
  for (int i = 0; i < 200; ++i) big += "metric_" + std::to_string(i) + " 1\n";
  for (bool gzip : {false, true}) {  // the limit applies to the decoded body
    SCOPED_TRACE(gzip ? "gzip" : "identity");
    server_.Set(200, big, "text/plain", 0, gzip);
    const ScrapeResult r = t.ScrapeOnce(kNow);
    EXPECT_FALSE(r.up);
    EXPECT_EQ(r.error, "body size limit exceeded (body_size_limit 1000 bytes)");
  }
  server_.Set(200, big.substr(0, big.rfind('\n', 900) + 1));
  EXPECT_TRUE(t.ScrapeOnce(kNow + 1'000).up);
}

TEST_F(ScrapeHttpTest, UnreachableTarget) {
  ScrapeConfig c = Config();
  c.static_configs[0].targets = {"127.0.0.1:1"};
  ScrapeTarget t(c, TargetsOf(c).at(0), fetcher_, sink_, clock_);
  const ScrapeResult r = t.ScrapeOnce(kNow);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("Get \"http://127.0.0.1:1/metrics\""));
  EXPECT_EQ(sink_.Report("up"), 0);
}

TEST_F(ScrapeHttpTest, FlappingTarget) {
  ScrapeConfig c = Config();
  ScrapeTarget t(c, TargetsOf(c).at(0), fetcher_, sink_, clock_);
  const std::string inst = "{instance=\"" + server_.address() + "\",job=\"live\"}";
  int64_t now = kNow;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    server_.Set(200, "a 1\nb 2\n");
    ASSERT_TRUE(t.ScrapeOnce(now += 1'000).up);
    EXPECT_THAT(sink_.Last(), ElementsAre("a" + inst + "=1", "b" + inst + "=2"));
    server_.Set(200, "a 1\n");
    ASSERT_TRUE(t.ScrapeOnce(now += 1'000).up);
    EXPECT_THAT(sink_.Last(), ElementsAre("a" + inst + "=1", "b" + inst + "=stale"));
    server_.Set(503, "");
    EXPECT_FALSE(t.ScrapeOnce(now += 1'000).up);
    EXPECT_THAT(sink_.Last(), ElementsAre("a" + inst + "=stale"));
  }
}

}  // namespace
}  // namespace scrape

#include "exporter/point_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/http.h"

namespace exporter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using store::MetricType;

constexpr int64_t kNow = 1'736'937'000'000;  // 2025-01-15T10:30:00Z
constexpr int64_t kDay = 86'400'000;
constexpr int64_t kRetention = 15 * kDay;

DecodeContext Ctx() {
  DecodeContext ctx;
  ctx.now_ms = kNow;
  ctx.retention_ms = kRetention;
  return ctx;  // default limits: API.md section 2
}

// A body with the spare capacity the HTTP server guarantees.
std::string Padded(std::string body) {
  body.reserve(body.size() + core::kBodyPadding);
  return body;
}

std::string Tags(const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string out = "{";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"" + tags[i].first + "\":\"" + tags[i].second + "\"";
  }
  return out + "}";
}

std::string ManyTags(int n) {
  std::vector<std::pair<std::string, std::string>> tags;
  for (int i = 0; i < n; ++i) tags.emplace_back("k" + std::to_string(i), "v");
  return Tags(tags);
}

std::string Point(const std::string& fields) { return "{\"name\":\"m\",\"value\":1," + fields + "}"; }

std::string Batch(const std::vector<std::string>& points) {
  std::string out = "{\"points\":[";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0) out += ",";
    out += points[i];
  }
  return out + "]}";
}

std::vector<std::pair<std::string, std::string>> TagPairs(const DecodedPoint& p) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const store::LabelView& l : p.tags) out.emplace_back(l.name, l.value);
  return out;
}

// ---------------------------------------------------------------------------
// Names

TEST(NormalizeMetricNameTest, ReplacesDotsDashesAndSlashes) {
  EXPECT_EQ(NormalizeMetricName("api.latency"), "api_latency");
  EXPECT_EQ(NormalizeMetricName("a-b/c.d:e_f"), "a_b_c_d:e_f");
  EXPECT_EQ(NormalizeMetricName("plain"), "plain");
  EXPECT_EQ(NormalizeMetricName(""), "");
}

TEST(ValidateMetricNameTest, Table) {
  const config::LimitsConfig limits;
  struct Case {
    std::string name;
    bool ok;
  };
  const Case cases[] = {
      {"a", true},
      {"_", true},
      {":", true},
      {"api.latency", true},
      {"a-b/c:d_e9", true},
      {"A_Z", true},
      {std::string(200, 'x'), true},
      {"", false},
      {std::string(201, 'x'), false},
      {"9lives", false},
      {".a", false},
      {"-a", false},
      {"/a", false},
      {"a b", false},
      {"a$b", false},
      {"a\"b", false},
      {"caf\xC3\xA9", false},
      {std::string("a\0b", 3), false},
      {"a{b}", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("'" + c.name.substr(0, 20) + "'");
    const core::Status st = ValidateMetricName(c.name, limits, "points[2].name");
    EXPECT_EQ(st.has_value(), c.ok);
    if (!st.has_value()) {
      EXPECT_EQ(st.error().code, core::ErrorCode::kInvalidRequest);
      EXPECT_EQ(st.error().param, "points[2].name");
    }
  }
}

// ---------------------------------------------------------------------------
// DecodeReport: accepted points

struct GoodCase {
  std::string body;
  std::string name;
  MetricType type;
  double value;
  int64_t ts_ms;
  std::vector<std::pair<std::string, std::string>> tags;
};

TEST(PointFromLabelsTest, NameFromDunderNameOtherLabelsAsTagViews) {
  const core::Labels labels({{"__name__", "job:up:sum"}, {"instance", "a:1"}, {"job", "node"}});
  const DecodedPoint d = PointFromLabels(labels, 1234, 2.5, MetricType::kRecorded, 7);
  EXPECT_EQ(d.name, "job:up:sum");
  EXPECT_EQ(d.type, MetricType::kRecorded);
  EXPECT_EQ(d.ts_ms, 1234);
  EXPECT_EQ(d.value, 2.5);
  EXPECT_EQ(d.index, 7u);
  ASSERT_THAT(d.tags, SizeIs(2));
  EXPECT_EQ(d.tags[0].name, "instance");
  EXPECT_EQ(d.tags[0].value, "a:1");
  EXPECT_EQ(d.tags[1].name, "job");
  EXPECT_EQ(d.tags[1].value, "node");
  // Views into `labels`, not copies.
  EXPECT_EQ(d.tags[1].value.data(), labels.items()[2].value.data());
}

TEST(PointDecoderTest, GoodReports) {
  const std::string kv1024(1024, 'v');
  const std::string k100(100, 'k');
  const std::vector<GoodCase> cases = {
      {R"({"name":"cpu","value":1})", "cpu", MetricType::kGauge, 1, kNow, {}},
      {R"({"name":"api.latency","value":12.5,"type":"timing"})", "api_latency",
       MetricType::kTiming, 12.5, kNow, {}},
      {R"({"name":"a-b/c.d:e","value":1})", "a_b_c_d:e", MetricType::kGauge, 1, kNow, {}},
      {R"({"name":"requests","value":0,"type":"counter"})", "requests", MetricType::kCounter, 0,
       kNow, {}},
      {R"({"name":"requests","value":3,"type":"counter"})", "requests", MetricType::kCounter, 3,
       kNow, {}},
      {R"({"name":"temp","value":-5.25,"type":"gauge"})", "temp", MetricType::kGauge, -5.25, kNow,
       {}},
      {R"({"name":"delta","value":-7,"type":"distribution"})", "delta",
       MetricType::kDistribution, -7, kNow, {}},
      {R"({"name":"t","value":0,"type":"timing"})", "t", MetricType::kTiming, 0, kNow, {}},
      {R"({"name":"big","value":1E2})", "big", MetricType::kGauge, 100, kNow, {}},
      {R"({"name":"big","value":18446744073709551615})", "big", MetricType::kGauge,
       18446744073709551615.0, kNow, {}},
      {R"({"name":"big","value":-1.7976931348623157e308})", "big", MetricType::kGauge,
       -1.7976931348623157e308, kNow, {}},
      {R"({"value":2,"name":"order"})", "order", MetricType::kGauge, 2, kNow, {}},
      {"{\"name\":\"" + std::string(200, 'n') + "\",\"value\":1}", std::string(200, 'n'),
       MetricType::kGauge, 1, kNow, {}},
      // Tags: sorted by key, null and {} mean none, UTF-8 and escapes decoded.
      {R"({"name":"m","value":1,"tags":{"zone":"eu","host":"a"}})", "m", MetricType::kGauge, 1,
       kNow, {{"host", "a"}, {"zone", "eu"}}},
      {R"({"name":"m","value":1,"tags":null})", "m", MetricType::kGauge, 1, kNow, {}},
      {R"({"name":"m","value":1,"tags":{}})", "m", MetricType::kGauge, 1, kNow, {}},
      {R"({"name":"m","value":1,"tags":{"city":"Z\u00fcrich","emoji":"😀","empty":""}})", "m",
       MetricType::kGauge, 1, kNow,
       {{"city", "Z\xC3\xBCrich"}, {"emoji", "\xF0\x9F\x98\x80"}, {"empty", ""}}},
      {R"({"name":"m","value":1,"tags":{"q":"a\"b\\c\nd"}})", "m", MetricType::kGauge, 1, kNow,
       {{"q", "a\"b\\c\nd"}}},
      {R"({"name":"m","value":1,"tags":{"_private":"x","A9":"y"}})", "m", MetricType::kGauge, 1,
       kNow, {{"A9", "y"}, {"_private", "x"}}},
      {"{\"name\":\"m\",\"value\":1,\"tags\":{\"k\":\"" + kv1024 + "\"}}", "m",
       MetricType::kGauge, 1, kNow, {{"k", kv1024}}},
      {"{\"name\":\"m\",\"value\":1,\"tags\":{\"" + k100 + "\":\"v\"}}", "m", MetricType::kGauge,
       1, kNow, {{k100, "v"}}},
      // Timestamps: ISO 8601 with offsets and fractions, unix seconds and milliseconds.
      {Point(R"("timestamp":"2025-01-15T10:25:00Z")"), "m", MetricType::kGauge, 1,
       kNow - 300'000, {}},
      {Point(R"("timestamp":"2025-01-15T12:25:00.250+02:00")"), "m", MetricType::kGauge, 1,
       kNow - 300'000 + 250, {}},
      {Point(R"("timestamp":1736936700)"), "m", MetricType::kGauge, 1, kNow - 300'000, {}},
      {Point(R"("timestamp":1736936700.5)"), "m", MetricType::kGauge, 1, kNow - 299'500, {}},
      {Point(R"("timestamp":1736936700000)"), "m", MetricType::kGauge, 1, kNow - 300'000, {}},
      {Point(R"("timestamp":1736936700123)"), "m", MetricType::kGauge, 1, kNow - 299'877, {}},
      {Point(R"("timestamp":null)"), "m", MetricType::kGauge, 1, kNow, {}},
      // Edges: exactly 10 minutes ahead, exactly the retention ago.
      {Point(R"("timestamp":"2025-01-15T10:40:00Z")"), "m", MetricType::kGauge, 1,
       kNow + 600'000, {}},
      {Point(R"("timestamp":1735641000000)"), "m", MetricType::kGauge, 1, kNow - kRetention, {}},
  };
  PointDecoder decoder;
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 120));
    const std::string body = Padded(c.body);
    auto got = decoder.DecodeReport(body, Ctx());
    ASSERT_TRUE(got.has_value()) << got.error().message;
    ASSERT_THAT(got->errors, IsEmpty()) << got->errors[0].error.message;
    ASSERT_THAT(got->points, SizeIs(1));
    EXPECT_EQ(got->total, 1u);
    EXPECT_FALSE(got->is_batch);
    const DecodedPoint& p = got->points[0];
    EXPECT_EQ(p.name, c.name);
    EXPECT_EQ(p.type, c.type);
    EXPECT_EQ(p.value, c.value);
    EXPECT_EQ(p.ts_ms, c.ts_ms);
    EXPECT_EQ(p.index, 0u);
    EXPECT_EQ(TagPairs(p), c.tags);
    const store::PointView v = p.View();
    EXPECT_EQ(v.name, c.name);
    EXPECT_EQ(v.labels.size(), c.tags.size());
    EXPECT_EQ(v.ts_ms, c.ts_ms);
  }
}

TEST(PointDecoderTest, ThirtyTwoTagsAreAllowed) {
  PointDecoder decoder;
  const std::string body = Padded(Point("\"tags\":" + ManyTags(32)));
  auto got = decoder.DecodeReport(body, Ctx());
  ASSERT_TRUE(got.has_value());
  ASSERT_THAT(got->points, SizeIs(1));
  EXPECT_THAT(got->points[0].tags, SizeIs(32));
}

TEST(PointDecoderTest, ReportReadsIdempotencyKey) {
  PointDecoder decoder;
  const std::string body = Padded(Point(R"("idempotency_key":"req-42")"));
  auto got = decoder.DecodeReport(body, Ctx());
  ASSERT_TRUE(got.has_value());
  EXPECT_THAT(got->points, SizeIs(1));
  EXPECT_EQ(got->idempotency_key, "req-42");
  const std::string without = Padded(Point(R"("type":"gauge")"));
  auto got2 = decoder.DecodeReport(without, Ctx());
  ASSERT_TRUE(got2.has_value());
  EXPECT_EQ(got2->idempotency_key, std::nullopt);
}

TEST(PointDecoderTest, AcceptsBodiesWithoutPadding) {
  PointDecoder decoder;
  std::string body = R"({"name":"unpadded_metric_name_long_enough","value":3})";
  body.shrink_to_fit();
  auto got = decoder.DecodeReport(body, Ctx());
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_THAT(got->points, SizeIs(1));
  EXPECT_EQ(got->points[0].value, 3);
}

// ---------------------------------------------------------------------------
// DecodeReport: rejected points (the request parses; the point is refused)

struct BadCase {
  std::string body;
  std::string param;
  std::string message;  // a substring of the message
};

TEST(PointDecoderTest, BadReports) {
  const std::vector<BadCase> cases = {
      // Required fields and their types.
      {R"({})", "name", "name is required"},
      {R"({"value":1})", "name", "name is required"},
      {R"({"name":"x"})", "value", "value is required"},
      {R"({"name":"x","value":null})", "value", "must be a number"},
      {R"({"name":5,"value":1})", "name", "name must be a string, got a number"},
      {R"({"name":null,"value":1})", "name", "got null"},
      {R"({"name":["x"],"value":1})", "name", "got an array"},
      {R"({"name":{"x":1},"value":1})", "name", "got an object"},
      {R"({"name":true,"value":1})", "name", "got a boolean"},
      {R"({"name":"x","value":"1"})", "value", "value must be a number, got a string"},
      {R"({"name":"x","value":true})", "value", "got a boolean"},
      {R"({"name":"x","value":[1]})", "value", "got an array"},
      {R"({"name":"x","value":{}})", "value", "got an object"},
      {R"({"name":"x","value":1,"type":5})", "type", "type must be a string"},
      {R"({"name":"x","value":1,"type":null})", "type", "type must be a string"},
      {R"({"name":"x","value":1,"tags":[]})", "tags", "tags must be an object"},
      {R"({"name":"x","value":1,"tags":"host=a"})", "tags", "got a string"},
      {R"({"name":"x","value":1,"tags":5})", "tags", "got a number"},
      {R"({"name":"x","value":1,"timestamp":true})", "timestamp", "got a boolean"},
      {R"({"name":"x","value":1,"timestamp":{}})", "timestamp", "got an object"},
      {R"({"name":"x","value":1,"timestamp":[1]})", "timestamp", "got an array"},
      // Names.
      {R"({"name":"","value":1})", "name", "must not be empty"},
      {"{\"name\":\"" + std::string(201, 'n') + "\",\"value\":1}", "name", "limit is 200"},
      {R"({"name":"1abc","value":1})", "name", "must match"},
      {R"({"name":"a b","value":1})", "name", "must match"},
      {R"({"name":"a$b","value":1})", "name", "'a$b'"},
      {R"({"name":"caf\u00e9","value":1})", "name", "must match"},
      {R"({"name":"a\u0000b","value":1})", "name", "must match"},
      {R"({"name":".x","value":1})", "name", "must match"},
      // Types and values.
      {R"({"name":"x","value":1,"type":"histogram"})", "type",
       "not one of counter, gauge, timing, distribution"},
      {R"({"name":"x","value":1,"type":"Counter"})", "type", "'Counter'"},
      {R"({"name":"x","value":1,"type":""})", "type", "not one of"},
      {R"({"name":"x","value":-1,"type":"counter"})", "value", "must be >= 0, got -1"},
      {R"({"name":"x","value":-0.001,"type":"counter"})", "value", "must be >= 0"},
      {R"({"name":"x","value":-1,"type":"timing"})", "value", "duration in ms and must be >= 0"},
      // Tags.
      {Point("\"tags\":" + ManyTags(33)), "tags", "at most 32 tags"},
      {Point("\"tags\":" + Tags({{"k", std::string(1025, 'v')}})), "tags.k", "limit is 1024"},
      {Point("\"tags\":" + Tags({{"k", std::string(2048, 'v')}})), "tags.k", "2048 bytes"},
      {Point(R"("tags":{"__name__":"x"})"), "tags.__name__", "reserved"},
      {Point(R"("tags":{"__meta":"x"})"), "tags.__meta", "reserved"},
      {Point(R"("tags":{"1host":"x"})"), "tags.1host", "[A-Za-z_][A-Za-z0-9_]*"},
      {Point(R"("tags":{"host-name":"x"})"), "tags.host-name", "is invalid"},
      {Point(R"("tags":{"host.name":"x"})"), "tags.host.name", "is invalid"},
      {Point(R"("tags":{"a:b":"x"})"), "tags.a:b", "is invalid"},
      {Point(R"("tags":{"":"x"})"), "tags.", "is invalid"},
      {Point(R"("tags":{"h\u00f6st":"x"})"), "tags.h\xC3\xB6st", "is invalid"},
      {Point("\"tags\":{\"" + std::string(101, 'k') + "\":\"x\"}"), "tags." + std::string(100, 'k'),
       "at most 100 characters"},
      {Point(R"("tags":{"host":5})"), "tags.host", "tag value must be a string, got a number"},
      {Point(R"("tags":{"host":null})"), "tags.host", "got null"},
      {Point(R"("tags":{"host":true})"), "tags.host", "got a boolean"},
      {Point(R"("tags":{"host":{"a":"b"}})"), "tags.host", "got an object"},
      {Point(R"("tags":{"host":["a"]})"), "tags.host", "got an array"},
      {Point(R"("tags":{"host":"a","host":"b"})"), "tags.host", "duplicate tag key"},
      // Timestamps.
      {Point(R"("timestamp":"yesterday")"), "timestamp", "invalid timestamp 'yesterday'"},
      {Point(R"("timestamp":"2025-02-30T00:00:00Z")"), "timestamp", "2025-02-30"},
      {Point(R"("timestamp":"2025-01-15T10:30:00+25:00")"), "timestamp", "invalid timestamp"},
      {Point(R"("timestamp":"1736937000")"), "timestamp", "invalid timestamp"},
      {Point(R"("timestamp":"")"), "timestamp", "invalid timestamp"},
      {Point(R"("timestamp":-5)"), "timestamp", "must not be negative"},
      {Point(R"("timestamp":1e15)"), "timestamp", "out of range"},
      {Point(R"("timestamp":"2026-01-15T10:30:00Z")"), "timestamp", "in the future"},
      {Point(R"("timestamp":"2025-01-15T10:40:00.001Z")"), "timestamp", "600s in the future"},
      {Point(R"("timestamp":1736937600001)"), "timestamp", "in the future"},
      {Point(R"("timestamp":"2024-12-31T10:29:59Z")"), "timestamp",
       "older than the storage retention (1296000s)"},
      {Point(R"("timestamp":1735640999999)"), "timestamp", "older than"},
      {Point(R"("timestamp":0)"), "timestamp", "older than"},
      // Unknown fields and the idempotency key.
      {Point(R"("unit":"ms")"), "unit", "unknown field 'unit'"},
      {Point(R"("Name":"x")"), "Name", "unknown field"},
      {Point(R"("idempotency_key":5)"), "idempotency_key", "must be a string, got a number"},
      {Point(R"("idempotency_key":"")"), "idempotency_key", "1..255 characters"},
      {Point("\"idempotency_key\":\"" + std::string(256, 'k') + "\""), "idempotency_key",
       "1..255"},
  };
  PointDecoder decoder;
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 120));
    const std::string body = Padded(c.body);
    auto got = decoder.DecodeReport(body, Ctx());
    ASSERT_TRUE(got.has_value()) << "whole request failed: " << got.error().message;
    EXPECT_EQ(got->total, 1u);
    EXPECT_THAT(got->points, IsEmpty());
    ASSERT_THAT(got->errors, SizeIs(1));
    const PointError& e = got->errors[0];
    EXPECT_EQ(e.index, 0u);
    EXPECT_EQ(e.error.code, core::ErrorCode::kInvalidRequest);
    EXPECT_EQ(e.error.param, c.param);
    EXPECT_THAT(e.error.message, HasSubstr(c.message));
  }
}

// ---------------------------------------------------------------------------
// Whole-request failures (both entry points)

TEST(PointDecoderTest, MalformedBodiesFailTheWholeRequest) {
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {"   ", "empty"},
      {"{", "malformed JSON"},
      {R"({"name":"x","value":1)", "malformed JSON"},
      {R"({"name":"x","value":)", "malformed JSON"},
      {R"({"name":"x" "value":1})", "malformed JSON"},
      {R"({"name":"x","value":1,})", "malformed JSON"},
      {R"({"name":"x","value":1}})", "malformed JSON"},
      {R"({"name":"x","value":1} {})", "malformed JSON"},
      {R"({name:"x","value":1})", "malformed JSON"},
      {R"({'name':'x','value':1})", "malformed JSON"},
      {R"({"name":"unterminated,"value":1})", "malformed JSON"},
      {R"({"name":"x","value":01})", "malformed JSON"},
      {R"({"name":"x","value":1.})", "malformed JSON"},
      {R"({"name":"x","value":.5})", "malformed JSON"},
      {R"({"name":"x","value":+1})", "malformed JSON"},
      {R"({"name":"x","value":0x10})", "malformed JSON"},
      // NaN and Infinity are not JSON; 1e999 overflows a double.
      {R"({"name":"x","value":NaN})", "malformed JSON"},
      {R"({"name":"x","value":Infinity})", "malformed JSON"},
      {R"({"name":"x","value":-Infinity})", "malformed JSON"},
      {R"({"name":"x","value":1e999})", "NaN and Infinity are not valid"},
      {R"({"name":"x","value":-1e999})", "NaN and Infinity are not valid"},
      {R"({"name":"x","value":1,"timestamp":1e999})", "out of range"},
      // Invalid UTF-8 anywhere, and broken escapes.
      {"{\"name\":\"x\xff\",\"value\":1}", "not valid UTF-8 (first invalid byte at offset 10)"},
      {"{\"name\":\"x\",\"value\":1,\"tags\":{\"k\":\"\xC0\x80\"}}", "not valid UTF-8"},
      {"{\"name\":\"x\",\"value\":1,\"tags\":{\"k\":\"\xED\xA0\x80\"}}", "not valid UTF-8"},
      {"{\"name\":\"x\",\"value\":1,\"tags\":{\"k\":\"\xE2\x82\"}}", "not valid UTF-8"},
      {R"({"name":"x","value":1,"tags":{"k":"\ud800"}})", "malformed JSON"},
      {R"({"name":"x","value":1,"tags":{"k":"\x41"}})", "malformed JSON"},
      {"{\"name\":\"x\",\"value\":1,\"tags\":{\"k\":\"a\nb\"}}", "malformed JSON"},
  };
  PointDecoder decoder;
  for (const Case& c : cases) {
    const std::string body = Padded(c.body);
    {
      SCOPED_TRACE("report: " + c.body);
      auto got = decoder.DecodeReport(body, Ctx());
      ASSERT_FALSE(got.has_value());
      EXPECT_EQ(got.error().code, core::ErrorCode::kInvalidRequest);
      EXPECT_THAT(got.error().message, HasSubstr(c.message));
    }
    {
      SCOPED_TRACE("batch: " + c.body);
      auto got = decoder.DecodeBatch(body, Ctx());
      ASSERT_FALSE(got.has_value());
      EXPECT_EQ(got.error().code, core::ErrorCode::kInvalidRequest);
    }
  }
}

TEST(PointDecoderTest, NonObjectBodiesFailTheWholeRequest) {
  struct Case {
    std::string body;
    std::string got;
  };
  const Case cases[] = {
      {"[]", "an array"},
      {R"([{"name":"x","value":1}])", "an array"},
      {R"("x")", "a string"},
      {"42", "a number"},
      {"-1.5", "a number"},
      {"null", "null"},
      {"true", "a boolean"},
  };
  PointDecoder decoder;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    const std::string body = Padded(c.body);
    auto report = decoder.DecodeReport(body, Ctx());
    ASSERT_FALSE(report.has_value());
    EXPECT_THAT(report.error().message, HasSubstr("must be a JSON object"));
    EXPECT_THAT(report.error().message, HasSubstr(c.got));
    auto batch = decoder.DecodeBatch(body, Ctx());
    ASSERT_FALSE(batch.has_value());
    EXPECT_THAT(batch.error().message, HasSubstr("must be a JSON object"));
    EXPECT_THAT(batch.error().message, HasSubstr(c.got));
  }
}

// ---------------------------------------------------------------------------
// DecodeBatch

TEST(PointDecoderTest, BatchWholeRequestFailures) {
  struct Case {
    std::string body;
    std::string param;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({})", "points", "points is required"},
      {R"({"idempotency_key":"k"})", "points", "points is required"},
      {R"({"points":[]})", "points", "at least one point"},
      {R"({"points":{}})", "points", "points must be an array, got an object"},
      {R"({"points":null})", "points", "got null"},
      {R"({"points":"x"})", "points", "got a string"},
      {R"({"points":[],"extra":1})", "extra", "unknown field 'extra'"},
      {R"({"points":[{"name":"x","value":1}],"name":"x"})", "name", "unknown field"},
      {R"({"points":[{"name":"x","value":1}],"idempotency_key":7})", "idempotency_key",
       "must be a string"},
      {R"({"points":[{"name":"x","value":1}],"idempotency_key":""})", "idempotency_key",
       "1..255"},
  };
  PointDecoder decoder;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    const std::string body = Padded(c.body);
    auto got = decoder.DecodeBatch(body, Ctx());
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, core::ErrorCode::kInvalidRequest);
    EXPECT_EQ(got.error().param, c.param);
    EXPECT_THAT(got.error().message, HasSubstr(c.message));
  }
}

TEST(PointDecoderTest, BatchSizeLimit) {
  const std::string point = R"({"name":"x","value":1})";
  std::vector<std::string> points(10'000, point);
  PointDecoder decoder;
  {
    const std::string body = Padded(Batch(points));
    auto got = decoder.DecodeBatch(body, Ctx());
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->total, 10'000u);
    EXPECT_THAT(got->points, SizeIs(10'000));
    EXPECT_THAT(got->errors, IsEmpty());
    EXPECT_EQ(got->points.back().index, 9'999u);
  }
  points.push_back(point);
  {
    const std::string body = Padded(Batch(points));
    auto got = decoder.DecodeBatch(body, Ctx());
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().param, "points");
    EXPECT_THAT(got.error().message, HasSubstr("10001 points; the limit is 10000"));
  }
}

TEST(PointDecoderTest, BatchReportsEachBadPointWithItsPath) {
  const std::vector<std::string> points = {
      R"({"name":"ok.one","value":1})",                                  // 0
      R"({"name":"x","value":"1"})",                                     // 1
      R"({"name":"ok_two","value":2,"type":"counter","tags":{"b":"2","a":"1"}})",  // 2
      R"({"name":"x","value":-3,"type":"counter"})",                     // 3
      R"(17)",                                                           // 4
      R"({"name":"x","value":1,"tags":{"__x":"y"}})",                    // 5
      R"({"name":"x","value":1,"idempotency_key":"k"})",                 // 6
      R"(null)",                                                         // 7
      R"({"name":"x","value":1,"timestamp":"2030-01-01T00:00:00Z"})",    // 8
      R"({"name":"ok3","value":3,"timestamp":1736936700})",              // 9
      R"(["name","x"])",                                                 // 10
      R"({"name":"x","value":1,"tags":{"k":{"x":1}}})",                  // 11
  };
  PointDecoder decoder;
  const std::string body = Padded(Batch(points));
  auto got = decoder.DecodeBatch(body, Ctx());
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_TRUE(got->is_batch);
  EXPECT_EQ(got->total, 12u);

  ASSERT_THAT(got->points, SizeIs(3));
  EXPECT_EQ(got->points[0].index, 0u);
  EXPECT_EQ(got->points[0].name, "ok_one");
  EXPECT_EQ(got->points[1].index, 2u);
  EXPECT_EQ(got->points[1].type, MetricType::kCounter);
  EXPECT_THAT(TagPairs(got->points[1]),
              ElementsAre(std::pair<std::string, std::string>("a", "1"),
                          std::pair<std::string, std::string>("b", "2")));
  EXPECT_EQ(got->points[2].index, 9u);
  EXPECT_EQ(got->points[2].ts_ms, kNow - 300'000);

  struct Want {
    size_t index;
    std::string param;
  };
  const Want want[] = {
      {1, "points[1].value"},   {3, "points[3].value"},
      {4, "points[4]"},         {5, "points[5].tags.__x"},
      {6, "points[6].idempotency_key"}, {7, "points[7]"},
      {8, "points[8].timestamp"}, {10, "points[10]"},
      {11, "points[11].tags.k"},
  };
  ASSERT_THAT(got->errors, SizeIs(std::size(want)));
  for (size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE(want[i].param);
    EXPECT_EQ(got->errors[i].index, want[i].index);
    EXPECT_EQ(got->errors[i].error.param, want[i].param);
    EXPECT_EQ(got->errors[i].error.code, core::ErrorCode::kInvalidRequest);
  }
  EXPECT_THAT(got->errors[2].error.message, HasSubstr("must be an object, got a number"));
  EXPECT_EQ(got->idempotency_key, std::nullopt) << "a point's idempotency_key is not the batch's";
}

TEST(PointDecoderTest, BatchReadsIdempotencyKey) {
  PointDecoder decoder;
  const std::string body =
      Padded(R"({"idempotency_key":"batch-1","points":[{"name":"x","value":1}]})");
  auto got = decoder.DecodeBatch(body, Ctx());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->idempotency_key, "batch-1");
  EXPECT_THAT(got->points, SizeIs(1));
}

TEST(PointDecoderTest, ParamPathUsesEveryIndex) {
  // points[3].value in a batch where only the fourth point is bad.
  PointDecoder decoder;
  const std::string body = Padded(Batch({R"({"name":"a","value":1})", R"({"name":"a","value":2})",
                                         R"({"name":"a","value":3})",
                                         R"({"name":"a","value":"NaN"})"}));
  auto got = decoder.DecodeBatch(body, Ctx());
  ASSERT_TRUE(got.has_value());
  ASSERT_THAT(got->errors, SizeIs(1));
  EXPECT_EQ(got->errors[0].index, 3u);
  EXPECT_EQ(got->errors[0].error.param, "points[3].value");
  EXPECT_THAT(got->points, SizeIs(3));
}

TEST(PointDecoderTest, DecoderIsReusableAcrossRequests) {
  PointDecoder decoder;
  const std::string first = Padded(R"({"name":"first","value":1,"tags":{"host":"aaaa"}})");
  const std::string second = Padded(R"({"name":"second","value":2,"tags":{"zone":"bb"}})");
  auto a = decoder.DecodeReport(first, Ctx());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(TagPairs(a->points[0]), (std::vector<std::pair<std::string, std::string>>{{"host", "aaaa"}}));
  auto b = decoder.DecodeReport(second, Ctx());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->points[0].name, "second");
  EXPECT_EQ(TagPairs(b->points[0]), (std::vector<std::pair<std::string, std::string>>{{"zone", "bb"}}));
  // A failed parse in between leaves the decoder usable.
  const std::string broken = Padded("{");
  EXPECT_FALSE(decoder.DecodeBatch(broken, Ctx()).has_value());
  auto c = decoder.DecodeReport(first, Ctx());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->points[0].name, "first");
}

TEST(PointDecoderTest, LimitsComeFromTheContext) {
  DecodeContext ctx = Ctx();
  ctx.limits.max_tags_per_point = 2;
  ctx.limits.max_tag_value_bytes = 3;
  ctx.limits.max_name_length = 4;
  ctx.limits.max_batch_points = 2;
  ctx.limits.max_future_skew_ms = 0;
  PointDecoder decoder;
  struct Case {
    std::string body;
    std::string param;  // empty: accepted
  };
  const Case cases[] = {
      {R"({"name":"abcd","value":1,"tags":{"a":"123","b":"x"}})", ""},
      {R"({"name":"abcde","value":1})", "name"},
      {R"({"name":"a","value":1,"tags":{"a":"1","b":"2","c":"3"}})", "tags"},
      {R"({"name":"a","value":1,"tags":{"a":"1234"}})", "tags.a"},
      {R"({"name":"a","value":1,"timestamp":1736937000001})", "timestamp"},
      {R"({"name":"a","value":1,"timestamp":1736937000000})", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    const std::string body = Padded(c.body);
    auto got = decoder.DecodeReport(body, ctx);
    ASSERT_TRUE(got.has_value());
    if (c.param.empty()) {
      EXPECT_THAT(got->errors, IsEmpty());
    } else {
      ASSERT_THAT(got->errors, SizeIs(1));
      EXPECT_EQ(got->errors[0].error.param, c.param);
    }
  }
  const std::string three = Padded(Batch({R"({"name":"a","value":1})", R"({"name":"a","value":1})",
                                          R"({"name":"a","value":1})"}));
  auto got = decoder.DecodeBatch(three, ctx);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().param, "points");
}

}  // namespace
}  // namespace exporter

TEST(PointDecoderReservedNameTest, RejectsTallyPrefixInEverySpelling) {
  config::LimitsConfig limits;
  for (const char* name : {"tally_store_series", "tally.requests", "tally-x", "tally/y"}) {
    SCOPED_TRACE(name);
    auto st = exporter::ValidateMetricName(name, limits, "name");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().param, "name");
    EXPECT_NE(st.error().message.find("reserved"), std::string::npos);
  }
  EXPECT_TRUE(exporter::ValidateMetricName("tallyho", limits, "name"));
}

#include "exporter/ingest_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace exporter {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

constexpr int64_t kNow = 1'736'937'000'000;
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Owning points, so test cases can be written as values.
struct Point {
  std::string name;
  store::MetricType type = store::MetricType::kGauge;
  std::vector<std::pair<std::string, std::string>> labels;
  int64_t ts_ms = 0;
  double value = 0;
};

struct Input {
  int64_t ingest_ms = kNow;
  std::string project = "acme";
  std::optional<IdempotencyRecord> idempotency;
  std::vector<Point> points;
};

std::string Encode(const Input& in) {
  std::deque<std::vector<store::LabelView>> label_storage;
  std::vector<store::PointView> views;
  for (const Point& p : in.points) {
    auto& labels = label_storage.emplace_back();
    for (const auto& [n, v] : p.labels) labels.push_back({n, v});
    views.push_back({p.name, p.type, labels, p.ts_ms, p.value});
  }
  std::string out;
  EncodeIngestRecord(in.ingest_ms, in.project, in.idempotency, views, out);
  return out;
}

// Compares a decoded record with what was encoded; doubles bit for bit.
void ExpectDecodesTo(const DecodedIngestRecord& got, const Input& want) {
  EXPECT_EQ(got.ingest_ms, want.ingest_ms);
  EXPECT_EQ(got.project, want.project);
  ASSERT_EQ(got.idempotency.has_value(), want.idempotency.has_value());
  if (want.idempotency) {
    EXPECT_EQ(got.idempotency->key, want.idempotency->key);
    EXPECT_EQ(got.idempotency->body_hash, want.idempotency->body_hash);
    EXPECT_EQ(got.idempotency->status, want.idempotency->status);
    EXPECT_EQ(got.idempotency->response, want.idempotency->response);
  }
  ASSERT_EQ(got.points.size(), want.points.size());
  for (size_t i = 0; i < want.points.size(); ++i) {
    SCOPED_TRACE("point " + std::to_string(i));
    const store::PointView& g = got.points[i];
    const Point& w = want.points[i];
    EXPECT_EQ(g.name, w.name);
    EXPECT_EQ(g.type, w.type);
    EXPECT_EQ(g.ts_ms, w.ts_ms);
    EXPECT_EQ(std::bit_cast<uint64_t>(g.value), std::bit_cast<uint64_t>(w.value))
        << g.value << " vs " << w.value;
    ASSERT_EQ(g.labels.size(), w.labels.size());
    for (size_t k = 0; k < w.labels.size(); ++k) {
      EXPECT_EQ(g.labels[k].name, w.labels[k].first);
      EXPECT_EQ(g.labels[k].value, w.labels[k].second);
    }
  }
}

TEST(IngestRecordTest, RoundTrip) {
  const double nan_with_payload = std::bit_cast<double>(uint64_t{0x7FF8'0000'DEAD'BEEF});
  std::vector<Point> many;
  for (int i = 0; i < 5000; ++i) {
    many.push_back({"m" + std::to_string(i / 100), store::MetricType::kCounter,
                    {{"i", std::to_string(i)}}, kNow + i, i * 0.5});
  }
  struct Case {
    const char* name;
    Input in;
  };
  const Case cases[] = {
      {"no points, no key", {kNow, "acme", std::nullopt, {}}},
      {"key without points", {kNow, "acme", IdempotencyRecord{"k-1", "sha", 200, R"({"accepted":0})"}, {}}},
      {"one point", {kNow, "acme", std::nullopt, {{"cpu", store::MetricType::kGauge, {}, kNow, 0.5}}}},
      {"every type",
       {kNow, "p", std::nullopt,
        {{"a", store::MetricType::kCounter, {}, 1, 1},
         {"b", store::MetricType::kGauge, {}, 2, -2},
         {"c", store::MetricType::kTiming, {}, 3, 3.25},
         {"d", store::MetricType::kDistribution, {}, 4, 1e300}}}},
      {"names repeating and changing",
       {kNow, "p", std::nullopt,
        {{"x", store::MetricType::kCounter, {{"h", "1"}}, 1, 1},
         {"x", store::MetricType::kCounter, {{"h", "2"}}, 2, 2},
         {"y", store::MetricType::kGauge, {}, 3, 3},
         {"x", store::MetricType::kCounter, {}, 4, 4},
         {"x", store::MetricType::kCounter, {}, 5, 5}}}},
      {"empty names and project", {kNow, "", std::nullopt, {{"", store::MetricType::kGauge, {}, 0, 0}, {"", store::MetricType::kGauge, {}, 0, 1}}}},
      {"labels with empty values",
       {kNow, "p", std::nullopt,
        {{"m", store::MetricType::kGauge, {{"a", ""}, {"b", ""}, {"c", "v"}}, 1, 1}}}},
      {"utf-8",
       {kNow, "projé", IdempotencyRecord{"ключ", "hash", 207, "réponse ✓"},
        {{"température", store::MetricType::kGauge, {{"ville", "Zürich"}, {"都市", "東京"}}, 1, 21.5}}}},
      {"special doubles",
       {kNow, "p", std::nullopt,
        {{"v", store::MetricType::kGauge, {}, 1, nan_with_payload},
         {"v", store::MetricType::kGauge, {}, 2, -std::numeric_limits<double>::quiet_NaN()},
         {"v", store::MetricType::kGauge, {}, 3, std::numeric_limits<double>::infinity()},
         {"v", store::MetricType::kGauge, {}, 4, -std::numeric_limits<double>::infinity()},
         {"v", store::MetricType::kGauge, {}, 5, -0.0},
         {"v", store::MetricType::kGauge, {}, 6, std::numeric_limits<double>::denorm_min()},
         {"v", store::MetricType::kGauge, {}, 7, std::numeric_limits<double>::max()},
         {"v", store::MetricType::kGauge, {}, 8, std::numeric_limits<double>::lowest()}}}},
      {"timestamps",
       {kNow, "p", std::nullopt,
        {{"t", store::MetricType::kGauge, {}, kMin, 1},
         {"t", store::MetricType::kGauge, {}, kMax, 2},
         {"t", store::MetricType::kGauge, {}, -1, 3},
         {"t", store::MetricType::kGauge, {}, 0, 4},
         {"t", store::MetricType::kGauge, {}, -kNow, 5},
         {"t", store::MetricType::kGauge, {}, kNow * 1000, 6}}}},
      {"ingest time zero", {0, "p", std::nullopt, {}}},
      {"ingest time max", {kMax, "p", std::nullopt, {}}},
      {"idempotency entry with binary response and odd status",
       {kNow, "p", IdempotencyRecord{"", "", -1, std::string("a\0b", 3)}, {}}},
      {"idempotency entry with points",
       {kNow, "p", IdempotencyRecord{"retry-7", "h", 200, "{}"},
        {{"c", store::MetricType::kCounter, {{"k", "v"}}, kNow, 3}}}},
      {"long strings",
       {kNow, std::string(300, 'p'), IdempotencyRecord{std::string(200, 'k'), "h", 200, std::string(100'000, 'r')},
        {{std::string(1000, 'n'), store::MetricType::kGauge, {{std::string(128, 'l'), std::string(70'000, 'v')}}, 1, 1}}}},
      {"5000 points", {kNow, "p", std::nullopt, many}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string payload = Encode(c.in);
    auto got = DecodeIngestRecord(payload);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    ExpectDecodesTo(*got, c.in);
    // Views point into the payload.
    const char* begin = payload.data();
    const char* end = begin + payload.size();
    for (const store::PointView& p : got->points) {
      if (!p.name.empty()) {
        EXPECT_TRUE(p.name.data() >= begin && p.name.data() + p.name.size() <= end);
      }
    }
  }
}

TEST(IngestRecordTest, NegativeIngestTimeIsStoredAsZero) {
  auto got = DecodeIngestRecord(Encode({-5, "p", std::nullopt, {}}));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->ingest_ms, 0);
}

TEST(IngestRecordTest, EncodeAppendsToOut) {
  std::string out = "prefix";
  EncodeIngestRecord(kNow, "p", std::nullopt, {}, out);
  ASSERT_TRUE(out.starts_with("prefix"));
  auto got = DecodeIngestRecord(std::string_view(out).substr(6));
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->project, "p");
}

TEST(IngestRecordTest, EncodingMatchesTheDocumentedLayout) {
  const Input in{300, "p", IdempotencyRecord{"k", "h", 200, "r"},
                 {{"m", store::MetricType::kCounter, {{"a", "b"}}, -1, 1.0},
                  {"m", store::MetricType::kCounter, {}, 1, 2.0}}};
  static constexpr char kWant[] =
      "\x01"              // version
      "\xac\x02"          // ingest_ms 300
      "\x01p"             // project
      "\x01"              // has_idem
      "\x01k\x01h"        // key, body hash
      "\xc8\x01"          // status 200
      "\x01r"             // response
      "\x02"              // 2 points
      "\x01\x01m"         // flags: new name, "m"
      "\x00"              // type counter
      "\x01\x01" "a\x01" "b"  // 1 label a=b
      "\x01"              // zigzag(-1)
      "\x00\x00\x00\x00\x00\x00\xf0\x3f"  // 1.0
      "\x00"              // flags: same name
      "\x00"              // type counter
      "\x00"              // no labels
      "\x02"              // zigzag(1)
      "\x00\x00\x00\x00\x00\x00\x00\x40";  // 2.0
  EXPECT_EQ(Encode(in), std::string(kWant, sizeof kWant - 1));
}

TEST(IngestRecordTest, EveryTruncationFailsCleanly) {
  const Input in{kNow, "acme", IdempotencyRecord{"key", "hash", 200, "{\"ok\":true}"},
                 {{"cpu", store::MetricType::kGauge, {{"host", "a"}, {"zone", ""}}, kNow, 0.25},
                  {"cpu", store::MetricType::kGauge, {{"host", "b"}}, kNow + 1, 0.5},
                  {"mem", store::MetricType::kTiming, {}, -kNow, 12}}};
  const std::string payload = Encode(in);
  for (size_t len = 0; len < payload.size(); ++len) {
    SCOPED_TRACE("first " + std::to_string(len) + " of " + std::to_string(payload.size()) +
                 " bytes");
    auto got = DecodeIngestRecord(std::string_view(payload).substr(0, len));
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, core::ErrorCode::kInternal);
    EXPECT_THAT(got.error().message, MatchesRegex("malformed ingest record: .* at byte [0-9]+"));
    const size_t at = std::stoul(got.error().message.substr(got.error().message.rfind(' ') + 1));
    EXPECT_LE(at, len) << "the offset lies inside what was given";
  }
  auto trailing = DecodeIngestRecord(payload + "x");
  ASSERT_FALSE(trailing.has_value());
  EXPECT_THAT(trailing.error().message,
              HasSubstr("trailing bytes at byte " + std::to_string(payload.size())));
}

TEST(IngestRecordTest, MalformedFieldsAreNamed) {
  const std::string good = Encode({5, "p", std::nullopt, {{"m", store::MetricType::kGauge, {}, 1, 1}}});
  // good = 01 05 | 01 'p' | 00 | 01 | 01 01 'm' | 01 (gauge) | 00 | 02 | 8 bytes
  struct Case {
    const char* name;
    std::string payload;
    std::string message;
  };
  auto with = [&](size_t pos, char byte) {
    std::string s = good;
    s[pos] = byte;
    return s;
  };
  const Case cases[] = {
      {"empty", "", "unknown version at byte 0"},
      {"version 2", with(0, 2), "unknown version at byte 1"},
      {"idempotency flag 2", with(4, 2), "idempotency flag"},
      {"point count beyond the payload", with(5, 100), "point count"},
      {"point flags 2", with(6, 2), "point flags"},
      {"first point without a name", with(6, 0), "first point without a name"},
      {"point type 6", with(9, 6), "point type"},
      {"overlong varint", std::string("\x01") + std::string(10, '\x80') + "\x01", "header"},
      {"string longer than the payload", std::string("\x01\x05\x7f", 3), "header"},
      {"label count beyond the payload", with(10, 0x7f), "label count"},
  };
  ASSERT_EQ(good.size(), 20u);
  ASSERT_EQ(good[9], 1) << "the gauge type byte";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = DecodeIngestRecord(c.payload);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, core::ErrorCode::kInternal);
    EXPECT_THAT(got.error().message, HasSubstr(c.message));
  }
}

TEST(IngestRecordTest, IngestTimeBeyondInt64IsRejected) {
  // A varint the encoder never writes (it would decode to a negative time that
  // re-encodes as 0).
  std::string payload("\x01", 1);
  payload += std::string(9, '\xff') + std::string("\x01", 1);  // 2^64 - 1
  payload += std::string("\x01p\x00\x00", 4);
  auto got = DecodeIngestRecord(payload);
  ASSERT_FALSE(got.has_value());
  EXPECT_THAT(got.error().message, HasSubstr("ingest time"));
}

// Decoding arbitrary bytes never crashes; what decodes re-encodes to the same record.
void CheckArbitrary(std::string_view bytes) {
  auto got = DecodeIngestRecord(bytes);
  if (!got) {
    EXPECT_FALSE(got.error().message.empty());
    return;
  }
  std::string again;
  EncodeIngestRecord(got->ingest_ms, got->project, got->idempotency, got->points, again);
  auto twice = DecodeIngestRecord(again);
  ASSERT_TRUE(twice.has_value()) << twice.error().message;
  Input want{got->ingest_ms, std::string(got->project), got->idempotency, {}};
  for (const store::PointView& p : got->points) {
    Point w{std::string(p.name), p.type, {}, p.ts_ms, p.value};
    for (const store::LabelView& l : p.labels) w.labels.emplace_back(l.name, l.value);
    want.points.push_back(std::move(w));
  }
  ExpectDecodesTo(*twice, want);
}

TEST(IngestRecordTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(20250115);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(0, 96);
  size_t decoded = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string s(length(rng), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    if (i % 2 == 0 && !s.empty()) s[0] = 1;  // past the version check half the time
    SCOPED_TRACE("case " + std::to_string(i));
    CheckArbitrary(s);
    if (HasFailure()) return;
    decoded += DecodeIngestRecord(s).has_value();
  }
  std::cout << "[ info     ] " << decoded << " of 20000 random payloads decoded\n";
}

TEST(IngestRecordTest, MutatedValidPayloadsNeverCrash) {
  const std::string good =
      Encode({kNow, "acme", IdempotencyRecord{"key", "hash", 200, "{}"},
              {{"cpu", store::MetricType::kGauge, {{"host", "a"}}, kNow, 0.25},
               {"cpu", store::MetricType::kCounter, {}, kNow + 1, 0.5},
               {"mem", store::MetricType::kTiming, {{"a", ""}, {"b", "c"}}, -kNow, 12}}});
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<size_t> pos(0, good.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  size_t decoded = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string s = good;
    const int edits = 1 + i % 3;
    for (int e = 0; e < edits; ++e) s[pos(rng)] = static_cast<char>(byte(rng));
    SCOPED_TRACE("case " + std::to_string(i));
    CheckArbitrary(s);
    if (HasFailure()) return;
    decoded += DecodeIngestRecord(s).has_value();
  }
  std::cout << "[ info     ] " << decoded << " of 20000 mutated payloads decoded\n";
}

}  // namespace
}  // namespace exporter

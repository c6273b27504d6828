// Range queries side by side with the real Prometheus 2.42 server: replays
// testdata/promql_range_oracle.json (recorded by tools/promql_range_oracle.py
// from Debian's prometheus over the same samples) against tally's engine.
// Every step, label set and value must agree (values within Prometheus' test
// tolerance), and queries Prometheus rejects must fail here too.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "aggregator/promql_engine.h"
#include "aggregator/promql_parser.h"
#include "aggregator/promql_test_file.h"
#include "aggregator/promql_test_runner.h"
#include "aggregator/promql_text.h"

namespace promql {
namespace {

using Points = std::vector<std::pair<int64_t, double>>;

double ParseValue(const std::string& s) {
  if (s == "NaN") return std::nan("");
  if (s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  return std::stod(s);
}

std::string Describe(const std::map<std::string, Points>& m) {
  std::string out;
  for (const auto& [labels, points] : m) {
    out += labels + ":";
    for (const auto& [t, v] : points) out += " " + FormatNumber(v) + "@" + std::to_string(t);
    out += "\n";
  }
  return out;
}

TEST(PromqlRangeOracleTest, MatchesPrometheus) {
  std::ifstream in(std::string(TALLY_SOURCE_DIR) +
                   "/tests/aggregator/testdata/promql_range_oracle.json");
  ASSERT_TRUE(in);
  const nlohmann::json spec = nlohmann::json::parse(in);

  MemoryStorage storage;
  auto interval = ParseDuration(spec["interval"].get<std::string>());
  ASSERT_TRUE(interval);
  for (const auto& line : spec["series"]) {
    auto s = ParseSeriesLine(line.get<std::string>());
    ASSERT_TRUE(s) << line;
    for (size_t i = 0; i < s->values.size(); ++i) {
      if (s->values[i].omitted) continue;
      ASSERT_TRUE(
          storage.Append(s->labels, static_cast<int64_t>(i) * *interval, s->values[i].value));
    }
  }

  const Engine engine;
  int checked = 0;
  for (const auto& q : spec["queries"]) {
    const std::string query = q["query"];
    SCOPED_TRACE(query);
    auto expr = ParseExpr(query);
    ASSERT_TRUE(expr) << expr.error().message;
    const int64_t start = q["start"].get<int64_t>() * 1000;
    const int64_t end = q["end"].get<int64_t>() * 1000;
    const int64_t step = q["step"].get<int64_t>() * 1000;
    QueryResult got = engine.RangeQuery(storage, **expr, start, end, step);
    const auto& expected = q["expected"];
    ++checked;
    if (expected.contains("error")) {
      ASSERT_FALSE(got) << "Prometheus failed with: " << expected["error"];
      EXPECT_EQ(got.error().message, expected["error"].get<std::string>());
      EXPECT_EQ(ApiErrorType(got.error().type), expected["errorType"].get<std::string>());
      continue;
    }
    ASSERT_TRUE(got) << got.error().message;
    std::map<std::string, Points> want, have;
    for (const auto& series : expected["result"]) {
      std::vector<core::Label> labels;
      for (const auto& [k, v] : series["metric"].items())
        labels.push_back({k, v.get<std::string>()});
      Points& p = want[LabelsString(core::Labels(std::move(labels)))];
      for (const auto& v : series["values"]) {
        p.emplace_back(v[0].get<int64_t>() * 1000, ParseValue(v[1].get<std::string>()));
      }
    }
    for (const Series& s : std::get<Matrix>(*got)) {
      Points& p = have[LabelsString(s.labels)];
      for (const Sample& sample : s.samples) p.emplace_back(sample.t_ms, sample.v);
    }
    bool same = want.size() == have.size();
    for (auto w = want.begin(), h = have.begin(); same && w != want.end(); ++w, ++h) {
      same = w->first == h->first && w->second.size() == h->second.size();
      for (size_t i = 0; same && i < w->second.size(); ++i) {
        same = w->second[i].first == h->second[i].first &&
               AlmostEqual(w->second[i].second, h->second[i].second);
      }
    }
    EXPECT_TRUE(same) << "Prometheus:\n" << Describe(want) << "tally:\n" << Describe(have);
  }
  EXPECT_EQ(checked, 50);
}

}  // namespace
}  // namespace promql

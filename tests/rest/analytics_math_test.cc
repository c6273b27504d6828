#include "rest/analytics_math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "rest/csv_writer.h"

#include <nlohmann/json.hpp>

namespace rest {
namespace {

TEST(AnalyticsMathTest, NanoToUsd) {
  EXPECT_EQ(NanoToUsd(0), 0.0);
  EXPECT_EQ(NanoToUsd(1'500'000'000), 1.5);
  EXPECT_DOUBLE_EQ(NanoToUsd(123'456'789), 0.123456789);
  EXPECT_DOUBLE_EQ(NanoToUsd(-2'250'000'000), -2.25);
  // Sums of parts equal the total to 1e-9.
  std::mt19937_64 rng(7);
  int64_t total = 0;
  double parts = 0;
  for (int i = 0; i < 1000; ++i) {
    int64_t p = static_cast<int64_t>(rng() % 50'000'000'000ULL);
    total += p;
    parts += NanoToUsd(p);
  }
  EXPECT_NEAR(NanoToUsd(total), parts, 1e-9 * std::max(1.0, parts) + 1e-6);
}

TEST(AnalyticsMathTest, PercentagesSumToExactly100) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 200; ++round) {
    const size_t n = 1 + rng() % 40;
    std::vector<int64_t> parts(n);
    for (auto& p : parts) p = static_cast<int64_t>(rng() % (round % 2 ? 1000 : 1'000'000'000'000ULL));
    const int64_t total = std::accumulate(parts.begin(), parts.end(), int64_t{0});
    std::vector<double> shares = PercentagesOfTotal(parts);
    if (total == 0) {
      for (double s : shares) EXPECT_EQ(s, 0.0);
      continue;
    }
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      sum += shares[i];
      const double exact = 100.0 * static_cast<double>(parts[i]) / static_cast<double>(total);
      EXPECT_LT(std::abs(shares[i] - exact), 0.1 + 1e-9);
      EXPECT_DOUBLE_EQ(shares[i] * 10, std::round(shares[i] * 10));  // one decimal
    }
    EXPECT_NEAR(sum, 100.0, 1e-9);
  }
  EXPECT_EQ(PercentagesOfTotal(std::vector<int64_t>{1, 1, 1}),
            (std::vector<double>{33.4, 33.3, 33.3}));
}

TEST(AnalyticsMathTest, ChangePercent) {
  EXPECT_EQ(*ChangePercent(450, 380), 18.4);
  EXPECT_EQ(*ChangePercent(12000, 10500), 14.3);
  EXPECT_EQ(*ChangePercent(0, 10), -100.0);
  EXPECT_EQ(*ChangePercent(10, 10), 0.0);
  EXPECT_FALSE(ChangePercent(10, 0).has_value());
  EXPECT_FALSE(ChangePercent(0, 0).has_value());
}

// numpy.percentile's default (linear), written the slow way.
double Reference(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double h = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

TEST(AnalyticsMathTest, ExactPercentilesMatchTheDefinition) {
  std::vector<double> v = {15, 20, 35, 40, 50};
  EXPECT_DOUBLE_EQ(ExactPercentile(v, 50), 35);
  EXPECT_DOUBLE_EQ(ExactPercentile(v, 40), 29);  // h = 1.6: 20 + 0.6 * 15
  std::vector<double> one = {7};
  EXPECT_EQ(ExactPercentile(one, 99), 7);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> d(0, 1000);
  for (int round = 0; round < 100; ++round) {
    std::vector<double> values(1 + rng() % 500);
    for (double& x : values) x = rng() % 3 ? d(rng) : std::floor(d(rng) / 100);  // with ties
    const std::vector<double> ps = {0.1, 1, 25, 50, 75, 90, 99, 99.9};
    std::vector<double> copy = values;
    std::vector<double> many = ExactPercentiles(copy, ps);
    for (size_t k = 0; k < ps.size(); ++k) {
      std::vector<double> again = values;
      EXPECT_DOUBLE_EQ(ExactPercentile(again, ps[k]), Reference(values, ps[k]));
      EXPECT_DOUBLE_EQ(many[k], Reference(values, ps[k]));
    }
  }
}

TEST(CsvWriterTest, QuotesPerRfc4180) {
  EXPECT_EQ(CsvWriter::Quote("plain"), "plain");
  EXPECT_EQ(CsvWriter::Quote("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvWriter::Quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvWriter::Quote("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvWriter::Quote("cr\r"), "\"cr\r\"");
  EXPECT_EQ(CsvWriter::Quote(""), "");
  CsvWriter w({"name", "cost", "n", "ok", "missing"});
  w.AddRow(nlohmann::json{{"name", "x,\"y\""}, {"cost", 0.5}, {"n", 3}, {"ok", true}});
  w.AddRow(nlohmann::json{{"name", "z"}, {"cost", nullptr}, {"n", -1}, {"ok", false}});
  EXPECT_EQ(w.body(),
            "name,cost,n,ok,missing\r\n"
            "\"x,\"\"y\"\"\",0.5,3,true,\r\n"
            "z,,-1,false,\r\n");
}

}  // namespace
}  // namespace rest

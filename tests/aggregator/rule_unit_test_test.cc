// Tests for aggregator/rule_unit_test.h: the shipped rule tests pass, and the
// deliberately failing files in testdata/rules/fail/ fail with exactly the
// messages promtool 2.42 printed for them (recorded next to each file as
// NAME.stderr; the rules_failures_match_promtool ctest re-checks them against a
// live promtool when one is installed).
#include "aggregator/rule_unit_test.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace rules {
namespace {

const std::string kFailDir =
    std::string(TALLY_SOURCE_DIR) + "/tests/aggregator/testdata/rules/fail";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RuleUnitTestTest, ShippedRuleTestsPass) {
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(TALLY_SOURCE_DIR) + "/rules/tests")) {
    if (entry.path().extension() != ".yml") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    RuleUnitTestResult r = RunRuleUnitTestFile(entry.path().string());
    EXPECT_TRUE(r.errors.empty()) << testing::PrintToString(r.errors);
    EXPECT_TRUE(r.warnings.empty()) << testing::PrintToString(r.warnings);
    EXPECT_GT(r.checks, 0);
  }
  EXPECT_GE(files, 4);
}

TEST(RuleUnitTestTest, FailuresMatchPromtool) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kFailDir)) {
    if (entry.path().extension() != ".yml") continue;
    ++files;
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    // promtool ran with the file name relative to fail/; so do we.
    std::filesystem::path cwd = std::filesystem::current_path();
    std::filesystem::current_path(kFailDir);
    RuleUnitTestResult r = RunRuleUnitTestFile(name + ".yml");
    std::filesystem::current_path(cwd);
    std::string got = "  FAILED:\n";
    for (const std::string& e : r.errors) got += e + "\n";
    EXPECT_EQ(got, ReadAll(kFailDir + "/" + name + ".stderr"));
  }
  EXPECT_GE(files, 4);
}

TEST(RuleUnitTestTest, MissingFilesAndGlobs) {
  RuleUnitTestResult r = RunRuleUnitTestFile("/nonexistent/test.yml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "open /nonexistent/test.yml: no such file or directory");
}

TEST(RuleUnitTestTest, GoFormatting) {
  EXPECT_EQ(FormatFloatE(10), "1E+01");
  EXPECT_EQ(FormatFloatE(3.5), "3.5E+00");
  EXPECT_EQ(FormatFloatE(1e-7), "1E-07");
  EXPECT_EQ(FormatFloatE(0), "0E+00");
  EXPECT_EQ(FormatFloatE(25.0 / 3), "8.333333333333334E+00");
  EXPECT_EQ(FormatFloatE(1e300), "1E+300");
  EXPECT_EQ(FormatFloatE(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatFloatE(std::nan("")), "NaN");
  EXPECT_EQ(GoDurationString(0), "0s");
  EXPECT_EQ(GoDurationString(500), "500ms");
  EXPECT_EQ(GoDurationString(1500), "1.5s");
  EXPECT_EQ(GoDurationString(120'000), "2m0s");
  EXPECT_EQ(GoDurationString(3'600'000), "1h0m0s");
  EXPECT_EQ(GoDurationString(90'061'250), "25h1m1.25s");
}

}  // namespace
}  // namespace rules

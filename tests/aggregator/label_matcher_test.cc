// Tests for aggregator/label_matcher.h.
#include "aggregator/label_matcher.h"

#include <gtest/gtest.h>

namespace promql {
namespace {

LabelMatcher Make(MatchType t, const char* name, const char* value) {
  auto m = LabelMatcher::Make(t, name, value);
  EXPECT_TRUE(m) << m.error().message;
  return std::move(*m);
}

TEST(LabelMatcherTest, MatchesLikePrometheus) {
  struct {
    MatchType type;
    const char* value;
    const char* input;
    bool want;
  } cases[] = {
      {MatchType::kEqual, "a", "a", true},
      {MatchType::kEqual, "a", "ab", false},
      {MatchType::kEqual, "", "", true},
      {MatchType::kNotEqual, "a", "b", true},
      {MatchType::kNotEqual, "a", "a", false},
      {MatchType::kRegexMatch, "a.*", "abc", true},
      {MatchType::kRegexMatch, "a.*", "xabc", false},  // anchored at the start
      {MatchType::kRegexMatch, "b", "abc", false},     // and at the end
      {MatchType::kRegexMatch, "a|b", "b", true},      // alternation stays inside the anchors
      {MatchType::kRegexMatch, ".*", "", true},
      {MatchType::kRegexMatch, ".+", "", false},
      {MatchType::kRegexMatch, "(?i)ABC", "abc", true},
      {MatchType::kRegexMatch, "\\d+", "123", true},
      {MatchType::kRegexMatch, ".", "\n", false},  // no (?s): dot does not match newline
      {MatchType::kRegexMatch, "é", "é", true},
      {MatchType::kRegexNoMatch, "a.*", "abc", false},
      {MatchType::kRegexNoMatch, "a.*", "b", true},
      {MatchType::kRegexNoMatch, ".+", "", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(MatchTypeString(c.type)) + c.value + " on " + c.input);
    EXPECT_EQ(Make(c.type, "l", c.value).Matches(c.input), c.want);
  }
}

TEST(LabelMatcherTest, RejectsBadRegexesWithGoMessages) {
  struct {
    const char* re;
    const char* message;
  } cases[] = {
      {"(", "error parsing regexp: missing closing ): `^(?:()$`"},
      {"a)(b", "error parsing regexp: unexpected ): `a)(b`"},
      {"a**", "error parsing regexp: invalid nested repetition operator: `**`"},
      {"a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"},
      {"[z-a]", "error parsing regexp: invalid character class range: `z-a`"},
      {"\\C", "error parsing regexp: invalid escape sequence: `\\C`"},
      {"\\8", "error parsing regexp: invalid escape sequence: `\\8`"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.re);
    auto m = LabelMatcher::Make(MatchType::kRegexMatch, "l", c.re);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().message, c.message);
  }
  // Equality matchers take any value.
  EXPECT_TRUE(LabelMatcher::Make(MatchType::kEqual, "l", "("));
}

TEST(LabelMatcherTest, ToStringAndCopies) {
  LabelMatcher m = Make(MatchType::kRegexNoMatch, "job", "a\"b");
  EXPECT_EQ(m.ToString(), R"(job!~"a\"b")");
  LabelMatcher copy = m;  // shares the compiled regex
  EXPECT_TRUE(copy == m);
  EXPECT_TRUE(copy.Matches("x"));
  EXPECT_FALSE(copy.Matches("a\"b"));
}

}  // namespace
}  // namespace promql

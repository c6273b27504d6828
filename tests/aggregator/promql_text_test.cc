// Tests for aggregator/promql_text.h: Go-compatible quoting, number and duration text.
#include "aggregator/promql_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace promql {
namespace {

TEST(PromqlTextTest, FormatNumberLikeGoV) {
  struct {
    double v;
    const char* want;
  } cases[] = {
      {0, "0"},
      {-0.0, "-0"},
      {1, "1"},
      {-1.5, "-1.5"},
      {123456, "123456"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1.5e-7, "1.5e-07"},
      {1e100, "1e+100"},
      {0.1, "0.1"},
      {100.25, "100.25"},
      {12340000, "1.234e+07"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {INFINITY, "+Inf"},
      {-INFINITY, "-Inf"},
      {NAN, "NaN"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(FormatNumber(c.v), c.want);
  }
}

TEST(PromqlTextTest, FormatAndParseDuration) {
  struct {
    int64_t ms;
    const char* text;
  } cases[] = {
      {0, "0s"},           {1, "1ms"},          {1500, "1s500ms"},     {90000, "1m30s"},
      {5400000, "1h30m"},  {86400000, "1d"},    {604800000, "1w"},     {691200000, "8d"},
      {31536000000, "1y"}, {63072000000, "2y"}, {31622400000, "366d"}, {93784005, "1d2h3m4s5ms"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(FormatDuration(c.ms), c.text);
    if (c.ms != 0) {
      auto back = ParseDuration(c.text);
      ASSERT_TRUE(back) << back.error().message;
      EXPECT_EQ(*back, c.ms);
    }
  }
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("1y2w3d4h5m6s7ms"),
            31536000000 + 2 * 604800000LL + 3 * 86400000LL + 4 * 3600000 + 5 * 60000 + 6000 + 7);
  EXPECT_EQ(*ParseDuration("0005m"), 300000);
  const char* bad[] = {"5m1h", "1s1s", "5", "m", "1.5m", "5mm", "1hs", "-1m", "1 m", "1M"};
  for (const char* b : bad) {
    SCOPED_TRACE(b);
    auto r = ParseDuration(b);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "not a valid duration string: \"" + std::string(b) + "\"");
  }
  EXPECT_EQ(ParseDuration("").error().message, "empty duration string");
  EXPECT_EQ(ParseDuration("292y").value(), 292 * 31536000000LL);
  EXPECT_EQ(ParseDuration("293y").error().message, "duration out of range");
  EXPECT_EQ(ParseDuration("99999999999999999999999s").error().message, "duration out of range");
  EXPECT_EQ(ParseDuration("106751d23h47m16s854ms").value(), 9223372036854);
  EXPECT_FALSE(ParseDuration("106751d23h47m16s855ms"));
}

TEST(PromqlTextTest, ParseNumberLikePrometheus) {
  struct {
    const char* text;
    double want;
  } cases[] = {
      {"1", 1},
      {"0x1f", 31},
      {"0X1F", 31},
      {"0755", 493},
      {"0758", 758},
      {"1.5", 1.5},
      {".5", 0.5},
      {"5.", 5},
      {"1e3", 1000},
      {"1.e3", 1000},
      {"1e-400", 0},
      {"Inf", INFINITY},
      {"-inf", -INFINITY},
      {"+Inf", INFINITY},
      {"99999999999999999999", 1e20},
      {"0x7fffffffffffffff", 9223372036854775807.0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = ParseNumber(c.text);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, c.want);
  }
  EXPECT_TRUE(std::isnan(*ParseNumber("NaN")));
  EXPECT_EQ(ParseNumber("1e").error().message,
            R"(strconv.ParseFloat: parsing "1e": invalid syntax)");
  EXPECT_EQ(ParseNumber("0x").error().message,
            R"(strconv.ParseFloat: parsing "0x": invalid syntax)");
  EXPECT_EQ(ParseNumber("0x8000000000000000").error().message,
            R"(strconv.ParseFloat: parsing "0x8000000000000000": invalid syntax)");
  EXPECT_EQ(ParseNumber("1e400").error().message,
            R"(strconv.ParseFloat: parsing "1e400": value out of range)");
}

TEST(PromqlTextTest, QuoteLikeGo) {
  struct {
    std::string in;
    const char* want;
  } cases[] = {
      {"abc", R"("abc")"},
      {"a\"b\\c", R"("a\"b\\c")"},
      {"\a\b\f\n\r\t\v", R"("\a\b\f\n\r\t\v")"},
      {std::string("\0\x01\x7f", 3), R"("\x00\x01\x7f")"},
      {"\xff\xfe", R"("\xff\xfe")"},
      {"é☺😀", "\"é☺😀\""},
      {"\xc2\x85\xc2\xa0", R"("\u0085\u00a0")"},
      {"\xe2\x80\xa8", R"("\u2028")"},
      {"\xef\xbf\xbd", "\"\xef\xbf\xbd\""},
      {"'", R"("'")"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(QuoteString(c.in), c.want);
  }
  EXPECT_EQ(QuoteRune('a'), "'a'");
  EXPECT_EQ(QuoteRune('\''), R"('\'')");
  EXPECT_EQ(QuoteRune('\n'), R"('\n')");
  EXPECT_EQ(QuoteRune(0), R"('\x00')");
  EXPECT_EQ(QuoteRune(-1), "'\xef\xbf\xbd'");
  EXPECT_EQ(FormatRuneU('c'), "U+0063 'c'");
  EXPECT_EQ(FormatRuneU('\n'), "U+000A");
}

TEST(PromqlTextTest, UnquoteAllQuoteStyles) {
  struct {
    const char* quoted;
    std::string want;
  } cases[] = {
      {R"("a\"b")", "a\"b"},
      {R"('a\'b')", "a'b"},
      {R"(`a\n`)", "a\\n"},
      {R"("\x41\101\u00e9\U0001F600")", "AA\xc3\xa9\xf0\x9f\x98\x80"},
      {R"("\xff\000")", std::string("\xff\0", 2)},
      {R"("\a\b\f\n\r\t\v\\")", "\a\b\f\n\r\t\v\\"},
      {R"("")", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.quoted);
    auto r = UnquoteString(c.quoted);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, c.want);
  }
  const char* bad[] = {R"("a)",     R"('a")",      R"("\q")",  R"('\"')",
                       R"("\400")", R"("\uD800")", "\"a\nb\"", "x"};
  for (const char* b : bad) {
    SCOPED_TRACE(b);
    EXPECT_FALSE(UnquoteString(b));
  }
}

TEST(PromqlTextTest, DecodeRuneRejectsInvalidUtf8) {
  int w = 0;
  EXPECT_EQ(DecodeRune("a", 0, &w), 'a');
  EXPECT_EQ(w, 1);
  EXPECT_EQ(DecodeRune("\xc3\xa9", 0, &w), 0xE9);
  EXPECT_EQ(w, 2);
  EXPECT_EQ(DecodeRune("\xf0\x9f\x98\x80", 0, &w), 0x1F600);
  EXPECT_EQ(w, 4);
  const char* bad[] = {"\xff",        "\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                       "\xe0\x80\x80"};
  for (const char* b : bad) {
    EXPECT_EQ(DecodeRune(b, 0, &w), kRuneError);
    EXPECT_EQ(w, 1);
  }
}

}  // namespace
}  // namespace promql

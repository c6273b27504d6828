#include "core/text.h"

#include <gtest/gtest.h>

#include <string>

namespace core {
namespace {

struct Utf8Case {
  std::string name;
  std::string bytes;
  bool valid;
  size_t prefix;  // expected Utf8ValidPrefixLength
};

TEST(Utf8Test, ValidityAndPrefixLength) {
  const Utf8Case cases[] = {
      {"empty", "", true, 0},
      {"ascii", "hello", true, 5},
      {"embedded nul", std::string("a\0b", 3), true, 3},
      {"2-byte", "h\xC3\xA9llo", true, 6},
      {"3-byte euro", "\xE2\x82\xAC", true, 3},
      {"4-byte emoji", "\xF0\x9F\x98\x80", true, 4},
      {"U+007F", "\x7F", true, 1},
      {"U+0080", "\xC2\x80", true, 2},
      {"U+07FF", "\xDF\xBF", true, 2},
      {"U+0800", "\xE0\xA0\x80", true, 3},
      {"U+D7FF before surrogates", "\xED\x9F\xBF", true, 3},
      {"U+E000 after surrogates", "\xEE\x80\x80", true, 3},
      {"U+FFFF", "\xEF\xBF\xBF", true, 3},
      {"U+10000", "\xF0\x90\x80\x80", true, 4},
      {"U+10FFFF", "\xF4\x8F\xBF\xBF", true, 4},
      // Overlong encodings.
      {"overlong NUL", "\xC0\x80", false, 0},
      {"overlong 2-byte C1", "a\xC1\xBF", false, 1},
      {"overlong 3-byte", "\xE0\x80\x80", false, 0},
      {"overlong 3-byte U+07FF", "\xE0\x9F\xBF", false, 0},
      {"overlong 4-byte", "\xF0\x80\x80\x80", false, 0},
      {"overlong 4-byte U+FFFF", "ab\xF0\x8F\xBF\xBF", false, 2},
      // Surrogates.
      {"surrogate D800", "\xED\xA0\x80", false, 0},
      {"surrogate DBFF", "x\xED\xAF\xBF", false, 1},
      {"surrogate DC00", "\xED\xB0\x80", false, 0},
      {"surrogate DFFF", "\xED\xBF\xBF", false, 0},
      {"surrogate pair as CESU-8", "\xED\xA0\xBD\xED\xB8\x80", false, 0},
      // Beyond U+10FFFF and invalid lead bytes.
      {"U+110000", "\xF4\x90\x80\x80", false, 0},
      {"F5 lead", "\xF5\x80\x80\x80", false, 0},
      {"5-byte form", "\xF8\x88\x80\x80\x80", false, 0},
      {"6-byte form", "\xFC\x84\x80\x80\x80\x80", false, 0},
      {"FE", "\xFE", false, 0},
      {"FF", "ok\xFF", false, 2},
      {"lone continuation", "\x80", false, 0},
      {"continuation after ascii", "abc\xBF", false, 3},
      // Truncated sequences.
      {"truncated 2-byte", "abc\xC3", false, 3},
      {"truncated 3-byte after 1", "\xE2", false, 0},
      {"truncated 3-byte after 2", "\xE2\x82", false, 0},
      {"truncated 4-byte after 3", "\xE2\x82\xAC\xF0\x9F\x98", false, 3},
      // Bad continuation bytes.
      {"bad continuation", "\xC3\x28", false, 0},
      {"ascii in 3-byte", "\xE2\x28\xA1", false, 0},
      {"ascii in 4-byte", "\xF0\x9F\x28\x80", false, 0},
      {"valid then invalid", "h\xC3\xA9\xFF\xC3\xA9", false, 3},
  };
  for (const Utf8Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(IsValidUtf8(c.bytes), c.valid);
    EXPECT_EQ(Utf8ValidPrefixLength(c.bytes), c.prefix);
  }
}

TEST(Utf8Test, EveryCodePointRoundTrips) {
  // Encodes every scalar value and checks it is accepted; surrogates rejected.
  auto encode = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return s;
  };
  int wrong = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (IsValidUtf8(encode(cp)) == surrogate && ++wrong < 5) {
      ADD_FAILURE() << "code point U+" << std::hex << cp;
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST(GlobMatchTest, Table) {
  struct Case {
    std::string_view pattern;
    std::string_view text;
    bool match;
  };
  const Case cases[] = {
      {"", "", true},
      {"", "a", false},
      {"*", "", true},
      {"*", "anything", true},
      {"**", "x", true},
      {"abc", "abc", true},
      {"abc", "abcd", false},
      {"abcd", "abc", false},
      {"ABC", "abc", false},
      {"?", "a", true},
      {"?", "", false},
      {"?", "ab", false},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"api_*", "api_latency", true},
      {"api_*", "api_", true},
      {"api_*", "db_latency", false},
      {"*_latency", "api_latency", true},
      {"*_latency", "api_latency_ms", false},
      {"*_ms", "http_request_ms", true},
      {"a*", "a", true},
      {"*a*b*", "xxaybz", true},
      {"*a*b", "xxaybz", false},
      {"a*b*c", "abbbbc", true},
      {"a*b*c", "acb", false},
      {"*?", "", false},
      {"*?", "x", true},
      {"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.pattern) + " ~ " + std::string(c.text));
    EXPECT_EQ(GlobMatch(c.pattern, c.text), c.match);
  }
}

}  // namespace
}  // namespace core

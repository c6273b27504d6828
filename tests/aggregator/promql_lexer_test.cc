// Tests for aggregator/promql_lexer.h: token boundaries and error texts as in
// Prometheus' lex_test.go.
#include "aggregator/promql_lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace promql {
namespace {

using T = TokenType;

std::vector<Token> LexAll(std::string_view input) {
  Lexer lexer(input);
  std::vector<Token> out;
  for (;;) {
    Token t = lexer.Next();
    const bool end = t.type == T::kEof || t.type == T::kError;
    out.push_back(std::move(t));
    if (end) return out;
  }
}

std::vector<T> Types(std::string_view input) {
  std::vector<T> out;
  for (const auto& t : LexAll(input)) out.push_back(t.type);
  return out;
}

TEST(PromqlLexerTest, TokenSequences) {
  struct {
    const char* input;
    std::vector<T> want;
  } cases[] = {
      {",", {T::kComma, T::kEof}},
      {"()", {T::kLeftParen, T::kRightParen, T::kEof}},
      {"{}", {T::kLeftBrace, T::kRightBrace, T::kEof}},
      {"[5m]", {T::kLeftBracket, T::kDuration, T::kRightBracket, T::kEof}},
      {"[ 5m]", {T::kLeftBracket, T::kDuration, T::kRightBracket, T::kEof}},
      {"[5m:]", {T::kLeftBracket, T::kDuration, T::kColon, T::kRightBracket, T::kEof}},
      {"[5m:1m]",
       {T::kLeftBracket, T::kDuration, T::kColon, T::kDuration, T::kRightBracket, T::kEof}},
      {"[5m x 1m]",
       {T::kLeftBracket, T::kDuration, T::kColon, T::kDuration, T::kRightBracket, T::kEof}},
      {"1", {T::kNumber, T::kEof}},
      {"4.23", {T::kNumber, T::kEof}},
      {".3", {T::kNumber, T::kEof}},
      {"5.", {T::kNumber, T::kEof}},
      {"NaN", {T::kNumber, T::kEof}},
      {"nAN", {T::kNumber, T::kEof}},
      {"NaN 123", {T::kNumber, T::kNumber, T::kEof}},
      {"NaN123", {T::kIdentifier, T::kEof}},
      {"iNf", {T::kNumber, T::kEof}},
      {"Inf123", {T::kIdentifier, T::kEof}},
      {"0x123", {T::kNumber, T::kEof}},
      {"1e10", {T::kNumber, T::kEof}},
      {"1e-10", {T::kNumber, T::kEof}},
      {"5s", {T::kDuration, T::kEof}},
      {"123m", {T::kDuration, T::kEof}},
      {"1h30m", {T::kDuration, T::kEof}},
      {"1y", {T::kDuration, T::kEof}},
      {"1ms", {T::kDuration, T::kEof}},
      {"\"test\\tsequence\"", {T::kString, T::kEof}},
      {"'test'", {T::kString, T::kEof}},
      {"`test\\.expression`", {T::kString, T::kEof}},
      {"abc", {T::kIdentifier, T::kEof}},
      {"a:bc", {T::kMetricIdentifier, T::kEof}},
      {":bc", {T::kMetricIdentifier, T::kEof}},
      {"abc d", {T::kIdentifier, T::kIdentifier, T::kEof}},
      {"# comment", {T::kEof}},
      {"5 # comment", {T::kNumber, T::kEof}},
      {"5 # c\n6", {T::kNumber, T::kNumber, T::kEof}},
      {"=", {T::kAssign, T::kEof}},
      {"{=}", {T::kLeftBrace, T::kAssign, T::kRightBrace, T::kEof}},
      {"{!=}", {T::kLeftBrace, T::kNeq, T::kRightBrace, T::kEof}},
      {"{=~}", {T::kLeftBrace, T::kEqlRegex, T::kRightBrace, T::kEof}},
      {"{!~}", {T::kLeftBrace, T::kNeqRegex, T::kRightBrace, T::kEof}},
      {"{sum=\"x\"}",
       {T::kLeftBrace, T::kIdentifier, T::kAssign, T::kString, T::kRightBrace, T::kEof}},
      {"==", {T::kEqlc, T::kEof}},
      {"!=", {T::kNeq, T::kEof}},
      {"<", {T::kLss, T::kEof}},
      {"<=", {T::kLte, T::kEof}},
      {">", {T::kGtr, T::kEof}},
      {">=", {T::kGte, T::kEof}},
      {"+ - * / % ^ @", {T::kAdd, T::kSub, T::kMul, T::kDiv, T::kMod, T::kPow, T::kAt, T::kEof}},
      {"and or unless atan2", {T::kLand, T::kLor, T::kLunless, T::kAtan2, T::kEof}},
      {"AND Or", {T::kLand, T::kLor, T::kEof}},
      {"sum avg count min max group stddev stdvar topk bottomk count_values quantile",
       {T::kSum, T::kAvg, T::kCount, T::kMin, T::kMax, T::kGroup, T::kStddev, T::kStdvar, T::kTopk,
        T::kBottomk, T::kCountValues, T::kQuantile, T::kEof}},
      {"offset by without on ignoring group_left group_right bool start end",
       {T::kOffset, T::kBy, T::kWithout, T::kOn, T::kIgnoring, T::kGroupLeft, T::kGroupRight,
        T::kBool, T::kStart, T::kEnd, T::kEof}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(Types(c.input), c.want);
  }
}

TEST(PromqlLexerTest, TokenTextAndPositions) {
  const std::string_view input = "  sum(x{a=\"b\"}[5m]) ";
  auto toks = LexAll(input);
  ASSERT_EQ(toks.size(), 13u);
  EXPECT_EQ(toks[0].text, "sum");
  EXPECT_EQ(toks[0].pos, 2);
  EXPECT_EQ(toks[6].text, "\"b\"");
  EXPECT_EQ(toks[6].pos, 10);
  EXPECT_EQ(toks[9].text, "5m");
  EXPECT_EQ(toks[9].pos, 15);
  EXPECT_EQ(toks[12].type, T::kEof);
  EXPECT_EQ(toks[12].pos, static_cast<int>(input.size()));
}

TEST(PromqlLexerTest, Errors) {
  struct {
    const char* input;
    const char* message;
    int pos;
  } cases[] = {
      {"=~", "unexpected character after '=': '~'", 0},
      {"!~", "unexpected character after '!': '~'", 0},
      {"!(", "unexpected character after '!': '('", 0},
      {"1a", "bad number or duration syntax: \"1\"", 0},
      {"1ms5", "bad number or duration syntax: \"1ms5\"", 0},
      {"2.5.", "unexpected character: '.'", 3},
      {"x)", "unexpected right parenthesis ')'", 2},
      {"(x", "unclosed left parenthesis", 2},
      {"x]", "unexpected right bracket ']'", 1},
      {"x[5m", "unclosed left bracket", 4},
      {"x[5m[", "unexpected left bracket '['", 4},
      {"x[5]", "missing unit character in duration", 2},
      {"x[5mm]", "bad duration syntax: \"5mm\"", 2},
      {"x[5m:1m:]", "unexpected colon ':'", 7},
      {"{", "unexpected end of input inside braces", 1},
      {"{{", "unexpected left brace '{'", 1},
      {"{a!b}", "unexpected character after '!' inside braces: 'b'", 2},
      {"{a+}", "unexpected character inside braces: '+'", 2},
      {"\"abc", "unterminated quoted string", 0},
      {"\"a\nb\"", "unterminated quoted string", 0},
      {"`abc", "unterminated raw string", 0},
      {"\"\\", "escape sequence not terminated", 0},
      {"\"\\q\"", "unknown escape sequence U+0071 'q'", 0},
      {"\"\\x4g\"", "illegal character U+0067 'g' in escape sequence", 0},
      {"\"\\xz\"", "illegal character U+007A 'z' in escape sequence", 0},
      {"\"\\uD800\"", "escape sequence is an invalid Unicode code point", 0},
      {"\"\\U00110000\"", "escape sequence is an invalid Unicode code point", 0},
      {"\"\\400\"", "escape sequence is an invalid Unicode code point", 0},
      {"'\\\"'", "unknown escape sequence U+0022 '\"'", 0},
      {"\"\xff\"", "invalid UTF-8 rune", 0},
      {"`\xff`", "invalid UTF-8 rune", 0},
      {"$", "unexpected character: '$'", 0},
      {"x é", "unexpected character: 'é'", 2},
      {"}", "unexpected character: '}'", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto toks = LexAll(c.input);
    ASSERT_EQ(toks.back().type, T::kError);
    EXPECT_EQ(toks.back().message, c.message);
    EXPECT_EQ(toks.back().pos, c.pos);
  }
}

TEST(PromqlLexerTest, KeepsReturningEofAfterTheEnd) {
  Lexer lexer("x ]");
  EXPECT_EQ(lexer.Next().type, T::kIdentifier);
  EXPECT_EQ(lexer.Next().type, T::kError);
  EXPECT_EQ(lexer.Next().type, T::kEof);
  EXPECT_EQ(lexer.Next().type, T::kEof);
}

TEST(PromqlLexerTest, TokenDescriptions) {
  struct {
    const char* input;
    const char* want;
  } cases[] = {
      {"+", "<op:+>"},
      {"and", "<op:and>"},
      {"SUM", "<aggr:SUM>"},
      {"by", "<by>"},
      {"start", "\"start\""},
      {",", "\",\""},
      {"foo", "identifier \"foo\""},
      {"a:b", "metric identifier \"a:b\""},
      {"1.5", "number \"1.5\""},
      {"5m", "duration \"5m\""},
      {"\"x\"", "string \"\\\"x\\\"\""},
      {"\"a very long string\"", "string \"\\\"a very lo\"..."},
      {"", "end of input"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    Lexer lexer(c.input);
    EXPECT_EQ(TokenDescription(lexer.Next()), c.want);
  }
}

}  // namespace
}  // namespace promql

// Lexer: splits a PromQL query into tokens exactly like Prometheus 2.42's lexer
// (promql/parser/lex.go): the same token boundaries and the same error texts,
// so that the parser can quote Prometheus' messages. Not thread-safe; cheap.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace promql {

enum class TokenType : uint8_t {
  kEof,
  kError,
  kIdentifier,        // foo (no colon); inside braces every label name
  kMetricIdentifier,  // foo:bar
  kNumber,            // 1, 1.5e3, 0x1f, Inf, NaN
  kDuration,          // 5m, 1h30m
  kString,            // "..." '...' `...` (text includes the quotes)
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kColon,
  kAssign,  // = (label matching)
  // Operators.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlc,  // ==
  kNeq,
  kLss,
  kLte,
  kGtr,
  kGte,
  kEqlRegex,
  kNeqRegex,
  kAt,
  kAtan2,
  kLand,
  kLor,
  kLunless,
  // Aggregators.
  kAvg,
  kBottomk,
  kCount,
  kCountValues,
  kGroup,
  kMax,
  kMin,
  kQuantile,
  kStddev,
  kStdvar,
  kSum,
  kTopk,
  // Keywords.
  kBool,
  kBy,
  kGroupLeft,
  kGroupRight,
  kIgnoring,
  kOffset,
  kOn,
  kWithout,
  // @ preprocessors.
  kStart,
  kEnd,
};

bool IsAggregatorToken(TokenType t);

struct Token {
  TokenType type = TokenType::kEof;
  int pos = 0;            // byte offset of the token (of the error for kError)
  std::string_view text;  // the token as written; points into the query
  std::string message;    // kError only
};

// How Prometheus names a token in "unexpected ..." messages: `<op:+>`,
// `<aggr:sum>`, `<by>`, `identifier "foo"`, `number "1"`, `","`, `end of input`.
std::string TokenDescription(const Token& t);

class Lexer {
 public:
  // REQUIRES: `input` outlives the lexer and the tokens it returns.
  explicit Lexer(std::string_view input) : input_(input) {}

  // The next token; comments and whitespace are skipped. After kEof or kError
  // it returns kEof.
  Token Next();

 private:
  static constexpr int32_t kEofRune = -1;

  int32_t NextRune();
  void Backup() { pos_ -= static_cast<size_t>(width_); }
  int32_t PeekRune();
  bool Accept(std::string_view valid);
  void AcceptRun(std::string_view valid);
  void SkipSpaces();
  bool AtComment() const { return pos_ < input_.size() && input_[pos_] == '#'; }
  void SkipComment();
  Token Emit(TokenType type);
  Token Error(std::string message);

  // Return false when they only skipped whitespace or a comment.
  bool LexStatements(Token* out);
  bool LexInsideBraces(Token* out);
  Token LexNumberOrDuration();
  Token LexDuration();
  Token LexString(int32_t quote);
  Token LexRawString();
  Token LexKeywordOrIdentifier();
  bool ScanNumber();
  bool AcceptRemainingDuration();

  std::string_view input_;
  size_t pos_ = 0;    // next byte to read
  size_t start_ = 0;  // start of the token being lexed
  int width_ = 0;     // width of the last rune read
  int paren_depth_ = 0;
  bool brace_open_ = false;
  bool bracket_open_ = false;
  bool got_colon_ = false;
  bool duration_next_ = false;  // right after '[': a duration must follow
  bool done_ = false;
};

}  // namespace promql

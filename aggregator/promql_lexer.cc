#include "aggregator/promql_lexer.h"

#include <array>
#include <utility>

#include "aggregator/promql_text.h"

namespace promql {

namespace {

bool IsSpace(int32_t r) { return r == ' ' || r == '\t' || r == '\n' || r == '\r'; }
bool IsDigit(int32_t r) { return r >= '0' && r <= '9'; }
bool IsAlpha(int32_t r) { return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'); }
bool IsAlphaNumeric(int32_t r) { return IsAlpha(r) || IsDigit(r); }
bool Contains(std::string_view set, int32_t r) {
  return r >= 0 && r < 0x80 && set.find(static_cast<char>(r)) != std::string_view::npos;
}

struct Keyword {
  std::string_view word;
  TokenType type;
};
constexpr Keyword kKeywords[] = {
    {"and", TokenType::kLand},
    {"or", TokenType::kLor},
    {"unless", TokenType::kLunless},
    {"atan2", TokenType::kAtan2},
    {"sum", TokenType::kSum},
    {"avg", TokenType::kAvg},
    {"count", TokenType::kCount},
    {"min", TokenType::kMin},
    {"max", TokenType::kMax},
    {"group", TokenType::kGroup},
    {"stddev", TokenType::kStddev},
    {"stdvar", TokenType::kStdvar},
    {"topk", TokenType::kTopk},
    {"bottomk", TokenType::kBottomk},
    {"count_values", TokenType::kCountValues},
    {"quantile", TokenType::kQuantile},
    {"offset", TokenType::kOffset},
    {"by", TokenType::kBy},
    {"without", TokenType::kWithout},
    {"on", TokenType::kOn},
    {"ignoring", TokenType::kIgnoring},
    {"group_left", TokenType::kGroupLeft},
    {"group_right", TokenType::kGroupRight},
    {"bool", TokenType::kBool},
    {"start", TokenType::kStart},
    {"end", TokenType::kEnd},
    {"inf", TokenType::kNumber},
    {"nan", TokenType::kNumber},
};

bool LookupKeyword(std::string_view word, TokenType* type) {
  if (word.size() > 12) return false;
  std::array<char, 12> lower{};
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view l(lower.data(), word.size());
  for (const auto& k : kKeywords) {
    if (k.word == l) {
      *type = k.type;
      return true;
    }
  }
  return false;
}

enum class Class { kPunct, kOperator, kAggregator, kKeyword, kOther };

Class Classify(TokenType t) {
  switch (t) {
    case TokenType::kLeftParen:
    case TokenType::kRightParen:
    case TokenType::kLeftBrace:
    case TokenType::kRightBrace:
    case TokenType::kLeftBracket:
    case TokenType::kRightBracket:
    case TokenType::kComma:
    case TokenType::kColon:
    case TokenType::kAssign:
    case TokenType::kStart:
    case TokenType::kEnd:
      return Class::kPunct;
    case TokenType::kAdd:
    case TokenType::kSub:
    case TokenType::kMul:
    case TokenType::kDiv:
    case TokenType::kMod:
    case TokenType::kPow:
    case TokenType::kEqlc:
    case TokenType::kNeq:
    case TokenType::kLss:
    case TokenType::kLte:
    case TokenType::kGtr:
    case TokenType::kGte:
    case TokenType::kEqlRegex:
    case TokenType::kNeqRegex:
    case TokenType::kAt:
    case TokenType::kAtan2:
    case TokenType::kLand:
    case TokenType::kLor:
    case TokenType::kLunless:
      return Class::kOperator;
    case TokenType::kBool:
    case TokenType::kBy:
    case TokenType::kGroupLeft:
    case TokenType::kGroupRight:
    case TokenType::kIgnoring:
    case TokenType::kOffset:
    case TokenType::kOn:
    case TokenType::kWithout:
      return Class::kKeyword;
    default:
      return IsAggregatorToken(t) ? Class::kAggregator : Class::kOther;
  }
}

// Go's fmt "%.10q": the first 10 runes, quoted.
std::string QuoteTruncated(std::string_view s) {
  size_t i = 0;
  for (int runes = 0; runes < 10 && i < s.size(); ++runes) {
    int width = 1;
    DecodeRune(s, i, &width);
    i += static_cast<size_t>(width);
  }
  return QuoteString(s.substr(0, i));
}

}  // namespace

bool IsAggregatorToken(TokenType t) {
  switch (t) {
    case TokenType::kAvg:
    case TokenType::kBottomk:
    case TokenType::kCount:
    case TokenType::kCountValues:
    case TokenType::kGroup:
    case TokenType::kMax:
    case TokenType::kMin:
    case TokenType::kQuantile:
    case TokenType::kStddev:
    case TokenType::kStdvar:
    case TokenType::kSum:
    case TokenType::kTopk:
      return true;
    default:
      return false;
  }
}

std::string TokenDescription(const Token& t) {
  // Go: Item.desc() = Item.String() for tokens with a fixed spelling, else
  // "<kind> " + Item.String().
  switch (t.type) {
    case TokenType::kEof:
      return "end of input";
    case TokenType::kError:
      return t.message;
    case TokenType::kIdentifier:
      return "identifier " + QuoteString(t.text);
    case TokenType::kMetricIdentifier:
      return "metric identifier " + QuoteString(t.text);
    default:
      break;
  }
  std::string text(t.text);
  switch (Classify(t.type)) {
    case Class::kOperator:
      return "<op:" + text + ">";
    case Class::kAggregator:
      return "<aggr:" + text + ">";
    case Class::kKeyword:
      return "<" + text + ">";
    case Class::kPunct:
      return QuoteString(t.text);
    case Class::kOther:
      break;
  }
  std::string quoted = t.text.size() > 10 ? QuoteTruncated(t.text) + "..." : QuoteString(t.text);
  switch (t.type) {
    case TokenType::kNumber:
      return "number " + quoted;
    case TokenType::kDuration:
      return "duration " + quoted;
    case TokenType::kString:
      return "string " + quoted;
    default:
      return quoted;
  }
}

int32_t Lexer::NextRune() {
  if (pos_ >= input_.size()) {
    width_ = 0;
    return kEofRune;
  }
  int32_t r = DecodeRune(input_, pos_, &width_);
  pos_ += static_cast<size_t>(width_);
  return r;
}

int32_t Lexer::PeekRune() {
  int32_t r = NextRune();
  Backup();
  return r;
}

bool Lexer::Accept(std::string_view valid) {
  if (Contains(valid, NextRune())) return true;
  Backup();
  return false;
}

void Lexer::AcceptRun(std::string_view valid) {
  while (Contains(valid, NextRune())) {
  }
  Backup();
}

void Lexer::SkipSpaces() {
  while (IsSpace(PeekRune())) NextRune();
  start_ = pos_;
}

void Lexer::SkipComment() {
  ++pos_;  // '#'
  while (pos_ < input_.size() && input_[pos_] != '\n' && input_[pos_] != '\r') ++pos_;
  start_ = pos_;
}

Token Lexer::Emit(TokenType type) {
  Token t;
  t.type = type;
  t.pos = static_cast<int>(start_);
  t.text = input_.substr(start_, pos_ - start_);
  start_ = pos_;
  return t;
}

Token Lexer::Error(std::string message) {
  done_ = true;
  Token t;
  t.type = TokenType::kError;
  t.pos = static_cast<int>(start_);
  t.message = std::move(message);
  return t;
}

Token Lexer::Next() {
  if (done_) {
    Token t;
    t.pos = static_cast<int>(input_.size());
    return t;
  }
  Token t;
  for (;;) {
    bool got = false;
    if (duration_next_) {
      duration_next_ = false;
      t = LexDuration();
      got = true;
    } else if (brace_open_) {
      got = LexInsideBraces(&t);
    } else {
      got = LexStatements(&t);
    }
    if (got) break;
  }
  if (t.type == TokenType::kEof || t.type == TokenType::kError) done_ = true;
  return t;
}

bool Lexer::LexStatements(Token* out) {
  if (AtComment()) {
    SkipComment();
    return false;
  }
  const int32_t r = NextRune();
  if (r == kEofRune) {
    if (paren_depth_ != 0) {
      *out = Error("unclosed left parenthesis");
    } else if (bracket_open_) {
      *out = Error("unclosed left bracket");
    } else {
      *out = Emit(TokenType::kEof);
    }
    return true;
  }
  if (IsSpace(r)) {
    SkipSpaces();
    return false;
  }
  switch (r) {
    case ',':
      *out = Emit(TokenType::kComma);
      return true;
    case '*':
      *out = Emit(TokenType::kMul);
      return true;
    case '/':
      *out = Emit(TokenType::kDiv);
      return true;
    case '%':
      *out = Emit(TokenType::kMod);
      return true;
    case '+':
      *out = Emit(TokenType::kAdd);
      return true;
    case '-':
      *out = Emit(TokenType::kSub);
      return true;
    case '^':
      *out = Emit(TokenType::kPow);
      return true;
    case '=': {
      const int32_t t = PeekRune();
      if (t == '=') {
        NextRune();
        *out = Emit(TokenType::kEqlc);
      } else if (t == '~') {
        *out = Error("unexpected character after '=': " + QuoteRune(t));
      } else {
        *out = Emit(TokenType::kAssign);
      }
      return true;
    }
    case '!': {
      const int32_t t = NextRune();
      *out = t == '=' ? Emit(TokenType::kNeq)
                      : Error("unexpected character after '!': " + QuoteRune(t));
      return true;
    }
    case '<':
      if (PeekRune() == '=') {
        NextRune();
        *out = Emit(TokenType::kLte);
      } else {
        *out = Emit(TokenType::kLss);
      }
      return true;
    case '>':
      if (PeekRune() == '=') {
        NextRune();
        *out = Emit(TokenType::kGte);
      } else {
        *out = Emit(TokenType::kGtr);
      }
      return true;
    case '"':
    case '\'':
      *out = LexString(r);
      return true;
    case '`':
      *out = LexRawString();
      return true;
    case '(':
      *out = Emit(TokenType::kLeftParen);
      ++paren_depth_;
      return true;
    case ')':
      *out = Emit(TokenType::kRightParen);
      if (--paren_depth_ < 0) *out = Error("unexpected right parenthesis " + QuoteRune(r));
      return true;
    case '{':
      *out = Emit(TokenType::kLeftBrace);
      brace_open_ = true;
      return true;
    case '[':
      if (bracket_open_) {
        *out = Error("unexpected left bracket " + QuoteRune(r));
        return true;
      }
      got_colon_ = false;
      *out = Emit(TokenType::kLeftBracket);
      SkipSpaces();
      bracket_open_ = true;
      duration_next_ = true;
      return true;
    case ']':
      if (!bracket_open_) {
        *out = Error("unexpected right bracket " + QuoteRune(r));
        return true;
      }
      *out = Emit(TokenType::kRightBracket);
      bracket_open_ = false;
      return true;
    case '@':
      *out = Emit(TokenType::kAt);
      return true;
    default:
      break;
  }
  if (IsDigit(r) || (r == '.' && IsDigit(PeekRune()))) {
    Backup();
    *out = LexNumberOrDuration();
    return true;
  }
  if (IsAlpha(r) || r == ':') {
    if (!bracket_open_) {
      Backup();
      *out = LexKeywordOrIdentifier();
      return true;
    }
    // Inside brackets Prometheus 2.42 reads any letter as the subquery colon.
    if (got_colon_) {
      *out = Error("unexpected colon " + QuoteRune(r));
      return true;
    }
    *out = Emit(TokenType::kColon);
    got_colon_ = true;
    return true;
  }
  *out = Error("unexpected character: " + QuoteRune(r));
  return true;
}

bool Lexer::LexInsideBraces(Token* out) {
  if (AtComment()) {
    SkipComment();
    return false;
  }
  const int32_t r = NextRune();
  if (r == kEofRune) {
    *out = Error("unexpected end of input inside braces");
    return true;
  }
  if (IsSpace(r)) {
    SkipSpaces();
    return false;
  }
  if (IsAlpha(r)) {
    while (IsAlphaNumeric(NextRune())) {
    }
    Backup();
    *out = Emit(TokenType::kIdentifier);
    return true;
  }
  switch (r) {
    case ',':
      *out = Emit(TokenType::kComma);
      return true;
    case '"':
    case '\'':
      *out = LexString(r);
      return true;
    case '`':
      *out = LexRawString();
      return true;
    case '=':
      if (NextRune() == '~') {
        *out = Emit(TokenType::kEqlRegex);
      } else {
        Backup();
        *out = Emit(TokenType::kAssign);
      }
      return true;
    case '!': {
      const int32_t nr = NextRune();
      if (nr == '~') {
        *out = Emit(TokenType::kNeqRegex);
      } else if (nr == '=') {
        *out = Emit(TokenType::kNeq);
      } else {
        *out = Error("unexpected character after '!' inside braces: " + QuoteRune(nr));
      }
      return true;
    }
    case '{':
      *out = Error("unexpected left brace " + QuoteRune(r));
      return true;
    case '}':
      *out = Emit(TokenType::kRightBrace);
      brace_open_ = false;
      return true;
    default:
      *out = Error("unexpected character inside braces: " + QuoteRune(r));
      return true;
  }
}

bool Lexer::ScanNumber() {
  std::string_view digits = "0123456789";
  if (Accept("0") && Accept("xX")) digits = "0123456789abcdefABCDEF";
  AcceptRun(digits);
  if (Accept(".")) AcceptRun(digits);
  if (Accept("eE")) {
    Accept("+-");
    AcceptRun("0123456789");
  }
  // The next thing must not be alphanumeric.
  return !IsAlphaNumeric(PeekRune());
}

bool Lexer::AcceptRemainingDuration() {
  if (!Accept("smhdwy")) return false;
  Accept("s");  // "ms"; bad units like "hs" are caught when the duration is parsed
  while (Accept("0123456789")) {
    AcceptRun("0123456789");
    if (!Accept("smhdw")) return false;  // "y" may only come first
    Accept("s");
  }
  return !IsAlphaNumeric(NextRune());
}

Token Lexer::LexNumberOrDuration() {
  if (ScanNumber()) return Emit(TokenType::kNumber);
  if (AcceptRemainingDuration()) {
    Backup();
    return Emit(TokenType::kDuration);
  }
  return Error("bad number or duration syntax: " +
               QuoteString(input_.substr(start_, pos_ - start_)));
}

Token Lexer::LexDuration() {
  if (ScanNumber()) return Error("missing unit character in duration");
  if (!AcceptRemainingDuration()) {
    return Error("bad duration syntax: " + QuoteString(input_.substr(start_, pos_ - start_)));
  }
  Backup();
  return Emit(TokenType::kDuration);
}

Token Lexer::LexString(int32_t quote) {
  for (;;) {
    int32_t r = NextRune();
    if (r == '\\') {
      // Escape sequences, checked like Go's scanner does.
      int32_t ch = NextRune();
      int n = 0;
      uint32_t base = 0, max = 0;
      switch (ch) {
        case 'a':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
        case 'v':
        case '\\':
          continue;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
          n = 3, base = 8, max = 255;
          break;
        case 'x':
          ch = NextRune();
          n = 2, base = 16, max = 255;
          break;
        case 'u':
          ch = NextRune();
          n = 4, base = 16, max = 0x10FFFF;
          break;
        case 'U':
          ch = NextRune();
          n = 8, base = 16, max = 0x10FFFF;
          break;
        case kEofRune:
          return Error("escape sequence not terminated");
        default:
          if (ch == quote) continue;
          return Error("unknown escape sequence " + FormatRuneU(ch));
      }
      uint32_t x = 0;
      while (n > 0) {
        uint32_t d = 16;
        if (ch >= '0' && ch <= '9') d = static_cast<uint32_t>(ch - '0');
        if (ch >= 'a' && ch <= 'f') d = static_cast<uint32_t>(ch - 'a' + 10);
        if (ch >= 'A' && ch <= 'F') d = static_cast<uint32_t>(ch - 'A' + 10);
        if (d >= base) {
          if (ch == kEofRune) return Error("escape sequence not terminated");
          return Error("illegal character " + FormatRuneU(ch) + " in escape sequence");
        }
        x = x * base + d;
        if (--n > 0) ch = NextRune();
      }
      if (x > max || (x >= 0xD800 && x < 0xE000)) {
        return Error("escape sequence is an invalid Unicode code point");
      }
      continue;
    }
    if (r == kRuneError) return Error("invalid UTF-8 rune");
    if (r == kEofRune || r == '\n') return Error("unterminated quoted string");
    if (r == quote) break;
  }
  return Emit(TokenType::kString);
}

Token Lexer::LexRawString() {
  for (;;) {
    int32_t r = NextRune();
    if (r == kRuneError) return Error("invalid UTF-8 rune");
    if (r == kEofRune) return Error("unterminated raw string");
    if (r == '`') break;
  }
  return Emit(TokenType::kString);
}

Token Lexer::LexKeywordOrIdentifier() {
  for (;;) {
    int32_t r = NextRune();
    if (!IsAlphaNumeric(r) && r != ':') break;
  }
  Backup();
  std::string_view word = input_.substr(start_, pos_ - start_);
  TokenType type;
  if (LookupKeyword(word, &type)) return Emit(type);
  if (word.find(':') == std::string_view::npos) return Emit(TokenType::kIdentifier);
  return Emit(TokenType::kMetricIdentifier);
}

}  // namespace promql

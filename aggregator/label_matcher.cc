#include "aggregator/label_matcher.h"

#include <re2/re2.h>

#include "aggregator/promql_text.h"

namespace promql {

class CompiledRegex {
 public:
  explicit CompiledRegex(const std::string& anchored) : re_(anchored, Options()) {}
  const re2::RE2& re() const { return re_; }

 private:
  static re2::RE2::Options Options() {
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_encoding(re2::RE2::Options::EncodingUTF8);
    return options;
  }
  re2::RE2 re_;
};

namespace {

// Go's regexp/syntax wording for RE2's error codes.
std::string_view GoErrorText(re2::RE2::ErrorCode code) {
  switch (code) {
    case re2::RE2::ErrorBadEscape:
      return "invalid escape sequence";
    case re2::RE2::ErrorBadCharClass:
      return "invalid character class";
    case re2::RE2::ErrorBadCharRange:
      return "invalid character class range";
    case re2::RE2::ErrorMissingBracket:
      return "missing closing ]";
    case re2::RE2::ErrorMissingParen:
      return "missing closing )";
    case re2::RE2::ErrorUnexpectedParen:
      return "unexpected )";
    case re2::RE2::ErrorTrailingBackslash:
      return "trailing backslash at end of expression";
    case re2::RE2::ErrorRepeatArgument:
      return "missing argument to repetition operator";
    case re2::RE2::ErrorRepeatSize:
      return "invalid repeat count";
    case re2::RE2::ErrorRepeatOp:
      return "invalid nested repetition operator";
    case re2::RE2::ErrorBadPerlOp:
      return "invalid or unsupported Perl syntax";
    case re2::RE2::ErrorBadUTF8:
      return "invalid UTF-8";
    case re2::RE2::ErrorBadNamedCapture:
      return "invalid named capture";
    case re2::RE2::ErrorPatternTooLarge:
      return "expression too large";
    default:
      return "regexp/syntax: internal error";
  }
}

core::Unexpected<core::Error> RegexError(std::string_view text, std::string_view arg) {
  std::string message = "error parsing regexp: ";
  message += text;
  message += ": `";
  message += arg;
  message += "`";
  return core::Fail(core::ErrorCode::kInvalidRequest, std::move(message));
}

// Go's regexp has no \C (any byte), which RE2 accepts outside character classes.
bool HasByteEscape(std::string_view re) {
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 < re.size() && re[i + 1] == 'C' && !in_class) return true;
      ++i;
    } else if (!in_class && c == '[') {
      in_class = true;
      if (i + 1 < re.size() && re[i + 1] == '^') ++i;
      if (i + 1 < re.size() && re[i + 1] == ']') ++i;  // a leading ']' is literal
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return false;
}

}  // namespace

std::string_view MatchTypeString(MatchType type) {
  switch (type) {
    case MatchType::kEqual:
      return "=";
    case MatchType::kNotEqual:
      return "!=";
    case MatchType::kRegexMatch:
      return "=~";
    case MatchType::kRegexNoMatch:
      return "!~";
  }
  return "=";
}

LabelMatcher::LabelMatcher(MatchType type, std::string name, std::string value,
                           std::shared_ptr<const CompiledRegex> regex)
    : type_(type), name_(std::move(name)), value_(std::move(value)), regex_(std::move(regex)) {}

core::Result<LabelMatcher> LabelMatcher::Make(MatchType type, std::string name, std::string value) {
  std::shared_ptr<const CompiledRegex> regex;
  if (type == MatchType::kRegexMatch || type == MatchType::kRegexNoMatch) {
    if (HasByteEscape(value)) return RegexError("invalid escape sequence", "\\C");
    auto compiled = std::make_shared<const CompiledRegex>("^(?:" + value + ")$");
    if (!compiled->re().ok()) {
      return RegexError(GoErrorText(compiled->re().error_code()), compiled->re().error_arg());
    }
    // Like Prometheus 2.42, the pattern must also be valid on its own, so that
    // "a)(b" is rejected although "^(?:a)(b)$" compiles.
    const CompiledRegex bare(value);
    if (!bare.re().ok()) {
      const bool whole = bare.re().error_code() == re2::RE2::ErrorMissingParen ||
                         bare.re().error_code() == re2::RE2::ErrorUnexpectedParen;
      return RegexError(GoErrorText(bare.re().error_code()),
                        whole ? std::string_view(value) : std::string_view(bare.re().error_arg()));
    }
    regex = std::move(compiled);
  }
  return LabelMatcher(type, std::move(name), std::move(value), std::move(regex));
}

bool LabelMatcher::Matches(std::string_view label_value) const {
  switch (type_) {
    case MatchType::kEqual:
      return label_value == value_;
    case MatchType::kNotEqual:
      return label_value != value_;
    case MatchType::kRegexMatch:
      return re2::RE2::FullMatch(re2::StringPiece(label_value.data(), label_value.size()),
                                 regex_->re());
    case MatchType::kRegexNoMatch:
      return !re2::RE2::FullMatch(re2::StringPiece(label_value.data(), label_value.size()),
                                  regex_->re());
  }
  return false;
}

std::string LabelMatcher::ToString() const {
  std::string out = name_;
  out += MatchTypeString(type_);
  out += QuoteString(value_);
  return out;
}

}  // namespace promql

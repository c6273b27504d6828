// LabelMatcher: one `name op "value"` condition of a PromQL vector selector.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace promql {

enum class MatchType { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// "=", "!=", "=~", "!~".
std::string_view MatchTypeString(MatchType type);

class CompiledRegex;  // RE2 behind a pimpl: RE2 stays out of our headers.

// A label matcher with Prometheus semantics: regexes use RE2 syntax (Go's
// regexp dialect) and are anchored at both ends, `^(?:value)$`. A label that a
// series lacks has the value "" for matching purposes.
// Value type; copies share the immutable compiled regex. Thread-safe for
// concurrent const use.
class LabelMatcher {
 public:
  // Fails for a regex type when `value` does not compile (message like Go's:
  // "error parsing regexp: missing closing ): `(.*`").
  static core::Result<LabelMatcher> Make(MatchType type, std::string name, std::string value);

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }

  bool Matches(std::string_view label_value) const;

  // `name="value"` with the value quoted like Go's %q.
  std::string ToString() const;

  friend bool operator==(const LabelMatcher& a, const LabelMatcher& b) {
    return a.type_ == b.type_ && a.name_ == b.name_ && a.value_ == b.value_;
  }

 private:
  LabelMatcher(MatchType type, std::string name, std::string value,
               std::shared_ptr<const CompiledRegex> regex);

  MatchType type_;
  std::string name_;
  std::string value_;
  std::shared_ptr<const CompiledRegex> regex_;  // set for the regex types
};

}  // namespace promql

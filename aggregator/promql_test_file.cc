#include "aggregator/promql_test_file.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "aggregator/promql_text.h"

namespace promql {

namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsAlpha(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

core::Unexpected<core::Error> Invalid(std::string message) {
  return core::Fail(core::ErrorCode::kInvalidRequest, std::move(message));
}

// Keywords that Prometheus' grammar does not accept as a metric name.
bool IsReservedName(std::string_view word) {
  const std::string l = Lower(word);
  return l == "bool" || l == "on" || l == "ignoring" || l == "group_left" || l == "group_right" ||
         l == "atan2" || l == "inf" || l == "nan";
}

// Reads a quoted string starting at s[*pos] (", ' or `) and unquotes it.
core::Result<std::string> ReadString(std::string_view s, size_t* pos) {
  const char quote = s[*pos];
  size_t i = *pos + 1;
  while (i < s.size() && s[i] != quote) {
    if (s[i] == '\\' && quote != '`') ++i;
    ++i;
  }
  if (i >= s.size()) return Invalid("unterminated quoted string");
  auto v = UnquoteString(s.substr(*pos, i + 1 - *pos));
  if (!v) return Invalid("invalid string " + std::string(s.substr(*pos, i + 1 - *pos)));
  *pos = i + 1;
  return v;
}

// One whitespace-separated item of a value sequence: `1`, `-2.5`, `Inf`, `_`,
// `_x3`, `stale`, `1x3` (4 values), `0+10x3` (0 10 20 30), `5-1x2` (5 4 3).
// `limit` bounds out->size(): expanding `1x1000000000` must not exhaust memory.
core::Status AppendItem(std::string_view item, size_t limit, std::vector<SequenceValue>* out) {
  auto bad = [&](std::string_view why) {
    return Invalid("invalid series value " + QuoteString(item) + ": " + std::string(why));
  };
  auto parse_uint = [](std::string_view digits, uint64_t* n) {
    if (digits.empty() || digits.size() > 18) return false;
    *n = 0;
    for (char c : digits) {
      if (!IsDigit(c)) return false;
      *n = *n * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  auto fits = [&](uint64_t n) { return n <= limit && out->size() <= limit - n; };
  if (!fits(1)) return bad("too many values");
  if (item == "_") {
    out->push_back(SequenceValue{0, true, false});
    return {};
  }
  if (item.substr(0, 2) == "_x") {
    uint64_t n = 0;
    if (!parse_uint(item.substr(2), &n)) return bad("invalid repetition");
    if (!fits(n)) return bad("too many values");
    out->reserve(out->size() + n);
    for (uint64_t i = 0; i < n; ++i) out->push_back(SequenceValue{0, true, false});
    return {};
  }
  if (item == "stale") {
    out->push_back(SequenceValue{StaleNaN(), false, true});
    return {};
  }
  // A (signed) number; `rest` is what follows it.
  auto read_number = [](std::string_view s, double* v, std::string_view* rest) -> bool {
    size_t i = 0;
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    const size_t start = i;
    if (i < s.size() && IsAlpha(s[i])) {
      while (i < s.size() && IsAlnum(s[i])) ++i;  // Inf, NaN (any case)
      const std::string word = Lower(s.substr(start, i - start));
      if (word != "inf" && word != "nan") return false;
    } else {
      while (i < s.size() && IsDigit(s[i])) ++i;
      if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && IsDigit(s[i])) ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        while (i < s.size() && IsDigit(s[i])) ++i;
      }
      if (i == start || (i < s.size() && IsAlnum(s[i]) && s[i] != 'x')) return false;
    }
    auto parsed = ParseNumber(s.substr(start, i - start));
    if (!parsed) return false;
    *v = negative ? -*parsed : *parsed;
    *rest = s.substr(i);
    return true;
  };
  double value = 0;
  std::string_view rest;
  if (!read_number(item, &value, &rest)) return bad("expected a number, \"_\" or \"stale\"");
  if (rest.empty()) {
    out->push_back(SequenceValue{value, false, false});
    return {};
  }
  double delta = 0;
  if (rest[0] == '+' || rest[0] == '-') {
    std::string_view after;
    if (!read_number(rest, &delta, &after) || after.empty() || after[0] != 'x') {
      return bad("expected <start>(+|-)<step>x<count>");
    }
    rest = after;
  }
  if (rest[0] != 'x') return bad("unexpected " + std::string(rest));
  uint64_t n = 0;
  if (!parse_uint(rest.substr(1), &n)) return bad("invalid repetition");
  if (!fits(n + 1)) return bad("too many values");
  out->reserve(out->size() + n + 1);
  for (uint64_t i = 0; i <= n; ++i) {  // n repetitions after the first value
    out->push_back(SequenceValue{value, false, false});
    value += delta;
  }
  return {};
}

// Splits a file into lines the way Prometheus' test runner sees them: trimmed,
// with comment lines blanked.
std::vector<std::string_view> Lines(std::string_view content) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (;;) {
    const size_t nl = content.find('\n', start);
    std::string_view l = content.substr(start, nl == std::string_view::npos ? nl : nl - start);
    lines.push_back(l);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return lines;
}

std::string_view Clean(std::string_view raw) {
  std::string_view l = TrimSpace(raw);
  if (!l.empty() && l.front() == '#') return {};
  return l;
}

// The first word and the rest after the whitespace that follows it.
std::pair<std::string_view, std::string_view> SplitWord(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && !IsSpace(s[i])) ++i;
  std::string_view word = s.substr(0, i);
  while (i < s.size() && IsSpace(s[i])) ++i;
  return {word, s.substr(i)};
}

}  // namespace

double StaleNaN() { return std::bit_cast<double>(uint64_t{0x7ff0000000000002}); }
bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == 0x7ff0000000000002; }

namespace {

core::Result<SeriesLine> ParseSeries(std::string_view text, size_t max_values) {
  text = TrimSpace(text);
  SeriesLine series;
  std::vector<core::Label> labels;
  size_t pos = 0;
  if (pos < text.size() && (IsAlpha(text[pos]) || text[pos] == ':')) {
    while (pos < text.size() && (IsAlnum(text[pos]) || text[pos] == ':')) ++pos;
    const std::string_view name = text.substr(0, pos);
    if (IsReservedName(name)) return Invalid("invalid metric name " + QuoteString(name));
    labels.push_back({"__name__", std::string(name)});
  } else if (pos >= text.size() || text[pos] != '{') {
    return Invalid("expected a metric name or \"{\"");
  }
  if (pos < text.size() && text[pos] == '{') {
    ++pos;
    auto skip = [&] {
      while (pos < text.size() && IsSpace(text[pos])) ++pos;
    };
    skip();
    while (pos < text.size() && text[pos] != '}') {
      const size_t name_start = pos;
      if (!IsAlpha(text[pos])) return Invalid("expected a label name or \"}\" in label set");
      while (pos < text.size() && IsAlnum(text[pos])) ++pos;
      std::string name(text.substr(name_start, pos - name_start));
      skip();
      if (pos >= text.size() || text[pos] != '=') {
        return Invalid("expected \"=\" after label " + QuoteString(name));
      }
      ++pos;
      skip();
      if (pos >= text.size() || (text[pos] != '"' && text[pos] != '\'' && text[pos] != '`')) {
        return Invalid("expected a string value for label " + QuoteString(name));
      }
      auto value = ReadString(text, &pos);
      if (!value) return core::Unexpected(value.error());
      for (const auto& l : labels) {
        if (l.name == name) return Invalid("duplicate label name " + QuoteString(name));
      }
      labels.push_back({std::move(name), std::move(*value)});
      skip();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        skip();
      } else if (pos < text.size() && text[pos] != '}') {
        return Invalid("expected \",\" or \"}\" in label set");
      }
    }
    if (pos >= text.size()) return Invalid("unterminated label set");
    ++pos;  // '}'
  }
  if (pos < text.size() && !IsSpace(text[pos])) {
    return Invalid("expected whitespace before the values, got " + QuoteString(text.substr(pos)));
  }
  series.labels = core::Labels(std::move(labels));
  std::string_view values = TrimSpace(text.substr(pos));
  while (!values.empty()) {
    auto [item, rest] = SplitWord(values);
    if (auto st = AppendItem(item, max_values, &series.values); !st) {
      return core::Unexpected(st.error());
    }
    values = rest;
  }
  return series;
}

}  // namespace

core::Result<SeriesLine> ParseSeriesLine(std::string_view text) {
  return ParseSeries(text, kMaxTestFileValues);
}

core::Result<TestFile> ParseTestFile(std::string_view content) {
  size_t budget = kMaxTestFileValues;  // values left for the rest of the file
  const std::vector<std::string_view> raw = Lines(content);
  TestFile file;
  std::string errors;
  auto error = [&](size_t i, std::string_view msg) {
    if (!errors.empty()) errors += "\n";
    errors += "line " + std::to_string(i + 1) + ": " + std::string(msg);
  };
  // Skips to the end of the current block after an error.
  auto skip_block = [&](size_t* i) {
    while (*i + 1 < raw.size() && !Clean(raw[*i + 1]).empty()) ++*i;
  };
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string_view l = Clean(raw[i]);
    if (l.empty()) continue;
    auto [word, rest] = SplitWord(l);
    const std::string cmd = Lower(word);
    if (cmd == "clear") {
      file.commands.emplace_back(std::in_place_type<ClearCommand>,
                                 ClearCommand{static_cast<int>(i + 1)});
      continue;
    }
    if (cmd == "load") {
      LoadCommand load;
      load.line = static_cast<int>(i + 1);
      if (word != "load" || rest.empty()) {
        error(i, "invalid load command. (load <step:duration>)");
        skip_block(&i);
        continue;
      }
      auto interval = ParseDuration(rest);
      if (!interval) {
        error(i, "invalid step definition " + QuoteString(rest) + ": " + interval.error().message);
        skip_block(&i);
        continue;
      }
      load.interval_ms = *interval;
      bool ok = true;
      while (i + 1 < raw.size() && !Clean(raw[i + 1]).empty()) {
        ++i;
        auto series = ParseSeries(Clean(raw[i]), budget);
        if (!series) {
          error(i, series.error().message);
          ok = false;
          continue;
        }
        budget -= series->values.size();
        series->line = static_cast<int>(i + 1);
        load.series.push_back(std::move(*series));
      }
      if (ok) file.commands.emplace_back(std::in_place_type<LoadCommand>, std::move(load));
      continue;
    }
    if (cmd.rfind("eval", 0) == 0) {
      EvalCommand eval;
      eval.line = static_cast<int>(i + 1);
      eval.fail = word == "eval_fail";
      eval.ordered = word == "eval_ordered";
      auto [instant, after_instant] = SplitWord(rest);
      auto [at, after_at] = SplitWord(after_instant);
      auto [when, expr] = SplitWord(after_at);
      if ((word != "eval" && !eval.fail && !eval.ordered) || instant != "instant" || at != "at" ||
          when.empty() || expr.empty()) {
        error(i,
              "invalid evaluation command. (eval[_fail|_ordered] instant [at <offset:duration>] "
              "<query>");
        skip_block(&i);
        continue;
      }
      auto at_ms = ParseDuration(when);
      if (!at_ms) {
        error(i, "invalid evaluation time " + QuoteString(when) + ": " + at_ms.error().message);
        skip_block(&i);
        continue;
      }
      eval.at_ms = *at_ms;
      eval.expr = std::string(expr);
      eval.expr_column = static_cast<int>(expr.data() - raw[i].data()) + 1;
      bool ok = true;
      while (i + 1 < raw.size() && !Clean(raw[i + 1]).empty()) {
        ++i;
        const std::string_view def = Clean(raw[i]);
        if (auto scalar = ParseNumber(def)) {
          eval.expected_scalar = *scalar;
          break;  // as in Prometheus, a scalar ends the block
        }
        auto series = ParseSeriesLine(def);
        if (!series) {
          error(i, series.error().message);
          ok = false;
          continue;
        }
        if (series->values.size() != 1 || series->values[0].omitted) {
          error(i, "expected exactly one value in instant evaluation");
          ok = false;
          continue;
        }
        eval.expected.push_back(ExpectedSample{std::move(series->labels), series->values[0].value,
                                               static_cast<int>(i + 1)});
      }
      if (ok) file.commands.emplace_back(std::in_place_type<EvalCommand>, std::move(eval));
      continue;
    }
    error(i, "invalid command " + QuoteString(l));
  }
  if (!errors.empty()) return Invalid(std::move(errors));
  return file;
}

}  // namespace promql

#include "aggregator/textparse.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>

#include "core/text.h"

namespace textparse {
namespace {

enum CharClass : uint8_t {
  kNameStart = 1,       // [a-zA-Z_:]
  kNameChar = 2,        // [a-zA-Z0-9_:]
  kLabelStart = 4,      // [a-zA-Z_]
  kLabelChar = 8,       // [a-zA-Z0-9_]
  kValueSpecial = 16,   // '"', '\\', bytes >= 0x80 (inside a quoted label value)
  kTokenEnd04 = 32,     // ' ', '\t' (end of a value or timestamp in 0.0.4)
};

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    uint8_t v = 0;
    if (alpha || c == '_' || c == ':') v |= kNameStart;
    if (alpha || digit || c == '_' || c == ':') v |= kNameChar;
    if (alpha || c == '_') v |= kLabelStart;
    if (alpha || digit || c == '_') v |= kLabelChar;
    if (c == '"' || c == '\\' || c >= 0x80) v |= kValueSpecial;
    if (c == ' ' || c == '\t') v |= kTokenEnd04;
    t[c] = v;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kClasses = MakeClasses();

inline bool Is(char c, uint8_t cls) { return (kClasses[static_cast<uint8_t>(c)] & cls) != 0; }

// Prometheus' value.NormalNaN: every parsed NaN becomes this one.
const double kNormalNaN = std::bit_cast<double>(uint64_t{0x7ff8000000000001});

// Go's strconv.ParseFloat as Prometheus uses it (no hex floats, no '_'): decimal
// numbers, Inf/Infinity with an optional sign, NaN without a sign; any case.
bool ParseGoFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
  bool had_plus = false;
  if (s[0] == '+') {
    s.remove_prefix(1);
    had_plus = true;
    if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  }
  const char first = s[0] == '-' && s.size() > 1 ? s[1] : s[0];
  if ((first == 'n' || first == 'N') && (had_plus || s[0] == '-')) return false;
  if (s.back() == ')') return false;  // from_chars' "nan(...)"
  const auto res = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size()) return false;
  if (std::isnan(*out)) *out = kNormalNaN;
  return true;
}

// Go's strconv.ParseInt(s, 10, 64).
bool ParseGoInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  if (s[0] == '+') {
    s.remove_prefix(1);
    if (s.empty() || s[0] == '-') return false;
  }
  const auto res = std::from_chars(s.data(), s.data() + s.size(), *out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

// Appends `raw` with \\ \n (and, when `quote`, \") resolved; other escapes stay.
void Unescape(std::string_view raw, bool quote, std::string& out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\' && i + 1 < raw.size()) {
      const char n = raw[i + 1];
      if (n == '\\') {
        out.push_back('\\');
        ++i;
        continue;
      }
      if (n == 'n') {
        out.push_back('\n');
        ++i;
        continue;
      }
      if (n == '"' && quote) {
        out.push_back('"');
        ++i;
        continue;
      }
    }
    out.push_back(c);
  }
}

// Appends `s` in double quotes; control bytes, and all bytes >= 0x80 unless `s`
// is valid UTF-8, as \xNN (error messages end up in JSON and logs).
void AppendQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool utf8 = core::IsValidUtf8(s);
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f || (u >= 0x80 && !utf8)) {
      if (c == '\t') {
        out.append("\\t");
      } else {
        out.append("\\x");
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 15]);
      }
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

constexpr size_t kMaxQuoted = 40;

}  // namespace

Format FormatFromContentType(std::string_view content_type) {
  // Media type up to ';', trimmed, case-insensitive.
  const size_t semi = content_type.find(';');
  std::string_view media = content_type.substr(0, semi);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  constexpr std::string_view kOm = "application/openmetrics-text";
  if (media.size() != kOm.size()) return Format::kPrometheus;
  for (size_t i = 0; i < kOm.size(); ++i) {
    char c = media[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kOm[i]) return Format::kPrometheus;
  }
  return Format::kOpenMetrics;
}

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kUnknown: return "unknown";
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kGaugeHistogram: return "gaugehistogram";
    case MetricType::kSummary: return "summary";
    case MetricType::kInfo: return "info";
    case MetricType::kStateset: return "stateset";
    case MetricType::kUntyped: return "untyped";
  }
  return "unknown";
}

void Parser::Reset(std::string_view input, Format format) {
  in_ = input;
  format_ = format;
  pos_ = 0;
  line_start_ = 0;
  line_ = 0;
  done_ = false;
  failed_ = false;
  error_ = core::Error{};
  error_pos_ = ErrorPosition{};
  metric_name_ = series_ = text_ = {};
  labels_.clear();
  escaped_.clear();
  scratch_.clear();
}

core::Unexpected<core::Error> Parser::Fail(size_t at, std::string_view message) {
  failed_ = true;
  error_pos_.line = line_;
  error_pos_.column = static_cast<int>(at - line_start_) + 1;
  std::string msg = "line " + std::to_string(error_pos_.line) + ", column " +
                    std::to_string(error_pos_.column) + ": ";
  msg.append(message);
  // The offending token: from `at` to the next space, tab or end of line.
  size_t end = at;
  while (end < in_.size() && in_[end] != '\n' && !Is(in_[end], kTokenEnd04) &&
         end - at < kMaxQuoted) {
    ++end;
  }
  // Do not cut a UTF-8 sequence in two.
  for (int i = 0; i < 3 && end > at + 1 && end < in_.size() &&
                  (static_cast<unsigned char>(in_[end]) & 0xc0) == 0x80;
       ++i) {
    --end;
  }
  if (end == at) {
    msg.append(at >= in_.size() || in_[at] == '\n' ? ", got end of line"
               : in_[at] == ' '                     ? ", got a space"
                                                    : ", got a tab");
  } else {
    msg.append(", got ");
    AppendQuoted(msg, in_.substr(at, end - at));
    if (end < in_.size() && in_[end] != '\n' && !Is(in_[end], kTokenEnd04)) msg.append("...");
  }
  error_ = core::MakeError(core::ErrorCode::kInvalidRequest, std::move(msg), "body");
  return core::Unexpected(error_);
}

core::Result<Entry> Parser::Next() {
  if (failed_) return core::Unexpected(error_);
  const bool om = format_ == Format::kOpenMetrics;
  while (true) {
    if (done_) return Entry::kEof;
    if (pos_ >= in_.size()) {
      if (om) {
        ++line_;
        line_start_ = in_.size();
        return Fail(in_.size(), "data does not end with # EOF");
      }
      done_ = true;
      return Entry::kEof;
    }
    line_start_ = pos_;
    ++line_;
    const void* nl = std::memchr(in_.data() + pos_, '\n', in_.size() - pos_);
    const size_t eol = nl ? static_cast<size_t>(static_cast<const char*>(nl) - in_.data())
                          : in_.size();
    pos_ = nl ? eol + 1 : eol;
    metric_name_ = series_ = text_ = {};
    labels_.clear();
    escaped_.clear();
    scratch_.clear();
    has_timestamp_ = false;
    has_exemplar_ = false;
    size_t start = line_start_;
    if (om) {
      if (start == eol) return Fail(start, "empty line (not allowed in OpenMetrics)");
    } else {
      while (start < eol && Is(in_[start], kTokenEnd04)) ++start;
      if (start == eol) continue;  // blank line
      // Prometheus reads leading blanks as part of the metric name.
      // (before a comment they are skipped).
      if (start != line_start_ && in_[start] != '#') return Fail(line_start_, "leading whitespace");
    }
    if (in_[start] == '#') return ParseComment(start, eol);
    return ParseSeries(start, eol);
  }
}

core::Result<Entry> Parser::ParseComment(size_t start, size_t end) {
  const bool om = format_ == Format::kOpenMetrics;
  size_t p = start + 1;
  auto skip_ws = [&] {
    while (p < end && Is(in_[p], kTokenEnd04)) ++p;
  };
  auto keyword = [&](std::string_view kw) {
    return in_.compare(p, kw.size(), kw) == 0 && p + kw.size() < end &&
           (om ? in_[p + kw.size()] == ' ' : Is(in_[p + kw.size()], kTokenEnd04));
  };
  Entry entry;
  if (om) {
    if (p >= end || in_[p] != ' ') return Fail(p, "expected a space after '#'");
    ++p;
    if (in_.substr(p, end - p) == "EOF") {
      if (pos_ < in_.size()) {
        ++line_;
        line_start_ = pos_;
        return Fail(pos_, "unexpected data after # EOF");
      }
      done_ = true;
      return Entry::kEof;
    }
    if (keyword("HELP")) {
      entry = Entry::kHelp;
    } else if (keyword("TYPE")) {
      entry = Entry::kType;
    } else if (keyword("UNIT")) {
      entry = Entry::kUnit;
    } else {
      return Fail(p, "expected HELP, TYPE, UNIT or EOF after '# '");
    }
    p += 5;
  } else {
    skip_ws();
    if (keyword("HELP")) {
      entry = Entry::kHelp;
    } else if (keyword("TYPE")) {
      entry = Entry::kType;
    } else {
      text_ = in_.substr(p, end - p);
      return Entry::kComment;
    }
    p += 4;
    skip_ws();
  }
  const std::string_view kw = entry == Entry::kHelp ? "HELP" : entry == Entry::kType ? "TYPE" : "UNIT";
  const size_t name_start = p;
  if (p >= end || !Is(in_[p], kNameStart)) {
    return Fail(p, "expected metric name after " + std::string(kw));
  }
  while (p < end && Is(in_[p], kNameChar)) ++p;
  metric_name_ = in_.substr(name_start, p - name_start);
  if (p < end) {
    if (om ? in_[p] != ' ' : !Is(in_[p], kTokenEnd04)) {
      return Fail(p, "invalid character in metric name");
    }
    ++p;
    if (!om) skip_ws();
  } else if (om && entry != Entry::kType) {
    return Fail(p, "expected a space and text after the metric name in " + std::string(kw));
  }
  std::string_view text = in_.substr(p, end - p);
  switch (entry) {
    case Entry::kHelp:
      if (text.find('\\') != std::string_view::npos) {
        Unescape(text, om, scratch_);
        text_ = scratch_;
      } else {
        text_ = text;
      }
      if (!core::IsValidUtf8(text)) return Fail(p, "help text is not valid UTF-8");
      return entry;
    case Entry::kType: {
      static constexpr std::pair<std::string_view, MetricType> kPromTypes[] = {
          {"counter", MetricType::kCounter},     {"gauge", MetricType::kGauge},
          {"histogram", MetricType::kHistogram}, {"summary", MetricType::kSummary},
          {"untyped", MetricType::kUntyped},
      };
      static constexpr std::pair<std::string_view, MetricType> kOmTypes[] = {
          {"counter", MetricType::kCounter},
          {"gauge", MetricType::kGauge},
          {"histogram", MetricType::kHistogram},
          {"gaugehistogram", MetricType::kGaugeHistogram},
          {"summary", MetricType::kSummary},
          {"info", MetricType::kInfo},
          {"stateset", MetricType::kStateset},
          {"unknown", MetricType::kUnknown},
      };
      const std::span<const std::pair<std::string_view, MetricType>> types =
          om ? std::span<const std::pair<std::string_view, MetricType>>(kOmTypes)
             : std::span<const std::pair<std::string_view, MetricType>>(kPromTypes);
      for (const auto& [name, type] : types) {
        if (text == name) {
          type_ = type;
          text_ = text;
          return entry;
        }
      }
      return Fail(p, text.empty() ? "expected a metric type after TYPE" : "invalid metric type");
    }
    case Entry::kUnit: {
      for (size_t i = 0; i < text.size(); ++i) {
        if (!Is(text[i], kNameChar)) return Fail(p + i, "invalid character in unit");
      }
      // As Prometheus: the family name must end in "_<unit>".
      const std::string_view m = metric_name_;
      if (!text.empty() && (m.size() < text.size() + 1 || !m.ends_with(text) ||
                            m[m.size() - text.size() - 1] != '_')) {
        return Fail(name_start, "unit is not a suffix of the metric name");
      }
      text_ = text;
      return entry;
    }
    default:
      return entry;
  }
}

core::Status Parser::ParseLabels(size_t* pos, size_t end, std::vector<LabelView>* out,
                                 bool record_escapes) {
  const bool om = format_ == Format::kOpenMetrics;
  size_t p = *pos + 1;  // past '{'
  auto skip_ws = [&] {
    if (!om) {
      while (p < end && Is(in_[p], kTokenEnd04)) ++p;
    }
  };
  while (true) {
    skip_ws();
    if (p < end && in_[p] == '}') {
      ++p;
      break;
    }
    const size_t name_start = p;
    if (p >= end || !Is(in_[p], kLabelStart)) return Fail(p, "expected label name or '}'");
    while (p < end && Is(in_[p], kLabelChar)) ++p;
    const std::string_view name = in_.substr(name_start, p - name_start);
    skip_ws();
    if (p >= end || in_[p] != '=') return Fail(p, "expected '=' after label name");
    ++p;
    skip_ws();
    if (p >= end || in_[p] != '"') return Fail(p, "expected '\"' to start the label value");
    const size_t quote = p++;
    const size_t value_start = p;
    bool escaped = false;
    bool high = false;
    while (true) {
      while (p < end && !Is(in_[p], kValueSpecial)) ++p;
      if (p >= end) return Fail(quote, "unterminated label value");
      const char c = in_[p];
      if (c == '"') break;
      if (c == '\\') {
        escaped = true;
        if (p + 1 >= end) return Fail(quote, "unterminated label value");
        high |= (static_cast<unsigned char>(in_[p + 1]) & 0x80) != 0;
        p += 2;
      } else {
        high = true;
        ++p;
      }
    }
    const std::string_view raw = in_.substr(value_start, p - value_start);
    ++p;  // closing quote
    if (high && !core::IsValidUtf8(raw)) return Fail(value_start, "invalid UTF-8 in label value");
    if (escaped && record_escapes) {
      const size_t offset = scratch_.size();
      Unescape(raw, true, scratch_);
      escaped_.push_back(Escaped{static_cast<uint32_t>(out->size()), static_cast<uint32_t>(offset),
                                 static_cast<uint32_t>(scratch_.size() - offset)});
    }
    out->push_back(LabelView{name, raw});
    skip_ws();
    if (p < end && in_[p] == ',') {
      ++p;
      if (om && p < end && in_[p] == '}') return Fail(p, "expected label name after ','");
      continue;
    }
    if (p < end && in_[p] == '}') {
      ++p;
      break;
    }
    return Fail(p, "expected ',' or '}' after label value");
  }
  *pos = p;
  return {};
}

core::Status Parser::ParseExemplar(size_t p, size_t end) {
  // ` # {labels} value [timestamp]`; `p` is at '#'.
  if (p + 2 >= end || in_[p + 1] != ' ' || in_[p + 2] != '{') {
    return Fail(p, "expected ' # {' to start an exemplar");
  }
  p += 2;
  exemplar_labels_.clear();
  if (auto s = ParseLabels(&p, end, &exemplar_labels_, false); !s) return s;
  if (p >= end || in_[p] != ' ') return Fail(p, "expected a space before the exemplar value");
  ++p;
  size_t tok = p;
  while (p < end && in_[p] != ' ') ++p;
  double v;
  if (!ParseGoFloat(in_.substr(tok, p - tok), &v)) return Fail(tok, "invalid exemplar value");
  if (p == end) {
    has_exemplar_ = true;
    return {};
  }
  ++p;
  tok = p;
  while (p < end && in_[p] != ' ') ++p;
  if (!ParseGoFloat(in_.substr(tok, p - tok), &v) || !std::isfinite(v)) {
    return Fail(tok, "invalid exemplar timestamp");
  }
  if (p != end) return Fail(p, "expected end of line after the exemplar");
  has_exemplar_ = true;
  return {};
}

core::Result<Entry> Parser::ParseSeries(size_t start, size_t end) {
  const bool om = format_ == Format::kOpenMetrics;
  size_t p = start;
  if (!Is(in_[p], kNameStart)) return Fail(p, "expected metric name");
  while (p < end && Is(in_[p], kNameChar)) ++p;
  metric_name_ = in_.substr(start, p - start);
  bool braces = false;
  if (!om) {
    size_t q = p;  // 0.0.4 allows blanks between the name and '{'
    while (q < end && Is(in_[q], kTokenEnd04)) ++q;
    if (q < end && in_[q] == '{') p = q;
  }
  if (p < end && in_[p] == '{') {
    if (auto s = ParseLabels(&p, end, &labels_, true); !s) return core::Unexpected(s.error());
    braces = true;
  }
  series_ = in_.substr(start, p - start);

  // Separator before the value.
  if (om) {
    if (p >= end || in_[p] != ' ') {
      return Fail(p, braces ? "expected a space after the label set"
                            : "expected a space after the metric name");
    }
    ++p;
  } else {
    if (p < end && !braces && !Is(in_[p], kTokenEnd04)) {
      return Fail(p, "invalid character in metric name");
    }
    while (p < end && Is(in_[p], kTokenEnd04)) ++p;
  }
  size_t tok = p;
  if (om) {
    while (p < end && in_[p] != ' ') ++p;
  } else {
    while (p < end && !Is(in_[p], kTokenEnd04)) ++p;
  }
  if (tok == p) return Fail(tok, "expected a value after the metric");
  if (!ParseGoFloat(in_.substr(tok, p - tok), &value_)) return Fail(tok, "invalid value");

  if (om) {
    if (p < end) {
      ++p;  // the single space
      if (p < end && in_[p] == '#') {
        if (auto s = ParseExemplar(p, end); !s) return core::Unexpected(s.error());
      } else {
        tok = p;
        while (p < end && in_[p] != ' ') ++p;
        double ts;
        if (!ParseGoFloat(in_.substr(tok, p - tok), &ts) || !std::isfinite(ts) ||
            std::fabs(ts * 1000) >= 9.2e18) {
          return Fail(tok, "invalid timestamp");
        }
        timestamp_ms_ = static_cast<int64_t>(ts * 1000);
        has_timestamp_ = true;
        if (p < end) {
          if (p + 1 >= end || in_[p + 1] != '#') {
            return Fail(p + 1, "expected an exemplar or end of line after the timestamp");
          }
          if (auto s = ParseExemplar(p + 1, end); !s) return core::Unexpected(s.error());
        }
      }
    }
  } else {
    while (p < end && Is(in_[p], kTokenEnd04)) ++p;
    if (p < end) {
      tok = p;
      while (p < end && !Is(in_[p], kTokenEnd04)) ++p;
      if (in_[tok] == '+' || in_[tok] == '-' || !ParseGoInt(in_.substr(tok, p - tok), &timestamp_ms_)) {
        return Fail(tok, "invalid timestamp (integer milliseconds)");
      }
      has_timestamp_ = true;
      while (p < end && Is(in_[p], kTokenEnd04)) ++p;
      if (p < end) return Fail(p, "expected end of line after the timestamp");
    }
  }

  for (const Escaped& e : escaped_) {
    labels_[e.index].value = std::string_view(scratch_).substr(e.offset, e.length);
  }
  // Duplicate label names (and __name__, which the metric name already is).
  const size_t n = labels_.size();
  for (size_t i = 0; i < n; ++i) {
    const std::string_view a = labels_[i].name;
    if (a.size() == 8 && a == "__name__") {
      return Fail(static_cast<size_t>(a.data() - in_.data()), "label __name__ in a label set");
    }
  }
  if (n <= 16) {
    for (size_t i = 1; i < n; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (labels_[j].name == labels_[i].name) {
          return Fail(static_cast<size_t>(labels_[i].name.data() - in_.data()),
                      "duplicate label name");
        }
      }
    }
  } else {
    names_.clear();
    for (const LabelView& l : labels_) names_.push_back(l.name);
    std::sort(names_.begin(), names_.end());
    const auto dup = std::adjacent_find(names_.begin(), names_.end());
    if (dup != names_.end()) {
      // Report the second occurrence in input order.
      bool seen = false;
      for (size_t i = 0; i < n; ++i) {
        if (labels_[i].name != *dup) continue;
        if (std::exchange(seen, true)) {
          return Fail(static_cast<size_t>(labels_[i].name.data() - in_.data()),
                      "duplicate label name");
        }
      }
    }
  }
  return Entry::kSeries;
}

}  // namespace textparse

// Fuzzes the text-format parser (aggregator/textparse.h). The first byte picks
// the format (even: 0.0.4, odd: OpenMetrics); the rest is the body. Any input
// must either fail with an error whose position is on a real line, or parse; every
// series and HELP that parses is written back as 0.0.4 text, which must parse to
// the same name, labels, value bits and timestamp. Never a crash or a hang.
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/textparse.h"

namespace {

[[noreturn]] void Die(const char* what, std::string_view a, std::string_view b = {}) {
  std::fprintf(stderr, "%s\n  first:  %.*s\n  second: %.*s\n", what, static_cast<int>(a.size()),
               a.data(), static_cast<int>(b.size()), b.data());
  std::abort();
}

void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
}

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  uint64_t value_bits;
  bool has_ts;
  int64_t ts;
  bool operator==(const Sample&) const = default;
};

Sample Capture(const textparse::Parser& p) {
  Sample s{std::string(p.MetricName()), {}, std::bit_cast<uint64_t>(p.Value()), p.HasTimestamp(),
           p.HasTimestamp() ? p.TimestampMs() : 0};
  for (const auto& l : p.Labels()) s.labels.emplace_back(l.name, l.value);
  return s;
}

void CheckError(const textparse::Parser& p, const core::Error& e, std::string_view body) {
  const auto pos = p.error_position();
  if (pos.line < 1 || pos.column < 1 || e.message.rfind("line ", 0) != 0) {
    Die("bad error", body, e.message);
  }
  // The line exists (or is the one just past the end, for a missing # EOF).
  int lines = 1;
  for (char c : body) lines += c == '\n';
  if (pos.line > lines + 1) Die("error line past the end", body, e.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto format = (data[0] & 1) ? textparse::Format::kOpenMetrics : textparse::Format::kPrometheus;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  textparse::Parser p(body, format);
  textparse::Parser again;
  std::string text;
  for (int entries = 0;; ++entries) {
    if (entries > static_cast<int>(size) + 2) Die("more entries than bytes", body);
    auto e = p.Next();
    if (!e) {
      CheckError(p, e.error(), body);
      auto e2 = p.Next();
      if (e2 || e2.error().message != e.error().message) Die("error not sticky", body);
      return 0;
    }
    if (*e == textparse::Entry::kEof) break;
    if (*e == textparse::Entry::kSeries) {
      const Sample s = Capture(p);
      if (std::isnan(p.Value()) && s.value_bits != 0x7ff8000000000001u) Die("NaN not normalized", body);
      text = s.name;
      text += '{';
      for (const auto& [k, v] : s.labels) {
        text += k;
        text += "=\"";
        AppendEscaped(text, v, true);
        text += "\",";
      }
      text += "} ";
      AppendValue(text, p.Value());
      if (s.has_ts && s.ts < 0) continue;  // 0.0.4 timestamps are digits only
      if (s.has_ts) text += " " + std::to_string(s.ts);
      text += '\n';
      again.Reset(text, textparse::Format::kPrometheus);
      auto r = again.Next();
      if (!r) Die("written series does not parse", text, r.error().message);
      if (*r != textparse::Entry::kSeries || !(Capture(again) == s)) {
        Die("series round trip differs", body, text);
      }
    } else if (*e == textparse::Entry::kHelp && !p.Text().starts_with(' ') &&
               !p.Text().starts_with('\t')) {  // 0.0.4 skips leading blanks
      const std::string help(p.Text());
      text = "# HELP " + std::string(p.MetricName()) + " ";
      AppendEscaped(text, help, false);
      text += '\n';
      again.Reset(text, textparse::Format::kPrometheus);
      auto r = again.Next();
      if (!r) Die("written help does not parse", text, r.error().message);
      if (*r != textparse::Entry::kHelp || again.Text() != help || again.MetricName() != p.MetricName()) {
        Die("help round trip differs", body, text);
      }
    }
  }
  auto end = p.Next();
  if (!end || *end != textparse::Entry::kEof) Die("kEof not sticky", body);
  return 0;
}

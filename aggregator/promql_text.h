// Text conversions that PromQL inherits from Go and Prometheus, reimplemented so
// that tally spells and reads values exactly like Prometheus 2.42 does:
// Go's %q quoting, Go's %v for float64, Prometheus' model.Duration syntax, and
// how the PromQL parser reads number literals. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace promql {

// Decodes the UTF-8 rune at `pos` like Go's utf8.DecodeRuneInString: invalid
// or truncated sequences give U+FFFD with width 1. REQUIRES: pos < s.size().
int32_t DecodeRune(std::string_view s, size_t pos, int* width);
inline constexpr int32_t kRuneError = 0xFFFD;

// Go's strconv.Quote (the %q verb): double quotes, Go escapes, invalid UTF-8
// bytes as \xNN.
std::string QuoteString(std::string_view s);
// Go's strconv.QuoteRune: 'x', '\n', '\x00'; invalid runes become '\uFFFD' glyph.
std::string QuoteRune(int32_t r);
// Go's %#U: "U+0063 'c'" (the quoted glyph only when printable).
std::string FormatRuneU(int32_t r);

// Unquotes a PromQL string token including its quotes ("...", '...', `...`),
// like Prometheus' strutil.Unquote.
core::Result<std::string> UnquoteString(std::string_view quoted);

// Go's %v for a float64, as Prometheus prints number literals: the shortest
// digits that read back exactly, in exponent form when the decimal exponent is
// below -4 or at least 6 ("1e+06", "1.5e-05", "123456", "0.0001"), and "+Inf",
// "-Inf", "NaN".
std::string FormatNumber(double v);

// Prometheus' model.Duration.String(): "1h30m", "5m", "1y", "2w", "250ms", "0s".
// REQUIRES: ms >= 0.
std::string FormatDuration(int64_t ms);

// Prometheus' model.ParseDuration: units y w d h m s ms, each at most once and
// in that order ("1h30m", "90s", "1y2w"); "0" is zero. Errors use Prometheus'
// wording ("not a valid duration string: \"5m1h\"", "duration out of range").
core::Result<int64_t> ParseDuration(std::string_view text);

// How Prometheus' parser reads a number token: Go's strconv.ParseInt(s, 0, 64)
// (so 0x1f and 0755 octal), else strconv.ParseFloat(s, 64) (Inf, NaN, 1e3).
// Errors read like Go's: `strconv.ParseFloat: parsing "1e": invalid syntax`.
core::Result<double> ParseNumber(std::string_view text);

}  // namespace promql

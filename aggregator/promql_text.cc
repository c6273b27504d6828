#include "aggregator/promql_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace promql {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendUtf8(int32_t r, std::string* out) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// An approximation of Go's unicode.IsPrint (categories L, M, N, P, S plus the
// ASCII space): control, format, separator, surrogate and private-use code
// points are not printable. Exact for ASCII and Latin-1.
bool IsPrint(int32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r < 0x7F) return true;
  if (r < 0xA1 || r == 0xAD) return false;  // C1 controls, NBSP, soft hyphen
  if (r == 0x1680 || r == 0x180E || r == 0x3000 || r == 0xFEFF) return false;
  if (r >= 0x2000 && r <= 0x200F) return false;
  if (r >= 0x2028 && r <= 0x202F) return false;
  if (r >= 0x205F && r <= 0x206F) return false;
  if (r >= 0xD800 && r <= 0xF8FF) return false;  // surrogates, private use
  if (r >= 0xFFF9 && r <= 0xFFFB) return false;
  if (r == 0xFFFE || r == 0xFFFF) return false;
  if (r >= 0xE0000) return false;  // tags, variation selectors supplement, private use planes
  return r <= 0x10FFFF;
}

// One rune of Go's strconv quoting with `quote` as the delimiter.
void AppendQuotedRune(int32_t r, int width, char quote, std::string* out) {
  if (width == 1 && r == kRuneError) return;  // caller handles invalid bytes
  if (r == quote || r == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(r));
    return;
  }
  if (IsPrint(r)) {
    AppendUtf8(r, out);
    return;
  }
  switch (r) {
    case '\a':
      *out += "\\a";
      return;
    case '\b':
      *out += "\\b";
      return;
    case '\f':
      *out += "\\f";
      return;
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    case '\v':
      *out += "\\v";
      return;
    default:
      break;
  }
  if (r < ' ' || r == 0x7F) {
    *out += "\\x";
    out->push_back(kHex[(r >> 4) & 0xF]);
    out->push_back(kHex[r & 0xF]);
  } else if (r < 0x10000) {
    *out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(r >> shift) & 0xF]);
  } else {
    *out += "\\U";
    for (int shift = 28; shift >= 0; shift -= 4) out->push_back(kHex[(r >> shift) & 0xF]);
  }
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 16;
}

core::Unexpected<core::Error> SyntaxError(std::string_view fn, std::string_view text,
                                          std::string_view what) {
  std::string msg = "strconv.";
  msg += fn;
  msg += ": parsing ";
  msg += QuoteString(text);
  msg += ": ";
  msg += what;
  return core::Fail(core::ErrorCode::kInvalidRequest, std::move(msg));
}

// Go's ParseInt(s, 0, 64) for the digit strings the lexer produces (no sign,
// no underscores). False when Go would fail.
bool ParseGoInt(std::string_view s, int64_t* out) {
  int base = 10;
  std::string_view digits = s;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    digits = s.substr(2);
  } else if (s.size() >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    digits = s.substr(2);
  } else if (s.size() >= 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    digits = s.substr(2);
  } else if (s.size() >= 2 && s[0] == '0') {
    base = 8;
    digits = s.substr(1);
  }
  if (digits.empty()) return false;
  uint64_t v = 0;
  for (char c : digits) {
    int d = HexVal(c);
    if (d >= base) return false;
    if (v > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(d)) /
                static_cast<uint64_t>(base)) {
      return false;
    }
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool EqualsFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

int32_t DecodeRune(std::string_view s, size_t pos, int* width) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const size_t n = s.size() - pos;
  const unsigned char c0 = p[0];
  *width = 1;
  if (c0 < 0x80) return c0;
  if (c0 < 0xC2 || c0 > 0xF4) return kRuneError;
  auto cont = [&](size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
  if (c0 < 0xE0) {
    if (!cont(1)) return kRuneError;
    *width = 2;
    return ((c0 & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (c0 < 0xF0) {
    if (!cont(1) || !cont(2)) return kRuneError;
    if (c0 == 0xE0 && p[1] < 0xA0) return kRuneError;  // overlong
    if (c0 == 0xED && p[1] > 0x9F) return kRuneError;  // surrogate
    *width = 3;
    return ((c0 & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  if (!cont(1) || !cont(2) || !cont(3)) return kRuneError;
  if (c0 == 0xF0 && p[1] < 0x90) return kRuneError;  // overlong
  if (c0 == 0xF4 && p[1] > 0x8F) return kRuneError;  // > U+10FFFF
  *width = 4;
  return ((c0 & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

std::string QuoteString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    int width = 1;
    int32_t r = DecodeRune(s, i, &width);
    if (width == 1 && r == kRuneError) {
      const auto b = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    } else {
      AppendQuotedRune(r, width, '"', &out);
    }
    i += static_cast<size_t>(width);
  }
  out.push_back('"');
  return out;
}

std::string QuoteRune(int32_t r) {
  if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = kRuneError;
  std::string out = "'";
  AppendQuotedRune(r, 3, '\'', &out);
  out.push_back('\'');
  return out;
}

std::string FormatRuneU(int32_t r) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "U+%04X", static_cast<unsigned>(r));
  std::string out = buf;
  if (r >= 0 && r <= 0x10FFFF && IsPrint(r)) {
    out += " '";
    AppendUtf8(r, &out);
    out += "'";
  }
  return out;
}

core::Result<std::string> UnquoteString(std::string_view s) {
  auto syntax = [] { return core::Fail(core::ErrorCode::kInvalidRequest, "invalid syntax"); };
  if (s.size() < 2) return syntax();
  const char quote = s.front();
  if (quote != s.back()) return syntax();
  s = s.substr(1, s.size() - 2);
  if (quote == '`') {
    if (s.find('`') != std::string_view::npos) return syntax();
    return std::string(s);
  }
  if (quote != '"' && quote != '\'') return syntax();
  if (s.find('\n') != std::string_view::npos) return syntax();
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == quote) return syntax();
    if (c != '\\') {
      out.push_back(c);  // multi-byte runes are copied byte by byte unchanged
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) return syntax();
    const char e = s[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        out.push_back('\a');
        continue;
      case 'b':
        out.push_back('\b');
        continue;
      case 'f':
        out.push_back('\f');
        continue;
      case 'n':
        out.push_back('\n');
        continue;
      case 'r':
        out.push_back('\r');
        continue;
      case 't':
        out.push_back('\t');
        continue;
      case 'v':
        out.push_back('\v');
        continue;
      case '\\':
        out.push_back('\\');
        continue;
      case '\'':
      case '"':
        if (e != quote) return syntax();
        out.push_back(e);
        continue;
      default:
        break;
    }
    int n = 0, base = 16;
    uint32_t max = 255;
    if (e >= '0' && e <= '7') {
      n = 2, base = 8;
      uint32_t v = static_cast<uint32_t>(e - '0');
      for (int k = 0; k < n; ++k, ++i) {
        if (i >= s.size() || s[i] < '0' || s[i] > '7') return syntax();
        v = v * 8 + static_cast<uint32_t>(s[i] - '0');
      }
      if (v > 255) return syntax();
      out.push_back(static_cast<char>(v));
      continue;
    }
    if (e == 'x') {
      n = 2;
    } else if (e == 'u') {
      n = 4, max = 0x10FFFF;
    } else if (e == 'U') {
      n = 8, max = 0x10FFFF;
    } else {
      return syntax();
    }
    uint32_t v = 0;
    for (int k = 0; k < n; ++k, ++i) {
      if (i >= s.size()) return syntax();
      const int d = HexVal(s[i]);
      if (d >= base) return syntax();
      v = v * 16 + static_cast<uint32_t>(d);
    }
    if (v > max || (e != 'x' && v >= 0xD800 && v < 0xE000)) return syntax();
    if (e == 'x') {
      out.push_back(static_cast<char>(v));
    } else {
      AppendUtf8(static_cast<int32_t>(v), &out);
    }
  }
  return out;
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip digits, read off the scientific form "d.ddde[+-]XX".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (!sci.empty() && sci[0] == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  const int exp = std::atoi(std::string(sci.substr(e + 1)).c_str());
  if (exp < -4 || exp >= 6) {  // Go's %g with shortest precision: eprec = 6
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exp < 0 ? '-' : '+');
    const int a = exp < 0 ? -exp : exp;
    if (a < 10) out.push_back('0');
    out += std::to_string(a);
    return out;
  }
  if (exp < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out += digits;
    return out;
  }
  const size_t int_len = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_len) {
    out += digits;
    out.append(int_len - digits.size(), '0');
  } else {
    out.append(digits, 0, int_len);
    out.push_back('.');
    out.append(digits, int_len, std::string::npos);
  }
  return out;
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  auto unit = [&](const char* name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    const int64_t v = ms / mult;
    if (v > 0) {
      out += std::to_string(v);
      out += name;
      ms -= v * mult;
    }
  };
  // Years and weeks only when exact: 90d reads better than 12w6d.
  unit("y", 1000LL * 60 * 60 * 24 * 365, true);
  unit("w", 1000LL * 60 * 60 * 24 * 7, true);
  unit("d", 1000LL * 60 * 60 * 24, false);
  unit("h", 1000LL * 60 * 60, false);
  unit("m", 1000LL * 60, false);
  unit("s", 1000LL, false);
  unit("ms", 1, false);
  return out;
}

core::Result<int64_t> ParseDuration(std::string_view text) {
  if (text == "0") return int64_t{0};
  if (text.empty()) return core::Fail(core::ErrorCode::kInvalidRequest, "empty duration string");
  auto invalid = [&] {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "not a valid duration string: " + QuoteString(text));
  };
  struct Unit {
    std::string_view name;
    int64_t ms;
  };
  static constexpr Unit kUnits[] = {
      {"y", 1000LL * 60 * 60 * 24 * 365},
      {"w", 1000LL * 60 * 60 * 24 * 7},
      {"d", 1000LL * 60 * 60 * 24},
      {"h", 1000LL * 60 * 60},
      {"m", 1000LL * 60},
      {"s", 1000LL},
      {"ms", 1},
  };
  constexpr __int128 kMaxNs = std::numeric_limits<int64_t>::max();
  __int128 total_ns = 0;
  bool overflow = false;
  size_t next_unit = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t digits_start = i;
    __int128 n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n <= kMaxNs) n = n * 10 + (text[i] - '0');  // saturates above int64
      ++i;
    }
    if (i == digits_start || i == text.size()) return invalid();
    size_t unit = 0;
    if (text[i] == 'm' && i + 1 < text.size() && text[i + 1] == 's') {
      unit = 6;
      i += 2;
    } else {
      std::string_view c = text.substr(i, 1);
      unit = 0;
      while (unit < 6 && kUnits[unit].name != c) ++unit;
      if (unit == 6) return invalid();
      ++i;
    }
    if (unit < next_unit) return invalid();
    next_unit = unit + 1;
    // Go: n > MaxInt64/mult/1e6 means n*mult milliseconds do not fit in nanoseconds.
    if (n > kMaxNs / kUnits[unit].ms / 1000000) {
      overflow = true;
    } else {
      total_ns += n * kUnits[unit].ms * 1000000;
      if (total_ns > kMaxNs) overflow = true;
    }
  }
  if (overflow) return core::Fail(core::ErrorCode::kInvalidRequest, "duration out of range");
  return static_cast<int64_t>(total_ns / 1000000);
}

core::Result<double> ParseNumber(std::string_view text) {
  int64_t i = 0;
  if (ParseGoInt(text, &i)) return static_cast<double>(i);
  if (EqualsFold(text, "inf") || EqualsFold(text, "+inf") || EqualsFold(text, "infinity") ||
      EqualsFold(text, "+infinity")) {
    return std::numeric_limits<double>::infinity();
  }
  if (EqualsFold(text, "-inf") || EqualsFold(text, "-infinity")) {
    return -std::numeric_limits<double>::infinity();
  }
  if (EqualsFold(text, "nan") || EqualsFold(text, "+nan") || EqualsFold(text, "-nan")) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  // Go accepts hex floats only with a 'p' exponent; the lexer never produces
  // one, and from_chars would read "0x.." as "0".
  bool ok = !body.empty() && (body[0] == '.' || (body[0] >= '0' && body[0] <= '9'));
  if (ok && body.size() >= 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) ok = false;
  for (char c : body) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
      ok = false;
    }
  }
  if (!ok) return SyntaxError("ParseFloat", text, "invalid syntax");
  double v = 0;
  auto res = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (res.ptr != body.data() + body.size())
    return SyntaxError("ParseFloat", text, "invalid syntax");
  if (res.ec == std::errc::result_out_of_range) {
    // Overflow is an error in Go; underflow quietly gives 0 or a denormal.
    std::string copy(body);
    v = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(v)) return SyntaxError("ParseFloat", text, "value out of range");
  } else if (res.ec != std::errc()) {
    return SyntaxError("ParseFloat", text, "invalid syntax");
  }
  return negative ? -v : v;
}

}  // namespace promql

#include "core/time_parse.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace core {
namespace {

bool ReadDigits(std::string_view s, size_t& pos, int count, int& out) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (int i = 0; i < count; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += count;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  if (text.empty()) return Fail(ErrorCode::kInvalidRequest, "empty duration");
  if (text == "0") return 0;
  int64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    int64_t n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      n = n * 10 + (text[pos] - '0');
      if (n > 1'000'000'000'000LL) {
        return Fail(ErrorCode::kInvalidRequest, "duration too large: " + std::string(text));
      }
      ++pos;
    }
    if (pos == start) {
      return Fail(ErrorCode::kInvalidRequest,
                  "invalid duration '" + std::string(text) + "' (use forms like 30s, 5m, 1h30m)");
    }
    int64_t unit;
    if (text.substr(pos, 2) == "ms") {
      unit = 1;
      pos += 2;
    } else if (pos < text.size()) {
      switch (text[pos]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60'000; break;
        case 'h': unit = 3'600'000; break;
        case 'd': unit = 86'400'000; break;
        case 'w': unit = 7 * 86'400'000LL; break;
        case 'y': unit = 365 * 86'400'000LL; break;
        default:
          return Fail(ErrorCode::kInvalidRequest, "invalid duration unit in '" +
                                                      std::string(text) +
                                                      "' (units: ms, s, m, h, d, w, y)");
      }
      ++pos;
    } else {
      return Fail(ErrorCode::kInvalidRequest, "duration '" + std::string(text) +
                                                  "' needs a unit (ms, s, m, h, d, w, y)");
    }
    constexpr int64_t kMaxMs = 100LL * 365 * 86'400'000;
    if (n > kMaxMs / unit || total > kMaxMs - n * unit) {
      return Fail(ErrorCode::kInvalidRequest, "duration too large: " + std::string(text));
    }
    total += n * unit;
  }
  return total;
}

Result<int64_t> ParseIso8601Ms(std::string_view s) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidRequest,
                "invalid timestamp '" + std::string(s.substr(0, 64)) +
                    "' (use ISO 8601 like 2025-01-15T10:30:00Z, or unix seconds/milliseconds)");
  };
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(s, pos, 4, year) || !Expect(s, pos, '-') || !ReadDigits(s, pos, 2, month) ||
      !Expect(s, pos, '-') || !ReadDigits(s, pos, 2, day)) {
    return bad();
  }
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!ReadDigits(s, pos, 2, hour) || !Expect(s, pos, ':') || !ReadDigits(s, pos, 2, minute) ||
        !Expect(s, pos, ':') || !ReadDigits(s, pos, 2, second)) {
      return bad();
    }
  } else if (pos != s.size()) {
    return bad();
  }
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
  }
  int64_t offset_min = 0;
  if (pos < s.size()) {
    char c = s[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      ++pos;
      int oh, om;
      if (!ReadDigits(s, pos, 2, oh)) return bad();
      Expect(s, pos, ':');
      if (!ReadDigits(s, pos, 2, om)) return bad();
      if (oh > 23 || om > 59) return bad();
      offset_min = (oh * 60 + om) * (c == '+' ? 1 : -1);
    }
  }
  if (pos != s.size()) return bad();
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return bad();
  using namespace std::chrono;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                     std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return bad();
  int64_t days = sys_days(ymd).time_since_epoch().count();
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  return secs * 1000 + frac_ms;
}

Result<int64_t> UnixNumberToMs(double value) {
  if (!std::isfinite(value)) {
    return Fail(ErrorCode::kInvalidRequest, "timestamp must be a finite number");
  }
  if (value < 0) return Fail(ErrorCode::kInvalidRequest, "timestamp must not be negative");
  double ms = value > 1e11 ? value : value * 1000.0;
  if (ms > 1e14) return Fail(ErrorCode::kInvalidRequest, "timestamp out of range");
  return static_cast<int64_t>(std::llround(ms));
}

bool IsPlainDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

Result<int64_t> ParseTimeParamMs(std::string_view text, int64_t now_ms) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidRequest,
                "invalid time '" + std::string(text.substr(0, 64)) +
                    "' (use ISO 8601 like 2025-01-15T10:30:00Z or 2025-01-15, unix "
                    "seconds/milliseconds, 'now' or a duration ago like -7d)");
  };
  if (text.empty()) return bad();
  if (text == "now") return now_ms;
  // "-1h", "-7d": a duration before now ("-5" alone is a negative unix time).
  if (text.size() > 1 && text[0] == '-' &&
      text.find_first_not_of("0123456789.", 1) != std::string_view::npos) {
    auto ago = ParseDurationMs(text.substr(1));
    if (!ago) return bad();
    return now_ms - *ago;
  }
  if (text.size() >= 10 && text[4] == '-') {
    auto iso = ParseIso8601Ms(text);
    if (!iso) return bad();
    return *iso;
  }
  if (text.size() > 40) return bad();
  std::string copy(text);
  char* end = nullptr;
  double number = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || copy.find_first_of("xXnNiIpP") != std::string::npos) {
    return bad();
  }
  auto ms = UnixNumberToMs(number);
  if (!ms) return Fail(ErrorCode::kInvalidRequest, ms.error().message);
  return *ms;
}

std::string FormatIso8601(int64_t unix_ms) {
  using namespace std::chrono;
  int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int64_t ms = unix_ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[40];
  if (ms != 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(rem / 3600),
                  int(rem / 60 % 60), int(rem % 60), int(ms));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(rem / 3600),
                  int(rem / 60 % 60), int(rem % 60));
  }
  return buf;
}

}  // namespace core

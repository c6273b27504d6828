// Parsing and formatting of durations and timestamps in the forms API.md section 1 allows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace core {

// "30s", "5m", "1h", "1d", "1w", "250ms", and combinations like "1h30m" -> milliseconds.
// A bare "0" is zero. Errors name no param; callers add it.
Result<int64_t> ParseDurationMs(std::string_view text);

// ISO 8601 / RFC 3339 date-time ("2025-01-15T10:30:00Z", fractional seconds,
// "+02:00" offsets, "Z") -> unix milliseconds.
Result<int64_t> ParseIso8601Ms(std::string_view text);

// Unix time as a JSON number: values above 1e11 are milliseconds, else seconds
// (fractions allowed) -> unix milliseconds. Rejects NaN/Inf and out-of-range values.
Result<int64_t> UnixNumberToMs(double value);

// A time query parameter in any form API.md section 1 allows: "now", a duration
// before now ("-1h", "-7d"), ISO 8601 date-time or date ("2025-01-15" is its
// midnight UTC), unix seconds or milliseconds (> 1e11). Errors name no param.
Result<int64_t> ParseTimeParamMs(std::string_view text, int64_t now_ms);

// True when `text` is a plain date "YYYY-MM-DD" (no time of day).
bool IsPlainDate(std::string_view text);

// Unix milliseconds -> "2025-01-15T10:30:00.123Z" (milliseconds only when non-zero).
std::string FormatIso8601(int64_t unix_ms);

}  // namespace core

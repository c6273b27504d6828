// PromQL functions (Prometheus 2.42 functions.go) over float samples: the
// range-vector functions (rate & co, *_over_time, deriv, predict_linear,
// holt_winters, changes, resets, absent_over_time) and the instant-vector and
// scalar functions (math, trigonometry, clamp, round, time and date, label
// manipulation, sort, absent, scalar/vector, histogram_quantile).
#include <re2/re2.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numbers>
#include <optional>
#include <unordered_map>

#include "aggregator/promql_eval.h"
#include "aggregator/promql_eval_math.h"
#include "aggregator/promql_functions.h"
#include "aggregator/promql_test_file.h"
#include "aggregator/promql_text.h"

namespace promql::internal {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const std::string& StringArg(const Call& c, size_t i) {
  const Expr& e = Unparen(*c.args[i]);
  if (e.kind != ExprKind::kStringLiteral) ThrowExecution("expected a string argument");
  return As<StringLiteral>(e).value;
}

// Go's %f (six decimals), for messages that Prometheus formats with it.
std::string GoFixed6(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.6f", v);
  return buf;
}

// ---------------------------------------------------------------------------
// Range-vector functions.

enum class RangeFn {
  kRate,
  kIncrease,
  kDelta,
  kIrate,
  kIdelta,
  kDeriv,
  kPredictLinear,
  kHoltWinters,
  kChanges,
  kResets,
  kAvgOverTime,
  kMinOverTime,
  kMaxOverTime,
  kSumOverTime,
  kCountOverTime,
  kQuantileOverTime,
  kStddevOverTime,
  kStdvarOverTime,
  kLastOverTime,
  kPresentOverTime,
  kAbsentOverTime,
};

std::optional<RangeFn> FindRangeFn(std::string_view name) {
  static const std::unordered_map<std::string_view, RangeFn> table = {
      {"rate", RangeFn::kRate},
      {"increase", RangeFn::kIncrease},
      {"delta", RangeFn::kDelta},
      {"irate", RangeFn::kIrate},
      {"idelta", RangeFn::kIdelta},
      {"deriv", RangeFn::kDeriv},
      {"predict_linear", RangeFn::kPredictLinear},
      {"holt_winters", RangeFn::kHoltWinters},
      {"changes", RangeFn::kChanges},
      {"resets", RangeFn::kResets},
      {"avg_over_time", RangeFn::kAvgOverTime},
      {"min_over_time", RangeFn::kMinOverTime},
      {"max_over_time", RangeFn::kMaxOverTime},
      {"sum_over_time", RangeFn::kSumOverTime},
      {"count_over_time", RangeFn::kCountOverTime},
      {"quantile_over_time", RangeFn::kQuantileOverTime},
      {"stddev_over_time", RangeFn::kStddevOverTime},
      {"stdvar_over_time", RangeFn::kStdvarOverTime},
      {"last_over_time", RangeFn::kLastOverTime},
      {"present_over_time", RangeFn::kPresentOverTime},
      {"absent_over_time", RangeFn::kAbsentOverTime},
  };
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

struct RangeCtx {
  int64_t ts = 0;           // evaluation time of the step
  int64_t range_start = 0;  // the selected window [range_start, range_end]
  int64_t range_end = 0;
  int64_t range_ms = 0;
  const std::vector<double>* params = nullptr;  // scalar arguments at this step, by position
};

// (a - b) milliseconds in seconds, without integer overflow.
double Seconds(int64_t a, int64_t b) {
  return (static_cast<double>(a) - static_cast<double>(b)) / 1000;
}

// Go's time.Duration.Seconds() of a duration in milliseconds: whole seconds
// plus the fraction, each converted on its own.
double GoDurationSeconds(int64_t ms) {
  return static_cast<double>(ms / 1000) + static_cast<double>((ms % 1000) * 1'000'000) / 1e9;
}

// rate(), increase() and delta(): the change over the window, corrected for
// counter resets and extrapolated towards the window's ends.
bool ExtrapolatedRate(std::span<const Sample> s, const RangeCtx& c, bool is_counter, bool is_rate,
                      double* out) {
  if (s.size() < 2) return false;
  double result = s.back().v - s.front().v;
  if (is_counter) {
    double prev = s.front().v;
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i].v < prev) result += prev;
      prev = s[i].v;
    }
  }
  double to_start = Seconds(s.front().t_ms, c.range_start);
  const double to_end = Seconds(c.range_end, s.back().t_ms);
  const double sampled = Seconds(s.back().t_ms, s.front().t_ms);
  const double avg_step = sampled / static_cast<double>(s.size() - 1);
  if (is_counter && result > 0 && s.front().v >= 0) {
    // A counter cannot go below zero: do not extrapolate past that point.
    const double to_zero = sampled * (s.front().v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  const double threshold = avg_step * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : avg_step / 2;
  interval += to_end < threshold ? to_end : avg_step / 2;
  // Prometheus' order of operations (factor first, then one multiplication):
  // another order differs in the last bit, which histogram_quantile can turn
  // into a different bucket (rank == count in one engine, > in the other).
  double factor = interval / sampled;
  if (is_rate) factor /= GoDurationSeconds(c.range_ms);
  *out = result * factor;
  return true;
}

// irate() and idelta(): from the last two samples.
bool InstantValue(std::span<const Sample> s, bool is_rate, double* out) {
  if (s.size() < 2) return false;
  const Sample& last = s[s.size() - 1];
  const Sample& prev = s[s.size() - 2];
  double result = is_rate && last.v < prev.v ? last.v : last.v - prev.v;
  if (last.t_ms == prev.t_ms) return false;
  if (is_rate) result /= Seconds(last.t_ms, prev.t_ms);
  *out = result;
  return true;
}

// Least-squares fit of the samples, x in seconds relative to intercept_ms.
void LinearRegression(std::span<const Sample> s, int64_t intercept_ms, double* slope,
                      double* intercept) {
  double n = 0, sum_x = 0, cx = 0, sum_y = 0, cy = 0, sum_xy = 0, cxy = 0, sum_x2 = 0, cx2 = 0;
  const double init_y = s[0].v;
  bool const_y = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (const_y && i > 0 && s[i].v != init_y) const_y = false;
    n += 1;
    const double x = Seconds(s[i].t_ms, intercept_ms);
    KahanSumInc(x, &sum_x, &cx);
    KahanSumInc(s[i].v, &sum_y, &cy);
    KahanSumInc(x * s[i].v, &sum_xy, &cxy);
    KahanSumInc(x * x, &sum_x2, &cx2);
  }
  if (const_y) {
    if (std::isinf(init_y)) {
      *slope = kNaN;
      *intercept = kNaN;
    } else {
      *slope = 0;
      *intercept = init_y;
    }
    return;
  }
  sum_x += cx;
  sum_y += cy;
  sum_xy += cxy;
  sum_x2 += cx2;
  const double cov_xy = sum_xy - sum_x * sum_y / n;
  const double var_x = sum_x2 - sum_x * sum_x / n;
  *slope = cov_xy / var_x;
  *intercept = sum_y / n - *slope * sum_x / n;
}

double HoltWinters(std::span<const Sample> s, double sf, double tf) {
  double s0 = 0, s1 = s[0].v, b = s[1].v - s[0].v;
  for (size_t i = 1; i < s.size(); ++i) {
    const double x = sf * s[i].v;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;  // the trend at this point
    const double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

bool ApplyRangeFn(RangeFn fn, std::span<const Sample> s, const RangeCtx& c, double* out) {
  switch (fn) {
    case RangeFn::kRate:
      return ExtrapolatedRate(s, c, true, true, out);
    case RangeFn::kIncrease:
      return ExtrapolatedRate(s, c, true, false, out);
    case RangeFn::kDelta:
      return ExtrapolatedRate(s, c, false, false, out);
    case RangeFn::kIrate:
      return InstantValue(s, true, out);
    case RangeFn::kIdelta:
      return InstantValue(s, false, out);
    case RangeFn::kDeriv: {
      if (s.size() < 2) return false;
      double slope, intercept;
      LinearRegression(s, s[0].t_ms, &slope, &intercept);
      *out = slope;
      return true;
    }
    case RangeFn::kPredictLinear: {
      if (s.size() < 2) return false;
      double slope, intercept;
      LinearRegression(s, c.ts, &slope, &intercept);
      *out = slope * (*c.params)[1] + intercept;
      return true;
    }
    case RangeFn::kHoltWinters: {
      const double sf = (*c.params)[1];
      const double tf = (*c.params)[2];
      if (sf <= 0 || sf >= 1) {
        ThrowExecution("invalid smoothing factor. Expected: 0 < sf < 1, got: " + GoFixed6(sf));
      }
      if (tf <= 0 || tf >= 1) {
        ThrowExecution("invalid trend factor. Expected: 0 < tf < 1, got: " + GoFixed6(tf));
      }
      if (s.size() < 2) return false;
      *out = HoltWinters(s, sf, tf);
      return true;
    }
    case RangeFn::kChanges: {
      int changes = 0;
      for (size_t i = 1; i < s.size(); ++i) {
        const double cur = s[i].v, prev = s[i - 1].v;
        if (cur != prev && !(std::isnan(cur) && std::isnan(prev))) ++changes;
      }
      *out = changes;
      return true;
    }
    case RangeFn::kResets: {
      int resets = 0;
      for (size_t i = 1; i < s.size(); ++i) {
        if (s[i].v < s[i - 1].v) ++resets;
      }
      *out = resets;
      return true;
    }
    case RangeFn::kAvgOverTime: {
      double mean = 0, comp = 0, count = 0;
      for (const Sample& p : s) {
        count += 1;
        if (std::isinf(mean)) {
          if (std::isinf(p.v) && (mean > 0) == (p.v > 0)) continue;
          if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
        }
        KahanSumInc(p.v / count - mean / count, &mean, &comp);
      }
      *out = std::isinf(mean) ? mean : mean + comp;
      return true;
    }
    case RangeFn::kMinOverTime: {
      double v = s[0].v;
      for (const Sample& p : s) {
        if (p.v < v || std::isnan(v)) v = p.v;
      }
      *out = v;
      return true;
    }
    case RangeFn::kMaxOverTime: {
      double v = s[0].v;
      for (const Sample& p : s) {
        if (p.v > v || std::isnan(v)) v = p.v;
      }
      *out = v;
      return true;
    }
    case RangeFn::kSumOverTime: {
      double sum = 0, comp = 0;
      for (const Sample& p : s) KahanSumInc(p.v, &sum, &comp);
      *out = std::isinf(sum) ? sum : sum + comp;
      return true;
    }
    case RangeFn::kCountOverTime:
      *out = static_cast<double>(s.size());
      return true;
    case RangeFn::kQuantileOverTime: {
      std::vector<double> values;
      values.reserve(s.size());
      for (const Sample& p : s) values.push_back(p.v);
      *out = Quantile((*c.params)[0], &values);
      return true;
    }
    case RangeFn::kStddevOverTime:
    case RangeFn::kStdvarOverTime: {
      double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
      for (const Sample& p : s) {
        count += 1;
        const double delta = p.v - (mean + cmean);
        KahanSumInc(delta / count, &mean, &cmean);
        KahanSumInc(delta * (p.v - (mean + cmean)), &aux, &caux);
      }
      const double var = (aux + caux) / count;
      *out = fn == RangeFn::kStddevOverTime ? std::sqrt(var) : var;
      return true;
    }
    case RangeFn::kLastOverTime:
      *out = s.back().v;
      return true;
    case RangeFn::kPresentOverTime:
    case RangeFn::kAbsentOverTime:
      *out = 1;
      return true;
  }
  return false;
}

// The labels absent() and absent_over_time() give their result: the equality
// matchers of a selector argument, minus any label matched more than once or
// otherwise.
LabelsRef AbsentLabels(const Expr& arg) {
  const Expr& e = Unparen(arg);
  const VectorSelector* vs = nullptr;
  if (e.kind == ExprKind::kVectorSelector) vs = &As<VectorSelector>(e);
  if (e.kind == ExprKind::kMatrixSelector) vs = As<MatrixSelector>(e).selector.get();
  if (vs == nullptr) return EmptyLabels();
  LabelsBuilder b{core::Labels()};
  std::vector<std::string> has;
  for (const LabelMatcher& m : vs->matchers) {
    if (m.name() == "__name__") continue;
    const bool seen = std::find(has.begin(), has.end(), m.name()) != has.end();
    if (m.type() == MatchType::kEqual && !seen) {
      b.Set(m.name(), m.value());
      has.push_back(m.name());
    } else {
      b.Del(m.name());
    }
  }
  return MakeLabels(b.Build());
}

// ---------------------------------------------------------------------------
// Date functions: Go's time package on unix seconds in UTC, reimplemented with
// its absolute-time arithmetic (wrapping on overflow, as Go's does) so that
// even out-of-range inputs give Prometheus' answers.

struct CivilTime {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
  int hour;
  int minute;
  int weekday;   // 0 = Sunday
  int year_day;  // 1..366
};

bool IsLeap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysIn(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// Go's int64(f) on amd64: NaN and out-of-range values become the minimum int64.
int64_t GoInt64(double f) {
  if (std::isnan(f) || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(f);
}

// time.Unix(sec, 0).UTC() broken down like Go's absDate/absClock/absWeekday.
CivilTime ToCivil(int64_t unix_seconds) {
  constexpr uint64_t kSecondsPerDay = 86400;
  constexpr uint64_t kDaysPer400Years = 365 * 400 + 97;
  constexpr uint64_t kDaysPer100Years = 365 * 100 + 24;
  constexpr uint64_t kDaysPer4Years = 365 * 4 + 1;
  constexpr int64_t kAbsoluteZeroYear = -292277022399;
  // Go's unixToInternal + internalToAbsolute.
  constexpr uint64_t kUnixToAbsolute = 9223372028715321600ull;
  const uint64_t abs = static_cast<uint64_t>(unix_seconds) + kUnixToAbsolute;
  CivilTime ct{};
  ct.hour = static_cast<int>(abs % kSecondsPerDay / 3600);
  ct.minute = static_cast<int>(abs % 3600 / 60);
  // January 1 of the absolute zero year was a Monday.
  ct.weekday = static_cast<int>((abs + kSecondsPerDay) % (7 * kSecondsPerDay) / kSecondsPerDay);
  uint64_t d = abs / kSecondsPerDay;
  uint64_t n = d / kDaysPer400Years;
  uint64_t y = 400 * n;
  d -= kDaysPer400Years * n;
  n = d / kDaysPer100Years;
  n -= n >> 2;
  y += 100 * n;
  d -= kDaysPer100Years * n;
  n = d / kDaysPer4Years;
  y += 4 * n;
  d -= kDaysPer4Years * n;
  n = d / 365;
  n -= n >> 2;
  y += n;
  d -= 365 * n;
  ct.year = static_cast<int64_t>(y) + kAbsoluteZeroYear;
  int day = static_cast<int>(d);
  ct.year_day = day + 1;
  if (IsLeap(ct.year)) {
    if (day == 31 + 29 - 1) {
      ct.month = 2;
      ct.day = 29;
      return ct;
    }
    if (day > 31 + 29 - 1) --day;
  }
  static constexpr int kDaysBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
  int month = day / 31;
  const int end = kDaysBefore[month + 1];
  int begin;
  if (day >= end) {
    ++month;
    begin = end;
  } else {
    begin = kDaysBefore[month];
  }
  ct.month = month + 1;
  ct.day = day - begin + 1;
  return ct;
}

// ---------------------------------------------------------------------------
// Go's strconv.ParseFloat syntax check, for histogram_quantile's `le` values.

bool GoParseFloat(const std::string& s, double* out) {
  if (s.empty()) return false;
  size_t i = 0;
  const bool signed_ = s[0] == '+' || s[0] == '-';
  if (signed_) i = 1;
  std::string rest;
  for (size_t j = i; j < s.size(); ++j) {
    rest.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[j]))));
  }
  if (rest == "inf" || rest == "infinity") {
    *out = s[0] == '-' ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
    return true;
  }
  if (rest == "nan") {
    if (signed_) return false;
    *out = kNaN;
    return true;
  }
  // Decimal or hexadecimal (which needs a 'p' exponent) mantissa; no underscores.
  const bool hex = rest.size() > 1 && rest[0] == '0' && rest[1] == 'x';
  size_t j = hex ? 2 : 0;
  auto is_digit = [&](char c) { return (c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f'); };
  bool digits = false;
  auto skip_digits = [&] {
    while (j < rest.size() && is_digit(rest[j])) {
      ++j;
      digits = true;
    }
  };
  skip_digits();
  if (j < rest.size() && rest[j] == '.') {
    ++j;
    skip_digits();
  }
  if (!digits) return false;
  const char exp_char = hex ? 'p' : 'e';
  if (j < rest.size() && rest[j] == exp_char) {
    ++j;
    if (j < rest.size() && (rest[j] == '+' || rest[j] == '-')) ++j;
    if (j >= rest.size() || rest[j] < '0' || rest[j] > '9') return false;
    while (j < rest.size() && rest[j] >= '0' && rest[j] <= '9') ++j;
  } else if (hex) {
    return false;
  }
  if (j != rest.size()) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return false;
  if (errno == ERANGE && std::isinf(v)) return false;
  *out = v;
  return true;
}

// ---------------------------------------------------------------------------
// Go's Regexp.Expand for label_replace's replacement: $1, ${1}, $name, ${name};
// $$ is a literal $; a malformed reference is kept as text.

std::string ExpandTemplate(const RE2& re, std::string_view tmpl,
                           const std::vector<re2::StringPiece>& groups) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t dollar = tmpl.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, dollar - i));
    i = dollar + 1;
    if (i < tmpl.size() && tmpl[i] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    // Extract a name: letters, digits and underscores, optionally in braces.
    size_t j = i;
    const bool brace = j < tmpl.size() && tmpl[j] == '{';
    if (brace) ++j;
    const size_t name_start = j;
    while (j < tmpl.size()) {
      const unsigned char c = static_cast<unsigned char>(tmpl[j]);
      if (std::isalnum(c) || c == '_' || c >= 0x80) {
        ++j;
      } else {
        break;
      }
    }
    std::string_view name = tmpl.substr(name_start, j - name_start);
    bool ok = !name.empty();
    if (ok && brace) {
      if (j < tmpl.size() && tmpl[j] == '}') {
        ++j;
      } else {
        ok = false;
      }
    }
    if (!ok) {
      out.push_back('$');  // malformed: the $ is literal text
      continue;
    }
    i = j;
    int num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') num = -1;
    if (num >= 0) {
      if (static_cast<size_t>(num) < groups.size() && groups[num].data() != nullptr) {
        out.append(groups[num].data(), groups[num].size());
      }
    } else {
      const auto& named = re.NamedCapturingGroups();
      auto it = named.find(std::string(name));
      if (it != named.end() && static_cast<size_t>(it->second) < groups.size() &&
          groups[it->second].data() != nullptr) {
        out.append(groups[it->second].data(), groups[it->second].size());
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Instant-vector and scalar functions.

enum class VecFn {
  kAbs,
  kCeil,
  kFloor,
  kExp,
  kSqrt,
  kLn,
  kLog2,
  kLog10,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kTanh,
  kAsinh,
  kAcosh,
  kAtanh,
  kDeg,
  kRad,
  kSgn,
  kRound,
  kClamp,
  kClampMin,
  kClampMax,
  kTimestamp,
  kVector,
  kScalar,
  kTime,
  kPi,
  kYear,
  kMonth,
  kDayOfMonth,
  kDayOfWeek,
  kDayOfYear,
  kDaysInMonth,
  kHour,
  kMinute,
  kLabelReplace,
  kLabelJoin,
  kSort,
  kSortDesc,
  kAbsent,
  kHistogramQuantile,
  kHistogramNative,
};

std::optional<VecFn> FindVecFn(std::string_view name) {
  static const std::unordered_map<std::string_view, VecFn> table = {
      {"abs", VecFn::kAbs},
      {"ceil", VecFn::kCeil},
      {"floor", VecFn::kFloor},
      {"exp", VecFn::kExp},
      {"sqrt", VecFn::kSqrt},
      {"ln", VecFn::kLn},
      {"log2", VecFn::kLog2},
      {"log10", VecFn::kLog10},
      {"sin", VecFn::kSin},
      {"cos", VecFn::kCos},
      {"tan", VecFn::kTan},
      {"asin", VecFn::kAsin},
      {"acos", VecFn::kAcos},
      {"atan", VecFn::kAtan},
      {"sinh", VecFn::kSinh},
      {"cosh", VecFn::kCosh},
      {"tanh", VecFn::kTanh},
      {"asinh", VecFn::kAsinh},
      {"acosh", VecFn::kAcosh},
      {"atanh", VecFn::kAtanh},
      {"deg", VecFn::kDeg},
      {"rad", VecFn::kRad},
      {"sgn", VecFn::kSgn},
      {"round", VecFn::kRound},
      {"clamp", VecFn::kClamp},
      {"clamp_min", VecFn::kClampMin},
      {"clamp_max", VecFn::kClampMax},
      {"timestamp", VecFn::kTimestamp},
      {"vector", VecFn::kVector},
      {"scalar", VecFn::kScalar},
      {"time", VecFn::kTime},
      {"pi", VecFn::kPi},
      {"year", VecFn::kYear},
      {"month", VecFn::kMonth},
      {"day_of_month", VecFn::kDayOfMonth},
      {"day_of_week", VecFn::kDayOfWeek},
      {"day_of_year", VecFn::kDayOfYear},
      {"days_in_month", VecFn::kDaysInMonth},
      {"hour", VecFn::kHour},
      {"minute", VecFn::kMinute},
      {"label_replace", VecFn::kLabelReplace},
      {"label_join", VecFn::kLabelJoin},
      {"sort", VecFn::kSort},
      {"sort_desc", VecFn::kSortDesc},
      {"absent", VecFn::kAbsent},
      {"histogram_quantile", VecFn::kHistogramQuantile},
      {"histogram_count", VecFn::kHistogramNative},
      {"histogram_sum", VecFn::kHistogramNative},
      {"histogram_fraction", VecFn::kHistogramNative},
  };
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

double SimpleMath(VecFn fn, double v) {
  switch (fn) {
    case VecFn::kAbs:
      return std::fabs(v);
    case VecFn::kCeil:
      return std::ceil(v);
    case VecFn::kFloor:
      return std::floor(v);
    case VecFn::kExp:
      return std::exp(v);
    case VecFn::kSqrt:
      return std::sqrt(v);
    case VecFn::kLn:
      return std::log(v);
    case VecFn::kLog2:
      return std::log2(v);
    case VecFn::kLog10:
      return std::log10(v);
    case VecFn::kSin:
      return std::sin(v);
    case VecFn::kCos:
      return std::cos(v);
    case VecFn::kTan:
      return std::tan(v);
    case VecFn::kAsin:
      return std::asin(v);
    case VecFn::kAcos:
      return std::acos(v);
    case VecFn::kAtan:
      return std::atan(v);
    case VecFn::kSinh:
      return std::sinh(v);
    case VecFn::kCosh:
      return std::cosh(v);
    case VecFn::kTanh:
      return std::tanh(v);
    case VecFn::kAsinh:
      return std::asinh(v);
    case VecFn::kAcosh:
      return std::acosh(v);
    case VecFn::kAtanh:
      return std::atanh(v);
    case VecFn::kDeg:
      return v * 180 / std::numbers::pi;
    case VecFn::kRad:
      return v * std::numbers::pi / 180;
    case VecFn::kSgn:
      return v < 0 ? -1 : v > 0 ? 1 : v;
    default:
      return kNaN;
  }
}

double DatePart(VecFn fn, int64_t unix_seconds) {
  const CivilTime ct = ToCivil(unix_seconds);
  switch (fn) {
    case VecFn::kYear:
      return static_cast<double>(ct.year);
    case VecFn::kMonth:
      return ct.month;
    case VecFn::kDayOfMonth:
      return ct.day;
    case VecFn::kDayOfWeek:
      return ct.weekday;
    case VecFn::kDayOfYear:
      return ct.year_day;
    case VecFn::kDaysInMonth:
      return DaysIn(ct.year, ct.month);
    case VecFn::kHour:
      return ct.hour;
    case VecFn::kMinute:
      return ct.minute;
    default:
      return kNaN;
  }
}

// One call node's evaluation state across steps.
class VectorCall {
 public:
  VectorCall(const Call& call, VecFn fn) : call_(call), fn_(fn) {}

  void Step(const std::vector<EVector>& args, int64_t ts, EVector* out) {
    auto scalar = [&](size_t i) { return args[i].empty() ? kNaN : args[i][0].v; };
    switch (fn_) {
      case VecFn::kRound: {
        const double to_nearest = call_.args.size() >= 2 ? scalar(1) : 1;
        const double inverse = 1.0 / to_nearest;
        for (const ESample& s : args[0]) {
          Emit(out, names_.Get(s.labels), std::floor(s.v * inverse + 0.5) / inverse);
        }
        return;
      }
      case VecFn::kClamp: {
        const double min = scalar(1), max = scalar(2);
        if (max < min) return;
        for (const ESample& s : args[0]) {
          Emit(out, names_.Get(s.labels), GoMax(min, GoMin(max, s.v)));
        }
        return;
      }
      case VecFn::kClampMin: {
        const double min = scalar(1);
        for (const ESample& s : args[0]) Emit(out, names_.Get(s.labels), GoMax(min, s.v));
        return;
      }
      case VecFn::kClampMax: {
        const double max = scalar(1);
        for (const ESample& s : args[0]) Emit(out, names_.Get(s.labels), GoMin(max, s.v));
        return;
      }
      case VecFn::kTimestamp:
        for (const ESample& s : args[0]) {
          Emit(out, names_.Get(s.labels), static_cast<double>(s.t) / 1000);
        }
        return;
      case VecFn::kVector:
        Emit(out, EmptyLabels(), scalar(0));
        return;
      case VecFn::kScalar:
        Emit(out, EmptyLabels(), args[0].size() == 1 ? args[0][0].v : kNaN);
        return;
      case VecFn::kTime:
        Emit(out, EmptyLabels(), static_cast<double>(ts) / 1000);
        return;
      case VecFn::kPi:
        Emit(out, EmptyLabels(), std::numbers::pi);
        return;
      case VecFn::kYear:
      case VecFn::kMonth:
      case VecFn::kDayOfMonth:
      case VecFn::kDayOfWeek:
      case VecFn::kDayOfYear:
      case VecFn::kDaysInMonth:
      case VecFn::kHour:
      case VecFn::kMinute:
        if (call_.args.empty()) {
          // Without an argument: the evaluation time, whole seconds.
          Emit(out, EmptyLabels(), DatePart(fn_, ts / 1000));
          return;
        }
        for (const ESample& s : args[0]) {
          Emit(out, names_.Get(s.labels), DatePart(fn_, GoInt64(s.v)));
        }
        return;
      case VecFn::kLabelReplace:
        LabelReplace(args[0], out);
        return;
      case VecFn::kLabelJoin:
        LabelJoin(args[0], out);
        return;
      case VecFn::kSort:
      case VecFn::kSortDesc: {
        const bool desc = fn_ == VecFn::kSortDesc;
        *out = args[0];
        std::stable_sort(out->begin(), out->end(), [&](const ESample& a, const ESample& b) {
          if (std::isnan(a.v) || std::isnan(b.v)) return !std::isnan(a.v) && std::isnan(b.v);
          return desc ? a.v > b.v : a.v < b.v;
        });
        return;
      }
      case VecFn::kAbsent:
        if (!args[0].empty()) return;
        if (!absent_labels_) absent_labels_ = AbsentLabels(*call_.args[0]);
        Emit(out, absent_labels_, 1);
        return;
      case VecFn::kHistogramQuantile:
        HistogramQuantile(scalar(0), args[1], out);
        return;
      case VecFn::kHistogramNative:
        return;  // only native histograms, which tally does not store
      default:
        for (const ESample& s : args[0]) Emit(out, names_.Get(s.labels), SimpleMath(fn_, s.v));
        return;
    }
  }

 private:
  static void Emit(EVector* out, LabelsRef labels, double v) {
    out->push_back(ESample{std::move(labels), v, 0, -1});
  }

  void LabelReplace(const EVector& in, EVector* out) {
    const std::string& dst = StringArg(call_, 1);
    const std::string& repl = StringArg(call_, 2);
    const std::string& src = StringArg(call_, 3);
    if (!regex_) {
      const std::string& pattern = StringArg(call_, 4);
      RE2::Options options;
      options.set_log_errors(false);
      regex_ = std::make_unique<RE2>("^(?:" + pattern + ")$", options);
      if (!regex_->ok()) {
        ThrowExecution("invalid regular expression in label_replace(): " + pattern);
      }
      if (!IsValidLabelName(dst)) {
        ThrowExecution("invalid destination label name in label_replace(): " + dst);
      }
    }
    const int ngroups = regex_->NumberOfCapturingGroups() + 1;
    std::vector<re2::StringPiece> groups(static_cast<size_t>(ngroups));
    for (const ESample& s : in) {
      auto [it, inserted] = replaced_.try_emplace(s.labels.get());
      if (inserted) {
        const std::string* v = s.labels->labels.Get(src);
        const std::string src_value = v != nullptr ? *v : std::string();
        const re2::StringPiece text(src_value);
        if (!regex_->Match(text, 0, text.size(), RE2::ANCHOR_BOTH, groups.data(), ngroups)) {
          it->second = s.labels;
        } else {
          const std::string res = ExpandTemplate(*regex_, repl, groups);
          LabelsBuilder b(s.labels->labels);
          b.Del(dst);
          if (!res.empty()) b.Set(dst, res);
          it->second = MakeLabels(b.Build());
        }
      }
      Emit(out, it->second, s.v);
    }
  }

  void LabelJoin(const EVector& in, EVector* out) {
    const std::string& dst = StringArg(call_, 1);
    const std::string& sep = StringArg(call_, 2);
    std::vector<std::string> srcs;
    for (size_t i = 3; i < call_.args.size(); ++i) {
      const std::string& src = StringArg(call_, i);
      if (!IsValidLabelName(src)) {
        ThrowExecution("invalid source label name in label_join(): " + src);
      }
      srcs.push_back(src);
    }
    if (!IsValidLabelName(dst)) {
      ThrowExecution("invalid destination label name in label_join(): " + dst);
    }
    for (const ESample& s : in) {
      auto [it, inserted] = replaced_.try_emplace(s.labels.get());
      if (inserted) {
        std::string joined;
        for (size_t i = 0; i < srcs.size(); ++i) {
          if (i > 0) joined += sep;
          if (const std::string* v = s.labels->labels.Get(srcs[i])) joined += *v;
        }
        LabelsBuilder b(s.labels->labels);
        if (joined.empty()) {
          b.Del(dst);
        } else {
          b.Set(dst, joined);
        }
        it->second = MakeLabels(b.Build());
      }
      Emit(out, it->second, s.v);
    }
  }

  void HistogramQuantile(double q, const EVector& in, EVector* out) {
    struct Group {
      LabelsRef labels;
      std::vector<Bucket> buckets;
    };
    std::vector<Group> groups;
    std::unordered_map<std::string, size_t> index;
    for (const ESample& s : in) {
      const std::string* le = s.labels->labels.Get("le");
      double upper = 0;
      if (le == nullptr || !GoParseFloat(*le, &upper)) continue;  // not a bucket
      std::string key;
      for (const core::Label& l : s.labels->labels.items()) {
        if (l.name == "le") continue;
        key += l.name;
        key.push_back('\xff');
        key += l.value;
        key.push_back('\xff');
      }
      auto [it, inserted] = index.try_emplace(std::move(key), groups.size());
      if (inserted) {
        LabelsBuilder b(s.labels->labels);
        b.Del("__name__");
        b.Del("le");
        groups.push_back(Group{MakeLabels(b.Build()), {}});
      }
      groups[it->second].buckets.push_back(Bucket{upper, s.v});
    }
    for (Group& g : groups) Emit(out, g.labels, BucketQuantile(q, &g.buckets));
  }

  const Call& call_;
  const VecFn fn_;
  DropNameCache names_;
  LabelsRef absent_labels_;
  std::unique_ptr<RE2> regex_;
  std::unordered_map<const LabelSet*, LabelsRef> replaced_;  // label_replace/label_join
};

}  // namespace

EMatrix Evaluator::EvalCall(const Call& c) {
  const std::string_view name = c.func->name;
  if (name == "timestamp" && !c.args.empty()) {
    // The sample's own time, not the step's, when applied to a selector.
    const Expr& arg = Unparen(*c.args[0]);
    if (arg.kind == ExprKind::kVectorSelector) {
      return EvalTimestampOfSelector(As<VectorSelector>(arg));
    }
  }
  for (size_t i = 0; i < c.args.size(); ++i) {
    const ExprKind k = Unparen(*c.args[i]).kind;
    if (k == ExprKind::kMatrixSelector || k == ExprKind::kSubquery) return EvalRangeFunction(c, i);
  }
  const std::optional<VecFn> fn = FindVecFn(name);
  if (!fn) ThrowExecution("function \"" + std::string(name) + "\" is not supported");
  std::vector<const Expr*> exprs;
  exprs.reserve(c.args.size());
  for (const ExprPtr& a : c.args) exprs.push_back(&Unparen(*a));
  VectorCall call(c, *fn);
  return RangeEval(exprs, nullptr, [&](const std::vector<EVector>& args, int64_t ts, EVector* out) {
    call.Step(args, ts, out);
  });
}

EMatrix Evaluator::EvalTimestampOfSelector(const VectorSelector& vs) {
  const int64_t lookback = state_->options->lookback_ms;
  const int64_t first_ref = RefTime(vs.at, vs.offset_ms, start_);
  const int64_t last_ref = RefTime(vs.at, vs.offset_ms, end_);
  const std::vector<ESeries> raw = Select(vs, SubTime(first_ref, lookback), last_ref);
  const int64_t raw_total = TotalPoints(raw);
  std::vector<size_t> next(raw.size(), 0);
  DropNameCache names;
  EMatrix out = RangeEval({}, nullptr, [&](const std::vector<EVector>&, int64_t ts, EVector* vec) {
    const int64_t ref = RefTime(vs.at, vs.offset_ms, ts);
    for (size_t i = 0; i < raw.size(); ++i) {
      const std::vector<Sample>& p = raw[i].points;
      size_t& n = next[i];
      while (n < p.size() && p[n].t_ms <= ref) ++n;
      if (n == 0) continue;
      const Sample& last = p[n - 1];
      if (last.t_ms < SubTime(ref, lookback) || IsStaleNaN(last.v)) continue;
      vec->push_back(
          ESample{names.Get(raw[i].labels), static_cast<double>(last.t_ms) / 1000, 0, -1});
    }
  });
  Release(raw_total);
  return out;
}

EMatrix Evaluator::EvalRangeFunction(const Call& c, size_t matrix_arg) {
  const std::optional<RangeFn> fn = FindRangeFn(c.func->name);
  if (!fn) ThrowExecution("function \"" + std::string(c.func->name) + "\" is not supported");
  const int64_t original = state_->current_samples;

  // Scalar arguments, one value per step.
  std::vector<EMatrix> others(c.args.size());
  for (size_t j = 0; j < c.args.size(); ++j) {
    if (j == matrix_arg || c.args[j]->Type() == ValueType::kString) continue;
    others[j] = Eval(*c.args[j]);
  }

  // The series the windows are cut from: raw samples (without staleness
  // markers) for a range selector, the evaluated points for a subquery.
  const Expr& arg = Unparen(*c.args[matrix_arg]);
  std::vector<ESeries> source;
  int64_t range_ms = 0, offset_ms = 0;
  AtModifier at;
  if (arg.kind == ExprKind::kMatrixSelector) {
    const auto& ms = As<MatrixSelector>(arg);
    range_ms = ms.range_ms;
    offset_ms = ms.selector->offset_ms;
    at = ms.selector->at;
    source = Select(*ms.selector, SubTime(RefTime(at, offset_ms, start_), range_ms),
                    RefTime(at, offset_ms, end_));
    for (ESeries& s : source) {
      const size_t before = s.points.size();
      std::erase_if(s.points, [](const Sample& p) { return IsStaleNaN(p.v); });
      Release(static_cast<int64_t>(before - s.points.size()));
    }
  } else {
    const auto& sq = As<SubqueryExpr>(arg);
    range_ms = sq.range_ms;
    offset_ms = sq.offset_ms;
    at = sq.at;
    source = EvalSubquery(sq);
  }

  const bool keep_name = *fn == RangeFn::kLastOverTime;
  const int64_t steps = NumSteps();
  std::vector<double> params(c.args.size(), kNaN);
  EMatrix out;
  for (const ESeries& s : source) {
    CheckDeadline();
    ESeries series{keep_name ? s.labels : DropMetricName(s.labels), {}};
    size_t lo = 0, hi = 0;  // the window is points[lo, hi)
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t ts = StepTime(step);
      const int64_t maxt = RefTime(at, offset_ms, ts);
      const int64_t mint = SubTime(maxt, range_ms);
      while (hi < s.points.size() && s.points[hi].t_ms <= maxt) ++hi;
      while (lo < hi && s.points[lo].t_ms < mint) ++lo;
      if (lo == hi) continue;
      for (size_t j = 0; j < others.size(); ++j) {
        if (others[j].empty()) continue;
        const auto& p = others[j][0].points;
        params[j] = static_cast<size_t>(step) < p.size() && p[step].t_ms == ts ? p[step].v : kNaN;
      }
      const std::span<const Sample> window(s.points.data() + lo, hi - lo);
      AddSamples(static_cast<int64_t>(window.size()));
      RangeCtx ctx{ts, mint, maxt, range_ms, &params};
      double v = 0;
      const bool produced = ApplyRangeFn(*fn, window, ctx, &v);
      Release(static_cast<int64_t>(window.size()));
      if (produced) {
        AddSamples(1);
        series.points.push_back(Sample{ts, v});
      }
    }
    if (!series.points.empty()) out.push_back(std::move(series));
  }
  source.clear();
  others.clear();
  state_->current_samples = original + TotalPoints(out);

  if (*fn == RangeFn::kAbsentOverTime) {
    // One series with a 1 at every step where no input series has a point.
    AddSamples(steps);  // the most it can hold, before allocating
    std::vector<bool> found(static_cast<size_t>(steps), false);
    for (const ESeries& s : out) {
      for (const Sample& p : s.points) {
        const uint64_t since = static_cast<uint64_t>(p.t_ms) - static_cast<uint64_t>(start_);
        found[since / static_cast<uint64_t>(interval_)] = true;
      }
    }
    ESeries absent{AbsentLabels(arg), {}};
    for (int64_t k = 0; k < steps; ++k) {
      if (!found[static_cast<size_t>(k)]) absent.points.push_back(Sample{StepTime(k), 1});
    }
    state_->current_samples = original;
    EMatrix result;
    if (!absent.points.empty()) {
      AddSamples(static_cast<int64_t>(absent.points.size()));
      result.push_back(std::move(absent));
    }
    return result;
  }
  CheckNoDuplicateSeries(out);
  return out;
}

}  // namespace promql::internal

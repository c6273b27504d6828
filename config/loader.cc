// The config loader: YAML text -> Config, or every error found in it.
// yaml-cpp comes in through config/yaml_util.h (shared with the price loader);
// every YAML::Exception stops here.

#include "config/loader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aggregator/scrape_config.h"
#include "config/yaml_util.h"
#include "core/time_parse.h"

namespace config {

std::string ConfigError::ToString() const {
  std::string out = file;
  if (line > 0) {
    if (!out.empty()) out += ':';
    out += std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  if (!out.empty()) out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

namespace {

using yaml_util::Describe;
using yaml_util::Entry;
using yaml_util::Field;
using yaml_util::IsPlain;
using yaml_util::Join;
using yaml_util::OneBased;
using yaml_util::Quote;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kIntMax = std::numeric_limits<int>::max();
constexpr int64_t kMiB = 1LL << 20;
constexpr int64_t kGiB = 1LL << 30;

std::string FormatDouble(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::optional<int64_t> ParseInt64(std::string_view s, bool* out_of_range) {
  *out_of_range = false;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || s.front() == '+') return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) {
    *out_of_range = true;
    return std::nullopt;
  }
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// YAML 1.2 core-schema floats, plus what from_chars reads; nullopt if not a number.
std::optional<double> ParseDouble(std::string_view s) {
  static const std::map<std::string_view, double> kSpecial = {
      {".inf", HUGE_VAL},   {".Inf", HUGE_VAL},     {".INF", HUGE_VAL},     {"+.inf", HUGE_VAL},
      {"+.Inf", HUGE_VAL},  {"+.INF", HUGE_VAL},    {"-.inf", -HUGE_VAL},   {"-.Inf", -HUGE_VAL},
      {"-.INF", -HUGE_VAL}, {".nan", std::nan("")}, {".NaN", std::nan("")}, {".NAN", std::nan("")},
  };
  if (auto it = kSpecial.find(s); it != kSpecial.end()) return it->second;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || s.front() == '+') return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) return s.front() == '-' ? -HUGE_VAL : HUGE_VAL;
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Byte sizes: "1048576", "512KB", "16MiB", "1 GiB". Units are case-sensitive.
std::optional<int64_t> ParseByteSize(std::string_view s, bool* out_of_range) {
  static const std::map<std::string_view, int64_t> kUnits = {
      {"B", 1},
      {"KB", 1000},
      {"MB", 1000 * 1000},
      {"GB", 1000 * 1000 * 1000},
      {"TB", 1000LL * 1000 * 1000 * 1000},
      {"KiB", 1LL << 10},
      {"MiB", 1LL << 20},
      {"GiB", 1LL << 30},
      {"TiB", 1LL << 40},
  };
  *out_of_range = false;
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  std::string_view number = s.substr(0, digits);
  std::string_view unit = s.substr(digits);
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  int64_t multiplier = 1;
  if (!unit.empty()) {
    auto it = kUnits.find(unit);
    if (it == kUnits.end()) return std::nullopt;
    multiplier = it->second;
  }
  bool overflow = false;
  std::optional<int64_t> n = ParseInt64(number, &overflow);
  if (!n) {
    *out_of_range = overflow;
    return std::nullopt;
  }
  if (*n > kInt64Max / multiplier) {
    *out_of_range = true;
    return std::nullopt;
  }
  return *n * multiplier;
}

std::string RangeMessage(int64_t min, int64_t max, const std::string& got) {
  if (max == kInt64Max || max == kIntMax) {
    if (max == kIntMax && min == 1) {
      return "must be a positive integer up to " + std::to_string(max) + " (got " + got + ")";
    }
    if (min == 1) return "must be positive (got " + got + ")";
    return "must be at least " + std::to_string(min) + " (got " + got + ")";
  }
  return "must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " + got +
         ")";
}

std::string FormatBytes(int64_t bytes) {
  if (bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "GiB";
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  return std::to_string(bytes) + " bytes";
}

// Walks a parsed document into a Config, collecting every error on the way.
// Not thread-safe; one Loader per load.
class Loader : public yaml_util::YamlWalker {
 public:
  using YamlWalker::YamlWalker;

  // Throws YAML::Exception on malformed YAML; errors found so far are kept.
  void Load(std::string_view text, Config& config);

 private:
  // A section is a map; an empty section (`server:`) keeps every default.
  void WalkSection(const Entry& e, const std::vector<Field>& fields);

  // Each reports its own error and returns nullopt on a bad value.
  std::optional<int64_t> Int(const Entry& e, int64_t min, int64_t max);
  std::optional<int64_t> DurationMs(const Entry& e, int64_t min_ms);
  std::optional<int64_t> Bytes(const Entry& e, int64_t min, int64_t max);
  std::optional<bool> Bool(const Entry& e);
  std::optional<double> FiniteNumber(const Entry& e);
  std::optional<std::vector<double>> Buckets(const Entry& e);
  std::optional<std::string> ListenAddress(const Entry& e);
  std::optional<std::string> NonEmptyString(const Entry& e);
  std::optional<FsyncPolicy> Fsync(const Entry& e);

  void Server(const Entry& e, ServerConfig& c);
  void Storage(const Entry& e, StorageConfig& c);
  void Limits(const Entry& e, LimitsConfig& c);
  void Anomalies(const Entry& e, AnomaliesConfig& c);
  void Exposition(const Entry& e, ExpositionConfig& c);
  void Auth(const Entry& e, AuthConfig& c);
  void Billing(const Entry& e, BillingConfig& c);
  void Tiers(const Entry& e, std::vector<TierLimits>& tiers);
  std::optional<std::vector<HistogramBuckets>> HistogramRules(const Entry& e);

  // The aggregator's sections (docs/aggregator.md).
  void Global(const Entry& e, GlobalConfig& c);
  void ScrapeConfigs(const Entry& e, const GlobalConfig& global,
                     std::vector<ScrapeJobConfig>& jobs);
  std::optional<ScrapeJobConfig> ScrapeJob(const YAML::Node& item, const std::string& path,
                                           const GlobalConfig& global);
  std::optional<std::vector<std::string>> StringList(const Entry& e, bool allow_empty_items);
  std::optional<std::vector<core::Label>> LabelMap(const Entry& e);
  std::optional<int64_t> Base2Bytes(const Entry& e);
};

void Loader::WalkSection(const Entry& e, const std::vector<Field>& fields) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    ErrorAt(e, "expected a map of settings, got " + Describe(e.value));
    return;
  }
  WalkMap(e.value, e.path, fields);
}

std::optional<int64_t> Loader::Int(const Entry& e, int64_t min, int64_t max) {
  std::optional<std::string> text = Scalar(e, "an integer");
  if (!text) return std::nullopt;
  bool out_of_range = false;
  std::optional<int64_t> v = IsPlain(e.value) ? ParseInt64(*text, &out_of_range) : std::nullopt;
  if (out_of_range) {
    ErrorAt(e, RangeMessage(min, max, *text));
    return std::nullopt;
  }
  if (!v) {
    ErrorAt(e, "expected an integer, got " + Describe(e.value));
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    ErrorAt(e, RangeMessage(min, max, *text));
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> Loader::DurationMs(const Entry& e, int64_t min_ms) {
  std::optional<std::string> text = Scalar(e, "a duration such as 30s, 5m or 1h30m");
  if (!text) return std::nullopt;
  core::Result<int64_t> ms = core::ParseDurationMs(*text);
  if (!ms) {
    std::string message = ms.error().message;
    bool all_digits = !text->empty() && std::all_of(text->begin(), text->end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
    if (all_digits) message += "; write e.g. " + *text + "s or " + *text + "ms";
    ErrorAt(e, message);
    return std::nullopt;
  }
  if (*ms < min_ms) {
    ErrorAt(e, min_ms == 1
                   ? "must be a positive duration (got " + *text + ")"
                   : "must be at least " + std::to_string(min_ms) + "ms (got " + *text + ")");
    return std::nullopt;
  }
  return *ms;
}

std::optional<int64_t> Loader::Bytes(const Entry& e, int64_t min, int64_t max) {
  std::optional<std::string> text = Scalar(e, "a byte size such as 16MiB");
  if (!text) return std::nullopt;
  bool out_of_range = false;
  std::optional<int64_t> v = ParseByteSize(*text, &out_of_range);
  if (!v && !out_of_range) {
    ErrorAt(e, "invalid byte size " + Quote(*text) +
                   " (use a number of bytes, or a number with a unit: B, KB, MB, GB, TB, KiB, "
                   "MiB, GiB, TiB; e.g. 16MiB)");
    return std::nullopt;
  }
  if (out_of_range || *v < min || *v > max) {
    std::string bounds = max == kInt64Max
                             ? "must be at least " + FormatBytes(min)
                             : "must be between " + FormatBytes(min) + " and " + FormatBytes(max);
    ErrorAt(e, bounds + " (got " + *text + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Loader::Bool(const Entry& e) {
  std::optional<std::string> text = Scalar(e, "true or false");
  if (!text) return std::nullopt;
  if (IsPlain(e.value)) {
    if (*text == "true" || *text == "True" || *text == "TRUE") return true;
    if (*text == "false" || *text == "False" || *text == "FALSE") return false;
  }
  ErrorAt(e, "expected true or false, got " + Describe(e.value));
  return std::nullopt;
}

std::optional<double> Loader::FiniteNumber(const Entry& e) {
  std::optional<std::string> text = Scalar(e, "a number");
  if (!text) return std::nullopt;
  std::optional<double> v = IsPlain(e.value) ? ParseDouble(*text) : std::nullopt;
  if (!v) {
    ErrorAt(e, "expected a number, got " + Describe(e.value));
    return std::nullopt;
  }
  if (!std::isfinite(*v)) {
    ErrorAt(e, "must be a finite number (got " + *text + "; +Inf is always added implicitly)");
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<double>> Loader::Buckets(const Entry& e) {
  if (!e.value.IsSequence()) {
    ErrorAt(e,
            "expected a list of bucket upper bounds such as [1, 5, 10], got " + Describe(e.value));
    return std::nullopt;
  }
  if (e.value.size() == 0) {
    ErrorAt(e, "needs at least one bucket upper bound");
    return std::nullopt;
  }
  std::vector<double> out;
  bool ok = true;
  std::optional<double> previous;
  size_t index = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it, ++index) {
    Entry item{e.key, *it, e.path + "[" + std::to_string(index) + "]"};
    std::optional<double> v = FiniteNumber(item);
    if (!v) {
      ok = false;
      continue;
    }
    if (previous && *v <= *previous) {
      ErrorAt(item, "buckets must be strictly increasing (" + FormatDouble(*v) +
                        " does not exceed the previous bound " + FormatDouble(*previous) + ")");
      ok = false;
    }
    previous = v;
    out.push_back(*v);
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> Loader::ListenAddress(const Entry& e) {
  constexpr std::string_view kForm = "host:port, e.g. 127.0.0.1:9470 or 0.0.0.0:9470";
  std::optional<std::string> text = Scalar(e, kForm);
  if (!text) return std::nullopt;
  size_t colon = text->rfind(':');
  bool ok = colon != std::string::npos && colon > 0;
  if (ok) {
    std::string_view host = std::string_view(*text).substr(0, colon);
    std::string_view port = std::string_view(*text).substr(colon + 1);
    bool bracketed = host.front() == '[';
    if (bracketed && (host.size() < 3 || host.back() != ']')) ok = false;
    if (!bracketed && host.find(':') != std::string_view::npos) ok = false;  // bare IPv6
    bool port_ok =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!port_ok || std::stoi(std::string(port)) > 65535) ok = false;
  }
  if (!ok) {
    ErrorAt(e, "invalid listen address " + Quote(*text) + " (expected " + std::string(kForm) +
                   "; IPv6 as [::1]:9470; port 0 picks a free port)");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> Loader::NonEmptyString(const Entry& e) {
  std::optional<std::string> text = Scalar(e, "a string");
  if (!text) return std::nullopt;
  if (text->empty()) {
    ErrorAt(e, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<FsyncPolicy> Loader::Fsync(const Entry& e) {
  std::optional<std::string> text = Scalar(e, "one of always, interval, never");
  if (!text) return std::nullopt;
  if (*text == "always") return FsyncPolicy::kAlways;
  if (*text == "interval") return FsyncPolicy::kInterval;
  if (*text == "never") return FsyncPolicy::kNever;
  ErrorAt(e, "invalid value " + Quote(*text) + " (allowed: always, interval, never)");
  return std::nullopt;
}

// Assigns `target` when `parsed` holds a value.
template <typename T, typename U>
void Set(T& target, std::optional<U> parsed) {
  if (parsed) target = static_cast<T>(*parsed);
}

void Loader::Server(const Entry& e, ServerConfig& c) {
  WalkSection(
      e,
      {
          {"listen", [&](const Entry& f) { Set(c.listen, ListenAddress(f)); }},
          {"num_threads", [&](const Entry& f) { Set(c.num_threads, Int(f, 1, 1024)); }},
          {"request_timeout", [&](const Entry& f) { Set(c.request_timeout_ms, DurationMs(f, 1)); }},
          {"shutdown_grace", [&](const Entry& f) { Set(c.shutdown_grace_ms, DurationMs(f, 0)); }},
      });
}

void Loader::Storage(const Entry& e, StorageConfig& c) {
  WalkSection(e, {
                     {"dir", [&](const Entry& f) { Set(c.dir, NonEmptyString(f)); }},
                     {"retention", [&](const Entry& f) { Set(c.retention_ms, DurationMs(f, 1)); }},
                     {"max_memory",
                      [&](const Entry& f) { Set(c.max_memory_bytes, Bytes(f, kMiB, kInt64Max)); }},
                     {"fsync", [&](const Entry& f) { Set(c.fsync, Fsync(f)); }},
                     {"fsync_interval",
                      [&](const Entry& f) { Set(c.fsync_interval_ms, DurationMs(f, 1)); }},
                     {"snapshot_interval",
                      [&](const Entry& f) { Set(c.snapshot_interval_ms, DurationMs(f, 1)); }},
                 });
}

void Loader::Limits(const Entry& e, LimitsConfig& c) {
  auto positive_int = [&](int& target) {
    return [this, &target](const Entry& f) { Set(target, Int(f, 1, kIntMax)); };
  };
  WalkSection(
      e,
      {
          {"max_body_bytes", [&](const Entry& f) { Set(c.max_body_bytes, Bytes(f, 1, kGiB)); }},
          {"max_batch_points", positive_int(c.max_batch_points)},
          {"max_series_per_metric", positive_int(c.max_series_per_metric)},
          {"max_tags_per_point", positive_int(c.max_tags_per_point)},
          {"max_tag_key_length", positive_int(c.max_tag_key_length)},
          {"max_tag_value_bytes", positive_int(c.max_tag_value_bytes)},
          {"max_name_length", positive_int(c.max_name_length)},
          {"max_future_skew", [&](const Entry& f) { Set(c.max_future_skew_ms, DurationMs(f, 0)); }},
      });
}

void Loader::Anomalies(const Entry& e, AnomaliesConfig& c) {
  // A number >= min (ratios > 1, severities, minimums >= 0).
  auto number = [this](double& target, double min, bool strictly) {
    return [this, &target, min, strictly](const Entry& f) {
      std::optional<double> v = FiniteNumber(f);
      if (!v) return;
      if (strictly ? *v <= min : *v < min) {
        ErrorAt(f, std::string("must be ") + (strictly ? "greater than " : "at least ") +
                       FormatDouble(min) + " (got " + FormatDouble(*v) + ")");
        return;
      }
      target = *v;
    };
  };
  WalkSection(
      e,
      {
          {"enabled", [&](const Entry& f) { Set(c.enabled, Bool(f)); }},
          {"interval", [&](const Entry& f) { Set(c.interval_ms, DurationMs(f, 1000)); }},
          {"hourly", [&](const Entry& f) { Set(c.hourly, Bool(f)); }},
          {"min_ratio",
           [&](const Entry& f) {
             WalkSection(f, {
                                {"cost_spike", number(c.cost_min_ratio, 1, true)},
                                {"usage_spike", number(c.usage_min_ratio, 1, true)},
                                {"error_rate_spike", number(c.error_rate_min_ratio, 1, true)},
                                {"latency_spike", number(c.latency_min_ratio, 1, true)},
                            });
           }},
          {"min_expected_cost_usd", number(c.min_expected_cost_usd, 0, false)},
          {"min_expected_requests", number(c.min_expected_requests, 0, false)},
          {"min_bucket_requests",
           [&](const Entry& f) { Set(c.min_bucket_requests, Int(f, 1, kInt64Max)); }},
          {"min_error_rate", number(c.min_error_rate, 0, false)},
          {"severity",
           [&](const Entry& f) {
             WalkSection(f, {
                                {"medium", number(c.severity_medium, 1, true)},
                                {"high", number(c.severity_high, 1, true)},
                                {"critical", number(c.severity_critical, 1, true)},
                            });
             if (!(c.severity_medium <= c.severity_high && c.severity_high <= c.severity_critical)) {
               ErrorAt(f, "severity ratios must satisfy medium <= high <= critical");
             }
           }},
      });
}

std::optional<std::vector<HistogramBuckets>> Loader::HistogramRules(const Entry& e) {
  if (!e.value.IsSequence()) {
    ErrorAt(e, "expected a list of {match, buckets} rules, got " + Describe(e.value));
    return std::nullopt;
  }
  std::vector<HistogramBuckets> rules;
  bool ok = true;
  size_t index = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it, ++index) {
    const YAML::Node item = *it;
    std::string path = e.path + "[" + std::to_string(index) + "]";
    if (!item.IsMap()) {
      ErrorAt(item.IsNull() ? e.key : item, path,
              "expected a map with keys match and buckets, got " + Describe(item));
      ok = false;
      continue;
    }
    HistogramBuckets rule;
    bool has_match = false, has_buckets = false;
    size_t errors_before = errors_.size() + dropped_errors_;
    WalkMap(item, path,
            {
                {"match",
                 [&](const Entry& f) {
                   has_match = true;
                   Set(rule.match, NonEmptyString(f));
                 }},
                {"buckets",
                 [&](const Entry& f) {
                   has_buckets = true;
                   Set(rule.buckets, Buckets(f));
                 }},
            });
    if (!has_match) ErrorAt(item, path, "missing required key 'match' (a metric name glob)");
    if (!has_buckets) ErrorAt(item, path, "missing required key 'buckets'");
    if (errors_.size() + dropped_errors_ != errors_before) {
      ok = false;
      continue;
    }
    rules.push_back(std::move(rule));
  }
  if (!ok) return std::nullopt;
  return rules;
}

void Loader::Exposition(const Entry& e, ExpositionConfig& c) {
  WalkSection(
      e,
      {
          {"histograms", [&](const Entry& f) { Set(c.histograms, HistogramRules(f)); }},
          {"default_buckets", [&](const Entry& f) { Set(c.default_buckets, Buckets(f)); }},
          {"series_ttl", [&](const Entry& f) { Set(c.series_ttl_ms, DurationMs(f, 0)); }},
          {"include_project_label", [&](const Entry& f) { Set(c.include_project_label, Bool(f)); }},
          {"llm_entity_id_label", [&](const Entry& f) { Set(c.llm_entity_id_label, Bool(f)); }},
      });
}

void Loader::Auth(const Entry& e, AuthConfig& c) {
  WalkSection(e, {
                     {"enabled", [&](const Entry& f) { Set(c.enabled, Bool(f)); }},
                     {"protect_public_routes",
                      [&](const Entry& f) { Set(c.protect_public_routes, Bool(f)); }},
                     {"bootstrap", [&](const Entry& f) { Set(c.bootstrap, Bool(f)); }},
                     {"bootstrap_tier",
                      [&](const Entry& f) { Set(c.bootstrap_tier, NonEmptyString(f)); }},
                     {"key_cache_ttl",
                      [&](const Entry& f) { Set(c.key_cache_ttl_ms, DurationMs(f, 0)); }},
                     {"usage_flush_interval",
                      [&](const Entry& f) { Set(c.usage_flush_interval_ms, DurationMs(f, 1)); }},
                 });
}

void Loader::Tiers(const Entry& e, std::vector<TierLimits>& tiers) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    ErrorAt(e, "expected a map of tier name to limits, got " + Describe(e.value));
    return;
  }
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      ErrorAt(it->first, e.path, "tier names must be non-empty strings");
      continue;
    }
    const std::string name = it->first.Scalar();
    Entry tier_entry{it->first, it->second, e.path + "." + name};
    // A tier named in the file overrides the built-in one field by field; a new
    // name starts from the "free" limits.
    TierLimits* tier = nullptr;
    for (TierLimits& t : tiers) {
      if (t.name == name) tier = &t;
    }
    if (tier == nullptr) {
      TierLimits fresh;
      fresh.name = name;
      tiers.push_back(fresh);
      tier = &tiers.back();
    }
    TierLimits& t = *tier;
    auto count = [this](int64_t& target) {
      return [this, &target](const Entry& f) { Set(target, Int(f, 0, kInt64Max)); };
    };
    WalkSection(tier_entry,
                {
                    {"rate_limit_rpm", count(t.rate_limit_rpm)},
                    {"ingest_rate_limit_rpm", count(t.ingest_rate_limit_rpm)},
                    {"events_per_month", count(t.events_per_month)},
                    {"retention_days", count(t.retention_days)},
                    {"max_members", count(t.max_members)},
                    {"max_projects", count(t.max_projects)},
                    {"bandwidth_per_month",
                     [&](const Entry& f) { Set(t.bandwidth_bytes_per_month, Bytes(f, 0, kInt64Max)); }},
                });
  }
}

void Loader::Billing(const Entry& e, BillingConfig& c) {
  std::optional<Entry> default_tier;
  WalkSection(e, {
                     {"tiers", [&](const Entry& f) { Tiers(f, c.tiers); }},
                     {"default_tier",
                      [&](const Entry& f) {
                        default_tier = f;
                        Set(c.default_tier, NonEmptyString(f));
                      }},
                 });
  if (default_tier && FindTier(c.tiers, c.default_tier) == nullptr) {
    std::vector<std::string_view> names;
    for (const TierLimits& t : c.tiers) names.push_back(t.name);
    ErrorAt(*default_tier, "unknown tier " + Quote(c.default_tier) + " (tiers: " + Join(names) + ")");
  }
}

void Loader::Global(const Entry& e, GlobalConfig& c) {
  WalkSection(e, {
                     {"scrape_interval",
                      [&](const Entry& f) { Set(c.scrape_interval_ms, DurationMs(f, 1)); }},
                     {"scrape_timeout",
                      [&](const Entry& f) { Set(c.scrape_timeout_ms, DurationMs(f, 1)); }},
                     {"evaluation_interval",
                      [&](const Entry& f) { Set(c.evaluation_interval_ms, DurationMs(f, 1)); }},
                 });
}

std::optional<std::vector<std::string>> Loader::StringList(const Entry& e, bool allow_empty_items) {
  if (e.value.IsNull()) return std::vector<std::string>{};
  if (!e.value.IsSequence()) {
    ErrorAt(e, "expected a list of strings, got " + Describe(e.value));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  size_t index = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it, ++index) {
    Entry item{e.key, *it, e.path + "[" + std::to_string(index) + "]"};
    std::optional<std::string> s = allow_empty_items ? Scalar(item, "a string") : NonEmptyString(item);
    if (!s) {
      ok = false;
      continue;
    }
    out.push_back(std::move(*s));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<core::Label>> Loader::LabelMap(const Entry& e) {
  if (e.value.IsNull()) return std::vector<core::Label>{};
  if (!e.value.IsMap()) {
    ErrorAt(e, "expected a map of label names to values, got " + Describe(e.value));
    return std::nullopt;
  }
  std::vector<core::Label> out;
  bool ok = true;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    if (!it->first.IsScalar()) {
      ErrorAt(it->first, e.path, "label names must be strings");
      ok = false;
      continue;
    }
    Entry item{it->first, it->second, e.path + "." + it->first.Scalar()};
    std::optional<std::string> v = Scalar(item, "a label value");
    if (!v) {
      ok = false;
      continue;
    }
    out.push_back(core::Label{it->first.Scalar(), std::move(*v)});
  }
  if (!ok) return std::nullopt;
  return out;
}

// Prometheus' body_size_limit (alecthomas/units Base2Bytes): KB, MB, ... are
// powers of 1024 there, and so here; KiB, MiB, ... are accepted too.
std::optional<int64_t> Loader::Base2Bytes(const Entry& e) {
  std::optional<std::string> text = Scalar(e, "a byte size such as 10MB");
  if (!text) return std::nullopt;
  static const std::map<std::string_view, int> kShift = {
      {"", 0},    {"B", 0},    {"KB", 10},  {"MB", 20},  {"GB", 30},  {"TB", 40},
      {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40},
  };
  std::string_view s = *text;
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  auto unit = kShift.find(s.substr(digits));
  bool overflow = false;
  std::optional<int64_t> n =
      digits == 0 ? std::nullopt : ParseInt64(s.substr(0, digits), &overflow);
  if (!n || unit == kShift.end() || *n > (kInt64Max >> unit->second)) {
    ErrorAt(e, "invalid byte size " + Quote(*text) +
                   " (a number of bytes, or a number with a unit: B, KB, MB, GB, TB (powers of "
                   "1024, like Prometheus), KiB, MiB, GiB, TiB; 0 means no limit)");
    return std::nullopt;
  }
  return *n << unit->second;
}

std::optional<ScrapeJobConfig> Loader::ScrapeJob(const YAML::Node& item, const std::string& path,
                                                 const GlobalConfig& global) {
  ScrapeJobConfig job;
  scrape::ScrapeConfig& c = job.scrape;
  c.scrape_interval_ms = global.scrape_interval_ms;
  bool has_name = false, has_timeout = false;
  std::optional<Entry> bearer, authorization;
  const size_t errors_before = ErrorCount();
  auto limit = [this](uint64_t& target) {
    return [this, &target](const Entry& f) { Set(target, Int(f, 0, kInt64Max)); };
  };
  WalkMap(
      item, path,
      {
          {"job_name",
           [&](const Entry& f) {
             has_name = true;
             Set(c.job_name, NonEmptyString(f));
           }},
          {"scrape_interval", [&](const Entry& f) { Set(c.scrape_interval_ms, DurationMs(f, 1)); }},
          {"scrape_timeout",
           [&](const Entry& f) {
             has_timeout = true;
             Set(c.scrape_timeout_ms, DurationMs(f, 1));
           }},
          {"metrics_path", [&](const Entry& f) { Set(c.metrics_path, NonEmptyString(f)); }},
          {"scheme", [&](const Entry& f) { Set(c.scheme, NonEmptyString(f)); }},
          {"params",
           [&](const Entry& f) {
             if (f.value.IsNull()) return;
             if (!f.value.IsMap()) {
               ErrorAt(f, "expected a map of parameter name to a list of values, got " +
                              Describe(f.value));
               return;
             }
             for (auto it = f.value.begin(); it != f.value.end(); ++it) {
               const std::string name = it->first.Scalar();
               auto values = StringList(Entry{it->first, it->second, f.path + "." + name}, true);
               if (!values) continue;
               for (std::string& v : *values) c.params.emplace_back(name, std::move(v));
             }
           }},
          {"static_configs",
           [&](const Entry& f) {
             if (f.value.IsNull()) return;
             if (!f.value.IsSequence()) {
               ErrorAt(f, "expected a list of {targets, labels}, got " + Describe(f.value));
               return;
             }
             size_t index = 0;
             for (auto it = f.value.begin(); it != f.value.end(); ++it, ++index) {
               const std::string p = f.path + "[" + std::to_string(index) + "]";
               if (!it->IsMap()) {
                 ErrorAt(it->IsNull() ? f.key : *it, p,
                         "expected a map with keys targets and labels, got " + Describe(*it));
                 continue;
               }
               scrape::StaticConfig sc;
               WalkMap(*it, p,
                       {
                           {"targets", [&](const Entry& g) { Set(sc.targets, StringList(g, false)); }},
                           {"labels", [&](const Entry& g) { Set(sc.labels, LabelMap(g)); }},
                       });
               c.static_configs.push_back(std::move(sc));
             }
           }},
          {"honor_labels", [&](const Entry& f) { Set(c.honor_labels, Bool(f)); }},
          {"honor_timestamps", [&](const Entry& f) { Set(c.honor_timestamps, Bool(f)); }},
          {"bearer_token",
           [&](const Entry& f) {
             bearer = f;
             Set(c.bearer_token, NonEmptyString(f));
           }},
          {"authorization",
           [&](const Entry& f) {
             authorization = f;
             std::string type = "Bearer";
             WalkSection(f, {
                                {"type", [&](const Entry& g) { Set(type, NonEmptyString(g)); }},
                                {"credentials",
                                 [&](const Entry& g) { Set(c.bearer_token, NonEmptyString(g)); }},
                            });
             if (type != "Bearer") {
               ErrorAt(f, "only type Bearer is supported (got " + Quote(type) + ")");
             }
           }},
          {"basic_auth",
           [&](const Entry& f) {
             scrape::BasicAuth auth;
             WalkSection(f, {
                                {"username", [&](const Entry& g) { Set(auth.username, NonEmptyString(g)); }},
                                {"password", [&](const Entry& g) {
                                   Set(auth.password, Scalar(g, "a string"));
                                 }},
                            });
             c.basic_auth = auth;
           }},
          {"sample_limit", limit(c.sample_limit)},
          {"label_limit", limit(c.label_limit)},
          {"label_name_length_limit", limit(c.label_name_length_limit)},
          {"label_value_length_limit", limit(c.label_value_length_limit)},
          {"body_size_limit", [&](const Entry& f) { Set(c.body_size_limit, Base2Bytes(f)); }},
          {"project", [&](const Entry& f) { Set(job.project, NonEmptyString(f)); }},
      });
  if (!has_name) ErrorAt(item, path, "missing required key 'job_name'");
  if (bearer && authorization) {
    ErrorAt(*bearer, "at most one of bearer_token and authorization may be set");
  }
  if (!has_timeout) {
    c.scrape_timeout_ms = std::min(global.scrape_timeout_ms, c.scrape_interval_ms);
  }
  if (ErrorCount() != errors_before) return std::nullopt;
  if (auto st = scrape::ValidateScrapeConfig(c); !st) {
    // The error's param is e.g. "scrape_configs[job=a].static_configs[0].targets[1]":
    // point at that key of this entry when it is there.
    const std::string& param = st.error().param;
    const size_t dot = param.find("].");
    std::string field = dot == std::string::npos ? "" : param.substr(dot + 2);
    const std::string key = field.substr(0, field.find_first_of(".["));
    if (!key.empty() && item[key]) {
      ErrorAt(item[key], path + "." + field, st.error().message);
    } else {
      ErrorAt(item, path, st.error().message);
    }
    return std::nullopt;
  }
  return job;
}

void Loader::ScrapeConfigs(const Entry& e, const GlobalConfig& global,
                           std::vector<ScrapeJobConfig>& jobs) {
  if (e.value.IsNull()) return;
  if (!e.value.IsSequence()) {
    ErrorAt(e, "expected a list of scrape configs, got " + Describe(e.value));
    return;
  }
  std::map<std::string, int> seen;  // job_name -> line
  size_t index = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it, ++index) {
    const std::string path = e.path + "[" + std::to_string(index) + "]";
    if (!it->IsMap()) {
      ErrorAt(it->IsNull() ? e.key : *it, path,
              "expected a map with job_name, static_configs, ..., got " + Describe(*it));
      continue;
    }
    std::optional<ScrapeJobConfig> job = ScrapeJob(*it, path, global);
    if (!job) continue;
    const int line = OneBased(it->Mark().line);
    auto [prev, inserted] = seen.emplace(job->scrape.job_name, line);
    if (!inserted) {
      ErrorAt(*it, path + ".job_name",
              "duplicate job_name " + Quote(job->scrape.job_name) + " (first on line " +
                  std::to_string(prev->second) + ")");
      continue;
    }
    jobs.push_back(std::move(*job));
  }
}

void Loader::Load(std::string_view text, Config& config) {
  std::optional<YAML::Node> document = LoadDocument(text);
  if (!document) return;  // empty, or only comments: all defaults
  const YAML::Node root = *document;
  std::optional<Entry> auth_entry;
  std::optional<Entry> scrape_entry;  // read after `global`, wherever that is
  if (!root.IsMap()) {
    ErrorAt(root, "",
            "the top level must be a map of sections (server, storage, limits, exposition, auth, "
            "billing, pricing), got " +
                Describe(root));
    return;
  }
  WalkMap(root, "",
          {
              {"server", [&](const Entry& e) { Server(e, config.server); }},
              {"storage", [&](const Entry& e) { Storage(e, config.storage); }},
              {"limits", [&](const Entry& e) { Limits(e, config.limits); }},
              {"exposition", [&](const Entry& e) { Exposition(e, config.exposition); }},
              {"auth", [&](const Entry& e) { auth_entry = e; Auth(e, config.auth); }},
              {"billing", [&](const Entry& e) { Billing(e, config.billing); }},
              {"pricing",
               [&](const Entry& e) {
                 WalkSection(e, {{"file", [&](const Entry& f) {
                                    Set(config.pricing.file, NonEmptyString(f));
                                  }}});
               }},
              {"global", [&](const Entry& e) { Global(e, config.global); }},
              {"scrape_configs", [&](const Entry& e) { scrape_entry = e; }},
              {"rule_files", [&](const Entry& e) { Set(config.rule_files, StringList(e, false)); }},
              {"rules",
               [&](const Entry& e) {
                 WalkSection(e, {{"project",
                                  [&](const Entry& f) {
                                    Set(config.rules.project, NonEmptyString(f));
                                  }},
                                 {"for_outage_tolerance",
                                  [&](const Entry& f) {
                                    Set(config.rules.for_outage_tolerance_ms, DurationMs(f, 0));
                                  }},
                                 {"for_grace_period", [&](const Entry& f) {
                                    Set(config.rules.for_grace_period_ms, DurationMs(f, 0));
                                  }}});
               }},
              {"anomalies", [&](const Entry& e) { Anomalies(e, config.anomalies); }},
          });
  if (scrape_entry) ScrapeConfigs(*scrape_entry, config.global, config.scrape_configs);
  // Cross-section check: the bootstrap tier must exist once tiers are known.
  if (FindTier(config.billing.tiers, config.auth.bootstrap_tier) == nullptr) {
    std::vector<std::string_view> names;
    for (const TierLimits& t : config.billing.tiers) names.push_back(t.name);
    AddError(auth_entry ? OneBased(auth_entry->key.Mark().line) : 0,
             auth_entry ? OneBased(auth_entry->key.Mark().column) : 0, "auth.bootstrap_tier",
             "unknown tier " + Quote(config.auth.bootstrap_tier) + " (tiers: " + Join(names) + ")");
  }
}

}  // namespace

LoadResult LoadConfigText(std::string_view yaml_text, const std::string& file_name) {
  LoadResult result;
  Loader loader(file_name);
  try {
    loader.Load(yaml_text, result.config);
  } catch (const YAML::Exception& e) {
    loader.AddExceptionError(e);
  } catch (const std::exception& e) {
    loader.AddError(0, 0, "", std::string("cannot load config: ") + e.what());
  }
  result.errors = loader.TakeErrors();
  if (!result.errors.empty()) result.config = Config{};
  return result;
}

LoadResult LoadConfigFile(const std::string& path) {
  std::string text, error;
  if (!yaml_util::ReadSmallFile(path, "config file", &text, &error)) {
    LoadResult result;
    result.errors.push_back(ConfigError{path, 0, 0, "", std::move(error)});
    return result;
  }
  LoadResult result = LoadConfigText(text, path);
  // rule_files are relative to the config file's directory (like Prometheus).
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (std::string& pattern : result.config.rule_files) {
    if (!pattern.empty() && pattern.front() != '/') pattern = (dir / pattern).lexically_normal().string();
  }
  return result;
}

}  // namespace config

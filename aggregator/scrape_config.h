// ScrapeConfig: one `scrape_configs` entry, the subset of Prometheus' own scrape
// config that tally supports (DESIGN.md section 5; docs/configuration.md), and
// the targets it names. Plain values; validation is a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/labels.h"
#include "core/status.h"

namespace scrape {

struct BasicAuth {
  std::string username;
  std::string password;
};

// One `static_configs` entry: addresses ("host:port") and labels for all of them.
struct StaticConfig {
  std::vector<std::string> targets;
  std::vector<core::Label> labels;
};

struct ScrapeConfig {
  std::string job_name;
  int64_t scrape_interval_ms = 60'000;
  int64_t scrape_timeout_ms = 10'000;  // must not exceed scrape_interval_ms
  std::string metrics_path = "/metrics";
  std::string scheme = "http";  // "http" or "https"
  // URL query parameters (a name may repeat), e.g. {"module", "http_2xx"}.
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<StaticConfig> static_configs;
  // true: labels of scraped series win over target labels (job, instance, ...);
  // false: a conflicting scraped label is renamed `exported_<name>`.
  bool honor_labels = false;
  // true: a timestamp in the body is kept; false: every sample gets the scrape time.
  bool honor_timestamps = true;
  // At most one of bearer_token and basic_auth.
  std::string bearer_token;
  std::optional<BasicAuth> basic_auth;
  // Limits; 0 means unlimited. Exceeding one fails the whole scrape (`up` 0).
  uint64_t sample_limit = 0;             // samples per scrape
  uint64_t label_limit = 0;              // labels per sample, including __name__ and target labels
  uint64_t label_name_length_limit = 0;  // bytes
  uint64_t label_value_length_limit = 0;  // bytes
  int64_t body_size_limit = 0;           // bytes of (uncompressed) body
};

// One target: its address and final target labels (job, instance, static labels;
// no `__` labels), sorted.
struct TargetSpec {
  std::string address;
  core::Labels labels;
};

// Checks one config: job_name set, interval > 0, 0 < timeout <= interval,
// metrics_path starting with '/', scheme http/https, no bearer token together
// with basic auth, valid label names, non-empty addresses without a scheme.
// The error names the field, e.g. "scrape_configs[job=node].scrape_timeout".
core::Status ValidateScrapeConfig(const ScrapeConfig& config);

// Checks every config and that job names are unique.
core::Status ValidateScrapeConfigs(const std::vector<ScrapeConfig>& configs);

// The targets of `config`, in order: labels are the static labels plus `job`
// (= job_name) and `instance` (= address) unless the static labels set them.
// A target listed twice with the same labels appears once.
std::vector<TargetSpec> TargetsOf(const ScrapeConfig& config);

// The URL scraped for `address`: scheme://address/metrics_path?params.
std::string ScrapeUrl(const ScrapeConfig& config, const std::string& address);

}  // namespace scrape

// Config: tally's configuration as plain structs. Every field has the default
// that `tally serve` uses with no file; config/tally.yaml documents each key.
// Modules receive the part they need by value; nothing here reads files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aggregator/scrape_config.h"

namespace config {

struct ServerConfig {
  std::string listen = "127.0.0.1:9470";  // host:port; port 0 picks a free port
  int num_threads = 64;                   // civetweb workers; >= keep-alive clients
  int64_t request_timeout_ms = 30'000;
  int64_t shutdown_grace_ms = 10'000;     // how long SIGTERM waits for in-flight requests
};

enum class FsyncPolicy { kAlways, kInterval, kNever };

struct StorageConfig {
  std::string dir = "data";                // data directory (WAL, snapshots, tally.db)
  int64_t retention_ms = 15LL * 86'400'000;  // raw samples older than this are dropped
  int64_t max_memory_bytes = 2LL << 30;      // above this, ingest answers 503
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  int64_t fsync_interval_ms = 1'000;         // with fsync: interval
  int64_t snapshot_interval_ms = 3'600'000;
};

struct LimitsConfig {
  int64_t max_body_bytes = 16LL << 20;      // 413 above
  int max_batch_points = 10'000;
  int max_series_per_metric = 10'000;       // 400 cardinality_limit above
  int max_tags_per_point = 32;
  int max_tag_key_length = 100;
  int max_tag_value_bytes = 1024;
  int max_name_length = 200;
  int64_t max_future_skew_ms = 10LL * 60'000;  // timestamps further ahead: 400
};

struct HistogramBuckets {
  std::string match;           // metric name glob ("api_*", "*_latency")
  std::vector<double> buckets; // upper bounds, strictly increasing; +Inf is implicit
};

struct ExpositionConfig {
  // Buckets for timing/distribution histograms; the first matching rule wins.
  std::vector<HistogramBuckets> histograms;
  // Used when no rule matches. Milliseconds-friendly defaults.
  std::vector<double> default_buckets = {1,   2.5, 5,    10,   25,   50,    100,
                                         250, 500, 1000, 2500, 5000, 10000};
  int64_t series_ttl_ms = 0;  // 0 = off; series not updated for this long leave /metrics
  bool include_project_label = true;
  // Label the event-derived tally_llm_* series with entity_id too (cardinality:
  // one series set per entity). Off by default.
  bool llm_entity_id_label = false;
};

// Limits of one account tier (API.md sections 1 and 4). Rate limits are
// requests per minute per project. 0 means unlimited, for every field.
struct TierLimits {
  std::string name;
  int64_t rate_limit_rpm = 60;
  int64_t ingest_rate_limit_rpm = 600;  // /v1/metrics/report|batch, /v1/events
  int64_t events_per_month = 100'000;
  int64_t retention_days = 7;
  int64_t max_members = 3;
  int64_t max_projects = 3;
  int64_t bandwidth_bytes_per_month = 1LL << 30;
};

std::vector<TierLimits> DefaultTiers();

struct BillingConfig {
  std::vector<TierLimits> tiers = DefaultTiers();  // merged by name with the file's
  std::string default_tier = "free";               // tier of accounts created without one
};

// The aggregator's defaults (Prometheus' `global:` section): what a scrape
// config or a rule group without its own interval uses.
struct GlobalConfig {
  int64_t scrape_interval_ms = 60'000;
  int64_t scrape_timeout_ms = 10'000;  // capped at a job's scrape_interval
  int64_t evaluation_interval_ms = 60'000;
};

// One `scrape_configs` entry: Prometheus' keys (scrape::ScrapeConfig, already
// validated) plus tally's `project`, the project whose store gets the samples.
struct ScrapeJobConfig {
  scrape::ScrapeConfig scrape;
  std::string project = "default";
};

// `rules:`: the project whose series the rules read and into which they write,
// and how alerts' `for` state is restored from ALERTS_FOR_STATE at start-up
// (Prometheus' --rules.alert.for-outage-tolerance / --rules.alert.for-grace-period).
struct RulesConfig {
  std::string project = "default";
  int64_t for_outage_tolerance_ms = 3'600'000;  // older ALERTS_FOR_STATE: not restored
  int64_t for_grace_period_ms = 600'000;        // a restored alert fires no sooner
};

struct AuthConfig {
  // false: no API keys; every request is project "default". Only for benchmarks
  // and trusted single-user setups; logged loudly at start.
  bool enabled = true;
  // Also require a key (scope metrics:read) for GET /metrics, /healthz, /readyz.
  bool protect_public_routes = false;
  // On the first start with an empty database: create an account, a project and
  // an admin key, printed once and written to <storage.dir>/admin.key (0600).
  bool bootstrap = true;
  std::string bootstrap_tier = "enterprise";
  // How long a validated key is trusted from memory before it is re-read from the
  // database (changes made by `tally keys ...` in another process show up within
  // this; changes through the API apply on the next request).
  int64_t key_cache_ttl_ms = 1'000;
  // Request and byte counters are written to the database this often.
  int64_t usage_flush_interval_ms = 10'000;
};

// The LLM price table (docs/pricing.md) that prices events sent without cost_usd.
struct PricingConfig {
  // Path of a prices.yaml (relative to the working directory). Empty: the copy
  // of config/prices.yaml built into the binary (config/embedded_prices.h).
  std::string file;
};

// `anomalies:` the scheduled anomaly detector (docs/configuration.md,
// rest/anomaly_detector.h). A bucket is an anomaly of a type when its value is
// at least min_ratio x the trailing 7-day baseline and the volume minimums
// hold; severity comes from the ratio.
struct AnomaliesConfig {
  bool enabled = true;
  int64_t interval_ms = 5 * 60'000;
  bool hourly = true;  // also compare each hour with the trailing 7 x 24 h
  double cost_min_ratio = 2.0;
  double usage_min_ratio = 2.0;
  double error_rate_min_ratio = 2.0;
  double latency_min_ratio = 2.0;
  // Per day; hourly buckets use 1/24 of them. Below: no cost/usage spike.
  double min_expected_cost_usd = 1.0;
  double min_expected_requests = 24;
  // Error-rate and latency spikes need this many requests (with a latency for
  // latency) in the bucket and in the baseline.
  int64_t min_bucket_requests = 20;
  double min_error_rate = 0.05;  // an error rate below this is never a spike
  // Severity by ratio: low below medium.
  double severity_medium = 3.0;
  double severity_high = 5.0;
  double severity_critical = 10.0;
};

struct Config {
  ServerConfig server;
  StorageConfig storage;
  LimitsConfig limits;
  ExpositionConfig exposition;
  AuthConfig auth;
  BillingConfig billing;
  // The aggregator (docs/aggregator.md). rule_files are glob patterns, made
  // absolute against the config file's directory by LoadConfigFile.
  GlobalConfig global;
  std::vector<ScrapeJobConfig> scrape_configs;
  std::vector<std::string> rule_files;
  RulesConfig rules;
  PricingConfig pricing;
  AnomaliesConfig anomalies;
};

// The tier named `name`, or nullptr.
const TierLimits* FindTier(const std::vector<TierLimits>& tiers, const std::string& name);

}  // namespace config

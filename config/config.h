// Config: tally's configuration as plain structs. Every field has the default
// that `tally serve` uses with no file; config/tally.yaml documents each key.
// Modules receive the part they need by value; nothing here reads files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
};

struct Config {
  ServerConfig server;
  StorageConfig storage;
  LimitsConfig limits;
  ExpositionConfig exposition;
};

}  // namespace config

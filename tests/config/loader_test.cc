#include "config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kSourceDir = TALLY_SOURCE_DIR;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string AllErrors(const LoadResult& r) {
  std::string out;
  for (const ConfigError& e : r.errors) out += "\n  " + e.ToString();
  return out;
}

// Compares every field, so a new field without a check here shows up in review.
void ExpectSameConfig(const Config& got, const Config& want) {
  EXPECT_EQ(got.server.listen, want.server.listen);
  EXPECT_EQ(got.server.num_threads, want.server.num_threads);
  EXPECT_EQ(got.server.request_timeout_ms, want.server.request_timeout_ms);
  EXPECT_EQ(got.server.shutdown_grace_ms, want.server.shutdown_grace_ms);

  EXPECT_EQ(got.storage.dir, want.storage.dir);
  EXPECT_EQ(got.storage.retention_ms, want.storage.retention_ms);
  EXPECT_EQ(got.storage.max_memory_bytes, want.storage.max_memory_bytes);
  EXPECT_EQ(got.storage.fsync, want.storage.fsync);
  EXPECT_EQ(got.storage.fsync_interval_ms, want.storage.fsync_interval_ms);
  EXPECT_EQ(got.storage.snapshot_interval_ms, want.storage.snapshot_interval_ms);

  EXPECT_EQ(got.limits.max_body_bytes, want.limits.max_body_bytes);
  EXPECT_EQ(got.limits.max_batch_points, want.limits.max_batch_points);
  EXPECT_EQ(got.limits.max_series_per_metric, want.limits.max_series_per_metric);
  EXPECT_EQ(got.limits.max_tags_per_point, want.limits.max_tags_per_point);
  EXPECT_EQ(got.limits.max_tag_key_length, want.limits.max_tag_key_length);
  EXPECT_EQ(got.limits.max_tag_value_bytes, want.limits.max_tag_value_bytes);
  EXPECT_EQ(got.limits.max_name_length, want.limits.max_name_length);
  EXPECT_EQ(got.limits.max_future_skew_ms, want.limits.max_future_skew_ms);

  ASSERT_EQ(got.exposition.histograms.size(), want.exposition.histograms.size());
  for (size_t i = 0; i < got.exposition.histograms.size(); ++i) {
    EXPECT_EQ(got.exposition.histograms[i].match, want.exposition.histograms[i].match);
    EXPECT_EQ(got.exposition.histograms[i].buckets, want.exposition.histograms[i].buckets);
  }
  EXPECT_EQ(got.exposition.default_buckets, want.exposition.default_buckets);
  EXPECT_EQ(got.exposition.series_ttl_ms, want.exposition.series_ttl_ms);
  EXPECT_EQ(got.exposition.include_project_label, want.exposition.include_project_label);

  EXPECT_EQ(got.auth.enabled, want.auth.enabled);
  EXPECT_EQ(got.auth.protect_public_routes, want.auth.protect_public_routes);
  EXPECT_EQ(got.auth.bootstrap, want.auth.bootstrap);
  EXPECT_EQ(got.auth.bootstrap_tier, want.auth.bootstrap_tier);
  EXPECT_EQ(got.auth.key_cache_ttl_ms, want.auth.key_cache_ttl_ms);
  EXPECT_EQ(got.auth.usage_flush_interval_ms, want.auth.usage_flush_interval_ms);

  EXPECT_EQ(got.billing.default_tier, want.billing.default_tier);
  EXPECT_EQ(got.global.scrape_interval_ms, want.global.scrape_interval_ms);
  EXPECT_EQ(got.global.scrape_timeout_ms, want.global.scrape_timeout_ms);
  EXPECT_EQ(got.global.evaluation_interval_ms, want.global.evaluation_interval_ms);
  EXPECT_EQ(got.scrape_configs.size(), want.scrape_configs.size());
  EXPECT_EQ(got.rule_files, want.rule_files);
  EXPECT_EQ(got.rules.project, want.rules.project);
  ASSERT_EQ(got.billing.tiers.size(), want.billing.tiers.size());
  for (size_t i = 0; i < got.billing.tiers.size(); ++i) {
    const TierLimits& g = got.billing.tiers[i];
    const TierLimits& w = want.billing.tiers[i];
    SCOPED_TRACE(w.name);
    EXPECT_EQ(g.name, w.name);
    EXPECT_EQ(g.rate_limit_rpm, w.rate_limit_rpm);
    EXPECT_EQ(g.ingest_rate_limit_rpm, w.ingest_rate_limit_rpm);
    EXPECT_EQ(g.events_per_month, w.events_per_month);
    EXPECT_EQ(g.retention_days, w.retention_days);
    EXPECT_EQ(g.max_members, w.max_members);
    EXPECT_EQ(g.max_projects, w.max_projects);
    EXPECT_EQ(g.bandwidth_bytes_per_month, w.bandwidth_bytes_per_month);
  }
}

// ---------------------------------------------------------------------------
// ConfigError::ToString

TEST(ConfigErrorTest, ToStringFormats) {
  EXPECT_EQ((ConfigError{"tally.yaml", 12, 3, "storage.retension", "unknown key"}).ToString(),
            "tally.yaml:12:3: storage.retension: unknown key");
  EXPECT_EQ((ConfigError{"tally.yaml", 12, 0, "a.b", "bad"}).ToString(), "tally.yaml:12: a.b: bad");
  EXPECT_EQ((ConfigError{"tally.yaml", 0, 0, "a.b", "bad"}).ToString(), "tally.yaml: a.b: bad");
  EXPECT_EQ((ConfigError{"tally.yaml", 4, 1, "", "bad"}).ToString(), "tally.yaml:4:1: bad");
  EXPECT_EQ((ConfigError{"", 4, 1, "x", "bad"}).ToString(), "4:1: x: bad");
  EXPECT_EQ((ConfigError{"", 0, 0, "", "bad"}).ToString(), "bad");
}

// ---------------------------------------------------------------------------
// Good input

struct GoodCase {
  std::string name;
  std::string yaml;
  std::function<void(Config&)> expect;  // edits a default Config into the expected one
};

TEST(LoadConfigTextTest, GoodCases) {
  const std::vector<GoodCase> cases = {
      {"empty text", "", [](Config&) {}},
      {"only comments", "# nothing here\n   # indented comment\n", [](Config&) {}},
      {"only whitespace", "\n\n   \n", [](Config&) {}},
      {"explicit empty document", "---\n", [](Config&) {}},
      {"empty document with end marker", "---\n...\n", [](Config&) {}},
      {"empty sections keep defaults", "server:\nstorage:\nlimits:\nexposition:\n", [](Config&) {}},
      {"empty flow map section", "server: {}\n", [](Config&) {}},
      {"server",
       "server:\n  listen: 0.0.0.0:8080\n  num_threads: 8\n  request_timeout: 5s\n"
       "  shutdown_grace: 0\n",
       [](Config& c) {
         c.server.listen = "0.0.0.0:8080";
         c.server.num_threads = 8;
         c.server.request_timeout_ms = 5000;
         c.server.shutdown_grace_ms = 0;
       }},
      {"ipv6 listen and port 0", "server: {listen: \"[::1]:0\"}",
       [](Config& c) { c.server.listen = "[::1]:0"; }},
      {"hostname listen", "server: {listen: localhost:65535}",
       [](Config& c) { c.server.listen = "localhost:65535"; }},
      {"thread bounds", "server: {num_threads: 1024}",
       [](Config& c) { c.server.num_threads = 1024; }},
      {"explicit plus sign", "server: {num_threads: +3}",
       [](Config& c) { c.server.num_threads = 3; }},
      {"storage",
       "storage:\n  dir: /var/lib/tally\n  retention: 1h30m\n  max_memory: 512MiB\n"
       "  fsync: interval\n  fsync_interval: 250ms\n  snapshot_interval: 1d\n",
       [](Config& c) {
         c.storage.dir = "/var/lib/tally";
         c.storage.retention_ms = 90 * 60'000;
         c.storage.max_memory_bytes = 512LL << 20;
         c.storage.fsync = FsyncPolicy::kInterval;
         c.storage.fsync_interval_ms = 250;
         c.storage.snapshot_interval_ms = 86'400'000;
       }},
      {"fsync never", "storage: {fsync: never}",
       [](Config& c) { c.storage.fsync = FsyncPolicy::kNever; }},
      {"quoted enum", "storage: {fsync: \"always\"}", [](Config&) {}},
      {"quoted duration", "storage: {retention: \"2w\"}",
       [](Config& c) { c.storage.retention_ms = 14LL * 86'400'000; }},
      {"byte size as plain integer", "storage: {max_memory: 1048576}",
       [](Config& c) { c.storage.max_memory_bytes = 1 << 20; }},
      {"byte size decimal units", "storage: {max_memory: 3GB}\nlimits: {max_body_bytes: 500KB}",
       [](Config& c) {
         c.storage.max_memory_bytes = 3'000'000'000;
         c.limits.max_body_bytes = 500'000;
       }},
      {"byte size with space and TiB", "storage: {max_memory: 1 TiB}",
       [](Config& c) { c.storage.max_memory_bytes = 1LL << 40; }},
      {"byte size B and MB", "limits: {max_body_bytes: 100B}\nstorage: {max_memory: 2MB}",
       [](Config& c) {
         c.limits.max_body_bytes = 100;
         c.storage.max_memory_bytes = 2'000'000;
       }},
      {"byte size KiB", "limits: {max_body_bytes: 64KiB}",
       [](Config& c) { c.limits.max_body_bytes = 64 * 1024; }},
      {"limits",
       "limits:\n  max_body_bytes: 1GiB\n  max_batch_points: 1\n  max_series_per_metric: 2\n"
       "  max_tags_per_point: 3\n  max_tag_key_length: 4\n  max_tag_value_bytes: 5\n"
       "  max_name_length: 6\n  max_future_skew: 0\n",
       [](Config& c) {
         c.limits.max_body_bytes = 1LL << 30;
         c.limits.max_batch_points = 1;
         c.limits.max_series_per_metric = 2;
         c.limits.max_tags_per_point = 3;
         c.limits.max_tag_key_length = 4;
         c.limits.max_tag_value_bytes = 5;
         c.limits.max_name_length = 6;
         c.limits.max_future_skew_ms = 0;
       }},
      {"int max", "limits: {max_batch_points: 2147483647}",
       [](Config& c) { c.limits.max_batch_points = 2147483647; }},
      {"exposition",
       "exposition:\n"
       "  histograms:\n"
       "    - match: \"api_*\"\n"
       "      buckets: [5, 10, 25.5]\n"
       "    - {match: '*_bytes', buckets: [-1, 0, 1e3]}\n"
       "  default_buckets:\n    - 0.1\n    - 1\n"
       "  series_ttl: 1h\n"
       "  include_project_label: false\n",
       [](Config& c) {
         c.exposition.histograms = {{"api_*", {5, 10, 25.5}}, {"*_bytes", {-1, 0, 1000}}};
         c.exposition.default_buckets = {0.1, 1};
         c.exposition.series_ttl_ms = 3'600'000;
         c.exposition.include_project_label = false;
       }},
      {"single bucket", "exposition: {default_buckets: [42]}",
       [](Config& c) { c.exposition.default_buckets = {42}; }},
      {"bool spellings", "exposition: {include_project_label: False}",
       [](Config& c) { c.exposition.include_project_label = false; }},
      {"empty histogram list", "exposition: {histograms: []}", [](Config&) {}},
      {"anchors and aliases",
       "exposition:\n  default_buckets: &b [1, 2, 3]\n  histograms:\n"
       "    - {match: x, buckets: *b}\n",
       [](Config& c) {
         c.exposition.default_buckets = {1, 2, 3};
         c.exposition.histograms = {{"x", {1, 2, 3}}};
       }},
      {"CRLF line endings", "server:\r\n  num_threads: 2\r\n",
       [](Config& c) { c.server.num_threads = 2; }},
      {"auth settings", "auth: {enabled: false, key_cache_ttl: 0s, bootstrap_tier: pro}",
       [](Config& c) {
         c.auth.enabled = false;
         c.auth.key_cache_ttl_ms = 0;
         c.auth.bootstrap_tier = "pro";
       }},
      {"tier override merges by field",
       "billing:\n  tiers:\n    free: {rate_limit_rpm: 5}\n",
       [](Config& c) { c.billing.tiers[0].rate_limit_rpm = 5; }},
      {"new tier starts from free limits",
       "billing:\n  default_tier: gold\n  tiers:\n    gold: {rate_limit_rpm: 7, "
       "bandwidth_per_month: 2GiB}\n",
       [](Config& c) {
         config::TierLimits gold;
         gold.name = "gold";
         gold.rate_limit_rpm = 7;
         gold.bandwidth_bytes_per_month = 2LL << 30;
         c.billing.tiers.push_back(gold);
         c.billing.default_tier = "gold";
       }},
  };
  for (const GoodCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    LoadResult r = LoadConfigText(tc.yaml, "t.yaml");
    ASSERT_TRUE(r.ok()) << AllErrors(r);
    Config want;
    tc.expect(want);
    ExpectSameConfig(r.config, want);
  }
}

// ---------------------------------------------------------------------------
// Bad input: exactly one error, at a known place.

struct BadCase {
  std::string name;
  std::string yaml;
  std::string key_path;
  int line;
  int column;
  std::string message;  // substring of the message
};

TEST(LoadConfigTextTest, BadCases) {
  const std::vector<BadCase> cases = {
      // Structure.
      {"root is a list", "- a\n- b\n", "", 1, 1, "top level must be a map"},
      {"root is a scalar", "hello\n", "", 1, 1, "top level must be a map"},
      {"yaml syntax error", "server:\n  listen: [1, 2\n", "", 3, 1, "invalid YAML"},
      {"tab indentation", "server:\n\tlisten: x\n", "", 2, 8, "invalid YAML"},
      {"two documents", "server: {}\n---\nstorage: {}\n", "", 2, 1, "2 YAML documents"},
      // yaml-cpp 0.7's LoadAll loops forever on these; the loader must not.
      {"stray comma", ",", "", 1, 1, "invalid YAML: unexpected ','"},
      {"stray comma after a document", "server: {}\n...\n, x\n", "", 3, 1,
       "invalid YAML: unexpected ','"},
      {"unknown section", "server: {}\nstorge:\n  dir: x\n", "storge", 2, 1,
       "unknown key (did you mean 'storage'? known keys: server, storage, limits, exposition, auth, billing, pricing, global, scrape_configs, rule_files, rules, anomalies)"},
      {"unknown default tier", "billing:\n  default_tier: platinum\n", "billing.default_tier", 2,
       17, "unknown tier 'platinum' (tiers: free, standard, growth, pro, scale, enterprise)"},
      {"unknown bootstrap tier", "auth:\n  bootstrap_tier: x\n", "auth.bootstrap_tier", 1, 1,
       "unknown tier 'x'"},
      {"negative rate limit", "billing:\n  tiers:\n    free: {rate_limit_rpm: -1}\n",
       "billing.tiers.free.rate_limit_rpm", 3, 28, "must be at least 0 (got -1)"},
      {"unknown tier field", "billing:\n  tiers:\n    free: {rpm: 1}\n",
       "billing.tiers.free.rpm", 3, 12, "unknown key"},
      {"tiers not a map", "billing:\n  tiers: [free]\n", "billing.tiers", 2, 10,
       "expected a map of tier name to limits"},
      {"unknown key", "storage:\n  dir: x\n  retension: 1d\n", "storage.retension", 3, 3,
       "unknown key (did you mean 'retention'? known keys: dir, retention, max_memory, fsync, "
       "fsync_interval, snapshot_interval)"},
      {"unknown key without suggestion", "server:\n  zzzzzzzzzz: 1\n", "server.zzzzzzzzzz", 2, 3,
       "unknown key (known keys: listen, num_threads, request_timeout, shutdown_grace)"},
      {"duplicate key", "server:\n  num_threads: 2\n  num_threads: 3\n", "server.num_threads", 3, 3,
       "duplicate key (first set on line 2)"},
      {"duplicate section", "server: {}\nserver: {}\n", "server", 2, 1, "duplicate key"},
      {"non-scalar key", "server:\n  [a]: 1\n", "server", 2, 3, "keys must be plain strings"},
      {"section is a list", "server:\n  - listen\n", "server", 2, 3,
       "expected a map of settings, got a list"},
      {"section is a scalar", "limits: 5\n", "limits", 1, 9, "expected a map of settings"},
      // Integers.
      {"int is text", "server:\n  num_threads: many\n", "server.num_threads", 2, 16,
       "expected an integer, got 'many'"},
      {"int is quoted", "server:\n  num_threads: \"8\"\n", "server.num_threads", 2, 16,
       "expected an integer, got the string '8'"},
      {"int is float", "server: {num_threads: 1.5}", "server.num_threads", 1, 23,
       "expected an integer"},
      {"int is hex", "server: {num_threads: 0x10}", "server.num_threads", 1, 23,
       "expected an integer"},
      {"int is a map", "server:\n  num_threads: {a: 1}\n", "server.num_threads", 2, 16,
       "expected an integer, got a map"},
      {"int is a list", "server:\n  num_threads: [1]\n", "server.num_threads", 2, 16,
       "expected an integer, got a list"},
      {"int is empty", "server:\n  num_threads:\n", "server.num_threads", 2, 3,
       "missing value (expected an integer)"},
      {"int is null", "server:\n  num_threads: ~\n", "server.num_threads", 2, 3, "missing value"},
      {"threads zero", "server: {num_threads: 0}", "server.num_threads", 1, 23,
       "must be between 1 and 1024 (got 0)"},
      {"threads too many", "server: {num_threads: 1025}", "server.num_threads", 1, 23,
       "must be between 1 and 1024 (got 1025)"},
      {"negative limit", "limits:\n  max_tags_per_point: -1\n", "limits.max_tags_per_point", 2, 23,
       "must be a positive integer up to 2147483647 (got -1)"},
      {"zero limit", "limits: {max_name_length: 0}", "limits.max_name_length", 1, 27,
       "must be a positive integer"},
      {"int above int range", "limits: {max_batch_points: 3000000000}", "limits.max_batch_points",
       1, 28, "must be a positive integer up to 2147483647"},
      {"int above int64 range", "limits: {max_batch_points: 99999999999999999999}",
       "limits.max_batch_points", 1, 28, "must be a positive integer up to 2147483647"},
      // Durations.
      {"duration without unit", "server:\n  request_timeout: 30\n", "server.request_timeout", 2, 20,
       "needs a unit"},
      {"duration bad unit", "storage: {retention: 5x}", "storage.retention", 1, 22,
       "invalid duration unit"},
      {"duration negative", "storage: {retention: -5m}", "storage.retention", 1, 22,
       "invalid duration"},
      {"duration zero where positive needed", "storage: {retention: 0}", "storage.retention", 1, 22,
       "must be a positive duration"},
      {"duration zero interval", "storage: {fsync_interval: 0s}", "storage.fsync_interval", 1, 27,
       "must be a positive duration"},
      {"duration is a list", "exposition: {series_ttl: [1s]}", "exposition.series_ttl", 1, 26,
       "expected a duration such as 30s, 5m or 1h30m, got a list"},
      {"duration is empty", "limits:\n  max_future_skew:\n", "limits.max_future_skew", 2, 3,
       "missing value"},
      // Byte sizes.
      {"bytes bad unit", "storage: {max_memory: 16 mb}", "storage.max_memory", 1, 23,
       "invalid byte size '16 mb' (use a number of bytes, or a number with a unit"},
      {"bytes negative", "storage: {max_memory: -1}", "storage.max_memory", 1, 23,
       "invalid byte size"},
      {"bytes fraction", "storage: {max_memory: 1.5GiB}", "storage.max_memory", 1, 23,
       "invalid byte size"},
      {"memory below minimum", "storage: {max_memory: 100KB}", "storage.max_memory", 1, 23,
       "must be at least 1MiB (got 100KB)"},
      {"bytes overflow", "storage: {max_memory: 99999999999TiB}", "storage.max_memory", 1, 23,
       "must be at least 1MiB"},
      {"body above maximum", "limits: {max_body_bytes: 2GiB}", "limits.max_body_bytes", 1, 26,
       "must be between 1 bytes and 1GiB (got 2GiB)"},
      {"body zero", "limits: {max_body_bytes: 0}", "limits.max_body_bytes", 1, 26,
       "must be between 1 bytes and 1GiB"},
      // Strings, enums, bools.
      {"listen without port", "server: {listen: localhost}", "server.listen", 1, 18,
       "invalid listen address 'localhost' (expected host:port"},
      {"listen port only", "server: {listen: 9470}", "server.listen", 1, 18,
       "invalid listen address"},
      {"listen empty host", "server: {listen: \":9470\"}", "server.listen", 1, 18,
       "invalid listen address"},
      {"listen port too big", "server: {listen: \"h:65536\"}", "server.listen", 1, 18,
       "invalid listen address"},
      {"listen bare ipv6", "server: {listen: \"::1:9470\"}", "server.listen", 1, 18,
       "invalid listen address"},
      {"listen is a map", "server:\n  listen:\n    host: x\n", "server.listen", 3, 5,
       "expected host:port"},
      {"empty dir", "storage: {dir: \"\"}", "storage.dir", 1, 16, "must not be empty"},
      {"bad enum", "storage:\n  fsync: sometimes\n", "storage.fsync", 2, 10,
       "invalid value 'sometimes' (allowed: always, interval, never)"},
      {"bool yes", "exposition: {include_project_label: yes}", "exposition.include_project_label",
       1, 37, "expected true or false, got 'yes'"},
      {"bool quoted", "exposition: {include_project_label: \"true\"}",
       "exposition.include_project_label", 1, 37, "got the string 'true'"},
      // Buckets and histogram rules.
      {"buckets not increasing", "exposition:\n  default_buckets: [1, 5, 5]\n",
       "exposition.default_buckets[2]", 2, 27,
       "buckets must be strictly increasing (5 does not exceed the previous bound 5)"},
      {"buckets decreasing", "exposition:\n  default_buckets:\n    - 10\n    - 2\n",
       "exposition.default_buckets[1]", 4, 7, "strictly increasing"},
      {"bucket infinite", "exposition: {default_buckets: [1, .inf]}",
       "exposition.default_buckets[1]", 1, 35, "must be a finite number"},
      {"bucket nan", "exposition: {default_buckets: [.nan]}", "exposition.default_buckets[0]", 1,
       32, "must be a finite number"},
      {"bucket overflow", "exposition: {default_buckets: [1e999]}", "exposition.default_buckets[0]",
       1, 32, "must be a finite number"},
      {"bucket text", "exposition: {default_buckets: [1, fast]}", "exposition.default_buckets[1]",
       1, 35, "expected a number, got 'fast'"},
      {"bucket quoted", "exposition: {default_buckets: [\"1\"]}", "exposition.default_buckets[0]",
       1, 32, "expected a number, got the string '1'"},
      {"buckets empty", "exposition: {default_buckets: []}", "exposition.default_buckets", 1, 31,
       "needs at least one bucket"},
      {"buckets is a map", "exposition:\n  default_buckets: {a: 1}\n", "exposition.default_buckets",
       2, 20, "expected a list of bucket upper bounds"},
      {"histograms is a map", "exposition:\n  histograms:\n    match: x\n", "exposition.histograms",
       3, 5, "expected a list of {match, buckets} rules, got a map"},
      {"histogram rule is a scalar", "exposition:\n  histograms:\n    - api_*\n",
       "exposition.histograms[0]", 3, 7, "expected a map with keys match and buckets"},
      {"histogram rule missing match", "exposition:\n  histograms:\n    - buckets: [1]\n",
       "exposition.histograms[0]", 3, 7, "missing required key 'match'"},
      {"histogram rule missing buckets",
       "exposition:\n  histograms:\n    - match: a\n      buckets: [1]\n    - match: b\n",
       "exposition.histograms[1]", 5, 7, "missing required key 'buckets'"},
      {"histogram rule unknown key",
       "exposition:\n  histograms:\n    - match: a\n      bucket: [1]\n      buckets: [1]\n",
       "exposition.histograms[0].bucket", 4, 7,
       "unknown key (did you mean 'buckets'? known keys: match, buckets)"},
      {"histogram rule bad bucket",
       "exposition:\n  histograms:\n    - {match: a, buckets: [1]}\n"
       "    - {match: b, buckets: [1, 2, 0]}\n",
       "exposition.histograms[1].buckets[2]", 4, 34, "strictly increasing"},
      {"histogram rule empty match",
       "exposition:\n  histograms:\n    - {match: '', buckets: [1]}\n",
       "exposition.histograms[0].match", 3, 15, "must not be empty"},
  };
  for (const BadCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    LoadResult r = LoadConfigText(tc.yaml, "t.yaml");
    ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
    const ConfigError& e = r.errors[0];
    EXPECT_EQ(e.file, "t.yaml");
    EXPECT_EQ(e.key_path, tc.key_path) << e.ToString();
    EXPECT_EQ(e.line, tc.line) << e.ToString();
    EXPECT_EQ(e.column, tc.column) << e.ToString();
    EXPECT_THAT(e.message, HasSubstr(tc.message)) << e.ToString();
  }
}

TEST(LoadConfigTextTest, ErrorToStringNamesFileLineColumnAndKey) {
  LoadResult r = LoadConfigText(
      "server:\n  listen: 127.0.0.1:9470\n\nstorage:\n  dir: data\n  retension: 30d\n",
      "tally.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].ToString(),
              HasSubstr("tally.yaml:6:3: storage.retension: unknown key (did you mean "
                        "'retention'? known keys: dir, retention, max_memory, "));
}

TEST(LoadConfigTextTest, ReportsAllErrorsAtOnce) {
  const char* yaml =
      "server:\n"
      "  num_threads: 0\n"       // 2
      "  request_timeout: 30\n"  // 3
      "storage:\n"
      "  fsync: sometimes\n"  // 5
      "  max_memory: 1KB\n"   // 6
      "limits:\n"
      "  max_tags: 3\n"  // 8
      "exposition:\n"
      "  default_buckets: [3, 2, x]\n"  // 10: two errors
      "  include_project_label: 1\n"    // 11
      "bogus: true\n";                  // 12
  LoadResult r = LoadConfigText(yaml, "multi.yaml");
  std::vector<std::string> paths;
  std::vector<int> lines;
  for (const ConfigError& e : r.errors) {
    paths.push_back(e.key_path);
    lines.push_back(e.line);
  }
  EXPECT_THAT(paths, ElementsAre("server.num_threads", "server.request_timeout", "storage.fsync",
                                 "storage.max_memory", "limits.max_tags",
                                 "exposition.default_buckets[1]", "exposition.default_buckets[2]",
                                 "exposition.include_project_label", "bogus"))
      << AllErrors(r);
  EXPECT_THAT(lines, ElementsAre(2, 3, 5, 6, 8, 10, 10, 11, 12));
}

TEST(LoadConfigTextTest, ErrorsInEveryHistogramRuleAreReported) {
  LoadResult r = LoadConfigText(
      "exposition:\n  histograms:\n    - {match: a}\n    - {buckets: [2, 1]}\n    - 7\n", "h.yaml");
  ASSERT_EQ(r.errors.size(), 4u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].key_path, "exposition.histograms[0]");
  EXPECT_THAT(r.errors[0].message, HasSubstr("'buckets'"));
  EXPECT_EQ(r.errors[1].key_path, "exposition.histograms[1].buckets[1]");
  EXPECT_EQ(r.errors[2].key_path, "exposition.histograms[1]");
  EXPECT_THAT(r.errors[2].message, HasSubstr("'match'"));
  EXPECT_EQ(r.errors[3].key_path, "exposition.histograms[2]");
  EXPECT_EQ(r.errors[3].line, 5);
}

TEST(LoadConfigTextTest, ErrorsGiveBackDefaultConfig) {
  LoadResult r = LoadConfigText("server:\n  num_threads: 4\n  listen: nope\n", "t.yaml");
  ASSERT_FALSE(r.ok());
  ExpectSameConfig(r.config, Config{});
}

TEST(LoadConfigTextTest, ManyErrorsAreCapped) {
  std::string yaml = "exposition:\n  default_buckets: [";
  for (int i = 0; i < 500; ++i) yaml += "x, ";
  yaml += "x]\n";
  LoadResult r = LoadConfigText(yaml, "t.yaml");
  ASSERT_EQ(r.errors.size(), 101u);
  EXPECT_EQ(r.errors.back().message, "401 more errors not shown");
}

TEST(LoadConfigTextTest, DeepNestingIsAnErrorNotACrash) {
  std::string yaml = "server: " + std::string(100'000, '[') + "\n";
  LoadResult r = LoadConfigText(yaml, "deep.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.errors[0].message, HasSubstr("invalid YAML"));
}

TEST(LoadConfigTextTest, BinaryGarbageIsAnError) {
  const std::string yaml("\0\xff\xfe{[\"\0", 8);
  LoadResult r = LoadConfigText(yaml, "bin.yaml");
  EXPECT_FALSE(r.ok());
}

// ---------------------------------------------------------------------------
// Files

TEST(LoadConfigFileTest, MissingFileIsAnError) {
  LoadResult r = LoadConfigFile("/nonexistent/dir/tally.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "/nonexistent/dir/tally.yaml");
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_THAT(r.errors[0].message, HasSubstr("No such file or directory"));
  EXPECT_THAT(r.errors[0].ToString(),
              HasSubstr("/nonexistent/dir/tally.yaml: cannot open config file: "));
}

TEST(LoadConfigFileTest, DirectoryIsAnError) {
  LoadResult r = LoadConfigFile(kSourceDir + "/config");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("Is a directory"));
}

TEST(LoadConfigFileTest, ErrorsNameTheFile) {
  const std::string path = kSourceDir + "/tests/testdata/config/unknown_key.bad.yaml";
  LoadResult r = LoadConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].file, path);
}

// The shipped annotated default must equal the built-in defaults exactly.
TEST(ShippedConfigTest, DefaultFileMatchesStructDefaults) {
  LoadResult r = LoadConfigFile(kSourceDir + "/config/tally.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  ExpectSameConfig(r.config, Config{});
}

// ... and must spell out every key, so it documents all of them.
TEST(ShippedConfigTest, DefaultFileSetsEveryKey) {
  const std::set<std::string> want = {
      "server.listen",
      "server.num_threads",
      "server.request_timeout",
      "server.shutdown_grace",
      "storage.dir",
      "storage.retention",
      "storage.max_memory",
      "storage.fsync",
      "storage.fsync_interval",
      "storage.snapshot_interval",
      "limits.max_body_bytes",
      "limits.max_batch_points",
      "limits.max_series_per_metric",
      "limits.max_tags_per_point",
      "limits.max_tag_key_length",
      "limits.max_tag_value_bytes",
      "limits.max_name_length",
      "limits.max_future_skew",
      "exposition.histograms",
      "exposition.default_buckets",
      "exposition.series_ttl",
      "exposition.include_project_label",
      "exposition.llm_entity_id_label",
      "anomalies.enabled",
      "anomalies.interval",
      "anomalies.hourly",
      "anomalies.min_ratio",
      "anomalies.min_expected_cost_usd",
      "anomalies.min_expected_requests",
      "anomalies.min_bucket_requests",
      "anomalies.min_error_rate",
      "anomalies.severity",
      "auth.enabled",
      "auth.protect_public_routes",
      "auth.bootstrap",
      "auth.bootstrap_tier",
      "auth.key_cache_ttl",
      "auth.usage_flush_interval",
      "billing.default_tier",
      "billing.tiers",
      "global.scrape_interval",
      "global.scrape_timeout",
      "global.evaluation_interval",
      "rules.project",
  };
  std::istringstream in(ReadFile(kSourceDir + "/config/tally.yaml"));
  std::set<std::string> got;
  std::string section, line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (line[0] != ' ') {
      section = line.substr(0, colon);
    } else if (line.compare(0, 2, "  ") == 0 && line[2] != ' ' && line[2] != '#') {
      got.insert(section + "." + line.substr(2, colon - 2));
    }
  }
  EXPECT_EQ(got, want);
}

// ---------------------------------------------------------------------------
// Fixtures: tests/testdata/config/*.good.yaml load clean; *.bad.yaml fail, and
// each "# expect: TEXT" line in a bad file must appear in some error line.

std::vector<std::filesystem::path> Fixtures(const std::string& suffix) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry :
       std::filesystem::directory_iterator(kSourceDir + "/tests/testdata/config")) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() && name.ends_with(suffix)) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FixturesTest, GoodFilesLoadClean) {
  std::vector<std::filesystem::path> files = Fixtures(".good.yaml");
  ASSERT_GE(files.size(), 3u);
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    LoadResult r = LoadConfigFile(path.string());
    EXPECT_TRUE(r.ok()) << AllErrors(r);
  }
}

TEST(FixturesTest, BadFilesReportTheirErrors) {
  std::vector<std::filesystem::path> files = Fixtures(".bad.yaml");
  ASSERT_GE(files.size(), 3u);
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    LoadResult r = LoadConfigFile(path.string());
    ASSERT_FALSE(r.ok());
    std::vector<std::string> lines;
    for (const ConfigError& e : r.errors) {
      EXPECT_EQ(e.file, path.string());
      // Relative to the file, so expectations need no absolute path.
      ConfigError relative = e;
      relative.file = path.filename().string();
      lines.push_back(relative.ToString());
    }
    std::istringstream in(ReadFile(path));
    std::string line;
    int expectations = 0;
    constexpr std::string_view kExpect = "# expect: ";
    while (std::getline(in, line)) {
      if (!line.starts_with(kExpect)) continue;
      ++expectations;
      std::string want = line.substr(kExpect.size());
      EXPECT_TRUE(std::any_of(lines.begin(), lines.end(),
                              [&](const std::string& l) { return l.find(want) != l.npos; }))
          << "missing error: " << want << "\ngot:" << AllErrors(r);
    }
    EXPECT_GT(expectations, 0) << "a bad fixture should say which errors it expects";
    EXPECT_EQ(static_cast<int>(r.errors.size()), expectations) << AllErrors(r);
  }
}


// ---- the aggregator's sections (scrape_configs, global, rule_files, rules) ----

TEST(ScrapeConfigsTest, FullJobWithGlobalDefaults) {
  LoadResult r = LoadConfigText(R"(
scrape_configs:
  - job_name: node
    metrics_path: /m
    scheme: https
    params: {module: [a, b]}
    static_configs:
      - targets: ['h1:9100', 'h2:9100']
        labels: {env: prod}
    honor_labels: true
    honor_timestamps: false
    authorization: {credentials: tok}
    sample_limit: 100
    label_limit: 30
    label_name_length_limit: 40
    label_value_length_limit: 50
    body_size_limit: 10MB
    project: other
  - job_name: fast
    scrape_interval: 5s
    basic_auth: {username: u, password: p}
    static_configs: [{targets: ['h3:1']}]
global:
  scrape_interval: 30s
  scrape_timeout: 20s
  evaluation_interval: 15s
rule_files: ['rules/*.yml']
rules: {project: other}
)", "t.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const Config& c = r.config;
  EXPECT_EQ(c.global.scrape_interval_ms, 30'000);
  EXPECT_EQ(c.global.evaluation_interval_ms, 15'000);
  ASSERT_EQ(c.scrape_configs.size(), 2u);
  const scrape::ScrapeConfig& node = c.scrape_configs[0].scrape;
  EXPECT_EQ(c.scrape_configs[0].project, "other");
  EXPECT_EQ(node.job_name, "node");
  EXPECT_EQ(node.scrape_interval_ms, 30'000);  // from global
  EXPECT_EQ(node.scrape_timeout_ms, 20'000);
  EXPECT_EQ(node.metrics_path, "/m");
  EXPECT_EQ(node.scheme, "https");
  ASSERT_EQ(node.params.size(), 2u);
  EXPECT_EQ(node.params[1], (std::pair<std::string, std::string>{"module", "b"}));
  ASSERT_EQ(node.static_configs.size(), 1u);
  EXPECT_THAT(node.static_configs[0].targets, ElementsAre("h1:9100", "h2:9100"));
  EXPECT_EQ(node.static_configs[0].labels[0].name, "env");
  EXPECT_TRUE(node.honor_labels);
  EXPECT_FALSE(node.honor_timestamps);
  EXPECT_EQ(node.bearer_token, "tok");
  EXPECT_EQ(node.sample_limit, 100u);
  EXPECT_EQ(node.label_limit, 30u);
  EXPECT_EQ(node.label_name_length_limit, 40u);
  EXPECT_EQ(node.label_value_length_limit, 50u);
  EXPECT_EQ(node.body_size_limit, 10LL << 20);  // Prometheus' MB is 2^20
  const scrape::ScrapeConfig& fast = c.scrape_configs[1].scrape;
  EXPECT_EQ(c.scrape_configs[1].project, "default");
  EXPECT_EQ(fast.scrape_interval_ms, 5'000);
  EXPECT_EQ(fast.scrape_timeout_ms, 5'000);  // the global 20s capped at the interval
  ASSERT_TRUE(fast.basic_auth.has_value());
  EXPECT_EQ(fast.basic_auth->password, "p");
  ASSERT_EQ(c.rule_files.size(), 1u);
  EXPECT_EQ(c.rule_files[0], "rules/*.yml");  // made absolute by LoadConfigFile only
  EXPECT_EQ(c.rules.project, "other");
}

TEST(ScrapeConfigsTest, ErrorsPointAtTheLine) {
  struct Case {
    std::string yaml;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"scrape_configs:\n  - job_name: a\n    scrape_interval: 1s\n    scrape_timeout: 2s\n",
       "t.yaml:4:21: scrape_configs[0].scrape_timeout: scrape_timeout must be positive and not "
       "greater than scrape_interval"},
      {"scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['http://x:1']}]\n",
       "t.yaml:3:"},
      {"scrape_configs:\n  - job_name: a\n    metrics_path: m\n", "metrics_path must start with '/'"},
      {"scrape_configs:\n  - job_name: a\n    scheme: ftp\n", "t.yaml:3:13:"},
      {"scrape_configs:\n  - job_name: a\n  - job_name: a\n",
       "t.yaml:3:5: scrape_configs[1].job_name: duplicate job_name 'a' (first on line 2)"},
      {"scrape_configs:\n  - static_configs: []\n", "missing required key 'job_name'"},
      {"scrape_configs:\n  - job_name: a\n    sample_limit: -1\n", "t.yaml:3:19:"},
      {"scrape_configs:\n  - job_name: a\n    body_size_limit: 1XB\n", "invalid byte size '1XB'"},
      {"scrape_configs:\n  - job_name: a\n    bearer_token: x\n    authorization: {credentials: y}\n",
       "at most one of bearer_token and authorization"},
      {"scrape_configs:\n  - job_name: a\n    authorization: {type: Basic, credentials: y}\n",
       "only type Bearer"},
      {"scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n", "expected true or false"},
      {"scrape_configs: {job_name: a}\n", "expected a list of scrape configs"},
      {"global: {evaluation_interval: 0s}\n", "must be a positive duration"},
      {"rule_files: x.yml\n", "t.yaml:1:13: rule_files: expected a list of strings"},
      {"rules: {project: ''}\n", "rules.project: must not be empty"},
      {"rules: {projects: a}\n", "did you mean 'project'?"},
  };
  for (const Case& c : cases) {
    LoadResult r = LoadConfigText(c.yaml, "t.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_THAT(AllErrors(r), HasSubstr(c.want)) << c.yaml;
  }
}

TEST(ScrapeConfigsTest, RuleFilesAreRelativeToTheConfigFile) {
  const auto dir = std::filesystem::temp_directory_path() / "tally_loader_rule_files";
  std::filesystem::create_directories(dir);
  const auto path = dir / "c.yaml";
  std::ofstream(path) << "rule_files: ['r/*.yml', '/abs/x.yml']\n";
  LoadResult r = LoadConfigFile(path.string());
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_THAT(r.config.rule_files, ElementsAre((dir / "r/*.yml").string(), "/abs/x.yml"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace config

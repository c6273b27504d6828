// ScrapeTarget: one target of a scrape config and the state between its scrapes
// (the series seen last time, a parsed-label cache). ScrapeOnce(now) fetches the
// body through an HttpFetcher, parses it (textparse.h), applies the limits and
// the job/instance/target labels (honor_labels), and writes the samples, the
// staleness markers and the report series (up, scrape_duration_seconds,
// scrape_samples_scraped, scrape_samples_post_metric_relabeling,
// scrape_series_added) to a ScrapeSink, then commits. It owns no thread: a runner
// calls ScrapeOnce at NextScrapeMs() times. Prometheus 2.42's scrape loop is the
// model, including its error texts.
//
// Staleness: a series scraped last time (without an explicit timestamp) and
// missing now gets a StaleNaN sample at the scrape time; when a scrape fails
// every series of the last successful scrape gets one; MarkStale() (target
// removed) marks those and the report series.
//
// Not thread-safe: one ScrapeTarget is used by one runner thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aggregator/scrape_config.h"
#include "aggregator/scrape_fetcher.h"
#include "aggregator/textparse.h"
#include "core/clock.h"
#include "core/labels.h"

namespace scrape {

// Prometheus' StaleNaN bit pattern (same as promql::StaleNaN() in
// aggregator/promql_test_file.h; repeated so `scrape` does not link the engine).
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
double StaleNaN();
bool IsStaleNaN(double v);

// The Accept header of a scrape: OpenMetrics preferred, then 0.0.4.
inline constexpr std::string_view kAcceptHeader =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

// Receives one scrape's samples: Append calls, then one Commit. Labels include
// __name__. Called only from the thread running ScrapeOnce/MarkStale.
class ScrapeSink {
 public:
  virtual ~ScrapeSink() = default;
  virtual void Append(const core::Labels& labels, int64_t t_ms, double v) = 0;
  virtual void Commit() = 0;
};

// What one scrape did (also in the report series). `error` is the logged reason
// when up is false, e.g. "sample_limit exceeded (3 samples, limit 2)".
struct ScrapeResult {
  bool up = false;
  std::string error;
  int64_t duration_ns = 0;
  uint64_t samples_scraped = 0;       // samples in the body (all of them, even over a limit)
  uint64_t samples_post_relabel = 0;  // samples kept (no metric_relabel_configs yet: = scraped)
  uint64_t series_added = 0;          // series not in the label cache before
  uint64_t stale_markers = 0;         // StaleNaN samples written
  uint64_t duplicates = 0;            // later samples of a series already in this body (dropped)
};

// The jitter of a target: its scrapes happen at times t with
// t % interval == ScrapeOffsetMs(...), spreading targets over the interval
// deterministically (like Prometheus' hash-based offset).
int64_t ScrapeOffsetMs(int64_t interval_ms, uint64_t target_hash);

class ScrapeTarget {
 public:
  // `config` is copied; `fetcher`, `sink` and `clock` must outlive the target.
  // `clock` only measures scrape_duration_seconds; sample times come from `now_ms`.
  ScrapeTarget(const ScrapeConfig& config, TargetSpec spec, HttpFetcher& fetcher, ScrapeSink& sink,
               const core::Clock& clock);

  // Scrapes once with scrape time `now_ms` (unix ms) and writes the result to the sink.
  ScrapeResult ScrapeOnce(int64_t now_ms);

  // The target is gone: StaleNaN at `now_ms` for the series of its last
  // successful scrape and for its report series. Then forgets them.
  void MarkStale(int64_t now_ms);

  // The first scrape time >= now_ms on this target's jittered schedule.
  int64_t NextScrapeMs(int64_t now_ms) const;

  const core::Labels& labels() const { return spec_.labels; }
  const std::string& address() const { return spec_.address; }
  const std::string& url() const { return request_.url; }
  uint64_t hash() const { return hash_; }

 private:
  struct CacheEntry {
    core::Labels labels;   // final labels, __name__ included
    uint64_t last_seen = 0;  // scrape iteration that last saw the series
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return core::HashBytes(s); }
  };
  using Cache = std::unordered_map<std::string, CacheEntry, StringHash, std::equal_to<>>;
  struct Pending {
    const CacheEntry* entry;
    int64_t t_ms;
    double v;
  };

  // Parses the body into pending_; fails the scrape on parse errors and limits.
  core::Status ParseBody(std::string_view body, textparse::Format format, int64_t now_ms,
                         ScrapeResult& result);
  // Final labels of a parsed series (target labels, honor_labels, limits).
  core::Result<core::Labels> BuildLabels(const textparse::Parser& p) const;
  void AppendReport(const ScrapeResult& result, int64_t now_ms);
  void WriteStale(const std::vector<const CacheEntry*>& series, int64_t now_ms,
                  ScrapeResult* result);

  const ScrapeConfig config_;
  const TargetSpec spec_;
  HttpFetcher& fetcher_;
  ScrapeSink& sink_;
  const core::Clock& clock_;
  FetchRequest request_;
  uint64_t hash_ = 0;

  FetchResponse response_;  // reused across scrapes
  textparse::Parser parser_;
  Cache cache_;
  uint64_t iter_ = 0;
  std::vector<const CacheEntry*> prev_series_;  // tracked series of the last successful scrape
  std::vector<const CacheEntry*> cur_series_;
  std::vector<Pending> pending_;
  std::vector<core::Label> scratch_labels_;
  bool reported_ = false;  // report series were written at least once
  // Report series labels (__name__ + target labels), built once.
  core::Labels up_labels_, duration_labels_, scraped_labels_, post_relabel_labels_,
      series_added_labels_;
};

}  // namespace scrape

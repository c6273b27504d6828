// bench_metrics_query: Google Benchmark of GET /v1/metrics/query without HTTP
// (rest::RunMetricsQuery + MetricsQueryJson; the route adds parsing and auth).
// Data: 1,000,000 raw samples of one timing metric in 100 series (tags host
// h0..h9 x route r0..r9), 10,000 samples each spread over 24 h (8.64 s apart,
// jittered), values log-normal-ish. Cases:
//   BM_Query/p99_window_1m        agg=p99, window=1m over the 24 h (1,440 buckets)
//   BM_Query/p99_no_window        agg=p99, one bucket of all 1M samples
//   BM_Query/p99_1m_group_by_host agg=p99, window=1m, group_by=host (10 series)
//   BM_Query/avg_window_1m        agg=avg, window=1m (no selection)
//   BM_Query/p99_1m_one_route     agg=p99, window=1m, tags=route:r3 (100k samples)
// items_per_second = raw samples aggregated per second.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rest/metrics_query.h"
#include "store/series_store.h"

namespace {

constexpr int64_t kUntilMs = 1'736'899'200'000;  // 2025-01-15T00:00:00Z
constexpr int64_t kRangeMs = 86'400'000;
constexpr int kSeries = 100;
constexpr int kPerSeries = 10'000;

const store::SeriesStore& Store() {
  static const store::SeriesStore* store = [] {
    auto* s = new store::SeriesStore(store::SeriesStoreOptions{});
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0, 0.6);
    std::vector<std::string> hosts, routes;
    for (int i = 0; i < 10; ++i) {
      hosts.push_back("h" + std::to_string(i));
      routes.push_back("r" + std::to_string(i));
    }
    const int64_t step = kRangeMs / kPerSeries;
    std::vector<store::PointView> points;
    for (int series = 0; series < kSeries; ++series) {
      const store::LabelView labels[] = {{"host", hosts[series / 10]},
                                         {"route", routes[series % 10]}};
      points.clear();
      for (int i = 0; i < kPerSeries; ++i) {
        const int64_t ts = kUntilMs - kRangeMs + i * step + static_cast<int64_t>(rng() % step);
        points.push_back({"api_latency", store::MetricType::kTiming, labels, ts,
                          std::exp(3 + noise(rng))});
      }
      if (!s->Append("bench", points, kUntilMs)) std::abort();
    }
    return s;
  }();
  return *store;
}

void BM_Query(benchmark::State& state, std::vector<std::pair<std::string, std::string>> params) {
  const store::SeriesStore& store = Store();
  params.emplace_back("name", "api.latency");
  params.emplace_back("since", std::to_string(kUntilMs - kRangeMs));
  params.emplace_back("until", std::to_string(kUntilMs));
  auto query = rest::ParseMetricsQuery(params, kUntilMs);
  if (!query) {
    state.SkipWithError(query.error().message.c_str());
    return;
  }
  uint64_t samples = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    auto result = rest::RunMetricsQuery(store, "bench", *query);
    if (!result) {
      state.SkipWithError(result.error().Message().c_str());
      return;
    }
    std::string body = rest::MetricsQueryJson(*query, *result);
    samples = result->samples;
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
  state.counters["samples"] = static_cast<double>(samples);
  state.counters["body_bytes"] = static_cast<double>(bytes);
}

BENCHMARK_CAPTURE(BM_Query, p99_window_1m, {{"agg", "p99"}, {"window", "1m"}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Query, p99_no_window, {{"agg", "p99"}})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Query, p99_1m_group_by_host,
                  {{"agg", "p99"}, {"window", "1m"}, {"group_by", "host"}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Query, avg_window_1m, {{"agg", "avg"}, {"window", "1m"}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Query, p99_1m_one_route,
                  {{"agg", "p99"}, {"window", "1m"}, {"tags", "route:r3"}})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

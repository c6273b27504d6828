// Cost of one detection run at scale (not run by default: a measurement, not a
// check). Run with --gtest_also_run_disabled_tests --gtest_filter='*Scale*'.
// ANOMALY_SCALE_EVENTS / ANOMALY_SCALE_ENTITIES override the sizes,
// ANOMALY_SCALE_HOURLY=0 measures day buckets only.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/time_parse.h"
#include "rest/anomaly_detector.h"
#include "store/event_store.h"

namespace rest {
namespace {

int64_t EnvOr(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoll(v) : fallback;
}

TEST(AnomalyScaleTest, DISABLED_OneRunOverEightDays) {
  const int64_t n = EnvOr("ANOMALY_SCALE_EVENTS", 2'000'000);
  const int64_t entities = EnvOr("ANOMALY_SCALE_ENTITIES", 20'000);
  const int64_t now = *core::ParseIso8601Ms("2025-03-10T12:30:00Z");
  const int64_t start = now - 9 * 86'400'000LL;
  store::EventStore store;
  std::mt19937_64 rng(1);
  std::vector<std::string> names;
  for (int64_t i = 0; i < entities; ++i) names.push_back("cust-" + std::to_string(i));
  const int64_t batch = 10'000;
  for (int64_t done = 0; done < n; done += batch) {
    std::vector<store::EventView> views(static_cast<size_t>(std::min(batch, n - done)));
    std::vector<std::string> ids(views.size());
    for (size_t i = 0; i < views.size(); ++i) {
      ids[i] = "e" + std::to_string(done + static_cast<int64_t>(i));
      store::EventView& v = views[i];
      v.id = ids[i];
      v.ts_ms = start + static_cast<int64_t>(rng() % static_cast<uint64_t>(now - start));
      v.strings[static_cast<size_t>(store::EventField::kModel)] = "gpt-4o";
      v.strings[static_cast<size_t>(store::EventField::kEntityType)] = "customer";
      v.strings[static_cast<size_t>(store::EventField::kEntityId)] =
          names[rng() % static_cast<uint64_t>(entities)];
      v.cost_nano_usd = static_cast<int64_t>(rng() % 10'000'000);
      v.latency_ms = static_cast<float>(rng() % 3000);
      v.success = rng() % 50 != 0;
    }
    store.Append("p1", views);
  }
  config::AnomaliesConfig cfg;
  cfg.hourly = EnvOr("ANOMALY_SCALE_HOURLY", 1) != 0;
  // CPU time of this thread (the machine is shared: wall time says little).
  auto cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  const double t0 = cpu();
  const auto w0 = std::chrono::steady_clock::now();
  DetectionResult r = DetectAnomalies(store, "p1", now, cfg);
  const double s = cpu() - t0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  std::printf("events in store %lld, scanned %llu, entities %llu, anomalies %zu: %.3f s CPU, "
              "%.3f s wall (%.0f ns CPU/event)\n",
              static_cast<long long>(n), static_cast<unsigned long long>(r.events),
              static_cast<unsigned long long>(r.entities), r.anomalies.size(), s, wall,
              s * 1e9 / static_cast<double>(r.events));
  for (size_t i = 0; i < r.anomalies.size() && i < 5; ++i) {
    const AnomalyFinding& f = r.anomalies[i];
    std::printf("  %s/%s %s: %s\n", f.key.entity_type.c_str(), f.key.entity_id.c_str(),
                core::FormatIso8601(f.period_start_ms).c_str(), f.description.c_str());
  }
  EXPECT_GT(r.events, 0u);
}

}  // namespace
}  // namespace rest

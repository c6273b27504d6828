// bench_events_store: the event store's in-process ingest path and memory per
// event (issue 6). Appends N events (default 10M, 90 days, generated-style
// 28-character ids "evt_<20 hex><4 hex>", 10 models, 1000 entities, a session
// id, latency, one tag on a third) with Reserve + Commit in 1,000-event
// batches, as EventService does, and prints events/s, the store's own
// accounting per event (columns, ids + id index, dictionaries) and the RSS
// delta per event at 1M, 2M, 5M and 10M events; then dedups every id once more
// (all duplicates) and times a bulk reload of the same events through Append
// (the snapshot load path).
// Usage: bench_events_store [N]
#include <time.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "store/event_store.h"

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kT0 = 1'736'899'200'000;  // 2025-01-15T00:00:00Z
constexpr size_t kBatch = 1000;

int64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * 4096;
}

// This thread's CPU time: on a shared machine, wall time mostly measures the
// other processes.
struct CpuTime {
  static double Now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  }
};
double Seconds(double t0) { return CpuTime::Now() - t0; }

std::string Id(const std::string& prefix, size_t i) {
  char idx[8];
  std::snprintf(idx, sizeof idx, "%04zx", i);
  return prefix + idx;
}

// Owns the strings of one batch; views() are what the service hands the store.
struct Batch {
  std::string prefix;  // ids are prefix + 4 hex digits of the index
  std::vector<std::string> ids, entities, sessions;
  std::vector<store::EventView> views;
  std::pair<std::string_view, std::string_view> tag{"feature", "chat"};

  void Fill(uint64_t first, uint64_t total, std::mt19937_64& rng) {
    static const char* kModels[] = {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-pro",
                                    "mistral-large", "gpt-4.1", "o3", "claude-haiku-4-5",
                                    "deepseek-chat", "llama-3.3-70b"};
    char buf[32];
    std::snprintf(buf, sizeof buf, "evt_%016" PRIx64 "%04x", rng(),
                  static_cast<unsigned>(rng() & 0xffff));
    prefix = buf;
    ids.resize(kBatch);
    entities.resize(kBatch);
    sessions.resize(kBatch);
    views.resize(kBatch);
    for (size_t i = 0; i < kBatch; ++i) {
      const uint64_t n = first + i;
      ids[i] = Id(prefix, i);
      entities[i] = "cust-" + std::to_string(rng() % 1000);
      sessions[i] = "s-" + std::to_string(rng() % 5000);
      store::EventView& v = views[i];
      v = store::EventView{};
      v.id = ids[i];
      v.ts_ms = kT0 + static_cast<int64_t>(n * (90 * kDayMs) / total);
      const size_t m = rng() % 10;
      v.strings[static_cast<size_t>(store::EventField::kModel)] = kModels[m];
      v.strings[static_cast<size_t>(store::EventField::kProvider)] = m < 5 ? "openai" : "anthropic";
      v.strings[static_cast<size_t>(store::EventField::kEntityType)] = "customer";
      v.strings[static_cast<size_t>(store::EventField::kEntityId)] = entities[i];
      v.strings[static_cast<size_t>(store::EventField::kSessionId)] = sessions[i];
      v.input_tokens = static_cast<uint32_t>(100 + rng() % 900);
      v.output_tokens = static_cast<uint32_t>(20 + rng() % 300);
      v.cost_nano_usd = static_cast<int64_t>(rng() % 10'000'000);
      v.cost_source = store::CostSource::kPriceTable;
      v.latency_ms = static_cast<float>(100 + rng() % 4000);
      if (n % 3 == 0) v.tags = std::span(&tag, 1);
    }
  }
};

void Report(const store::EventStore& s, uint64_t n, int64_t rss0, double secs) {
  const store::EventStoreStats st = s.Stats();
  const double dn = static_cast<double>(n);
  std::printf("%9" PRIu64 " events: %8.0f events/CPU-s so far | store: %.1f column + %.1f id + %.1f dict "
              "= %.1f bytes/event | RSS delta %.1f bytes/event\n",
              n, dn / secs, static_cast<double>(st.column_bytes) / dn,
              static_cast<double>(st.id_bytes) / dn, static_cast<double>(st.dictionary_bytes) / dn,
              static_cast<double>(st.bytes()) / dn, static_cast<double>(RssBytes() - rss0) / dn);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  store::EventStore s(store::EventStoreOptions{.max_memory_bytes = 64LL << 30});
  Batch b;
  std::mt19937_64 rng(1);
  const int64_t rss0 = RssBytes();
  double store_secs = 0;  // Reserve + Commit only (not the batch generation)
  uint64_t next_report = 1'000'000;
  std::vector<std::string> prefixes;  // of every batch, for the dedup pass
  for (uint64_t n = 0; n < total; n += kBatch) {
    b.Fill(n, total, rng);
    const double t0 = CpuTime::Now();
    auto r = s.Reserve("p", b.views);
    if (!r || r->fresh != kBatch) {
      std::fprintf(stderr, "unexpected duplicates or error\n");
      return 1;
    }
    s.Commit("p", b.views, *r);
    store_secs += Seconds(t0);
    prefixes.push_back(b.prefix);
    if (n + kBatch >= next_report || n + kBatch == total) {
      Report(s, n + kBatch, rss0, store_secs);
      next_report = next_report < 2'000'000 ? 2'000'000 : next_report < 5'000'000 ? 5'000'000 : 10'000'000;
      if (n + kBatch >= 10'000'000) next_report = UINT64_MAX;
    }
  }
  std::printf("ingest (Reserve + Commit, 1,000-event batches): %.0f events/CPU-s, %.2f us CPU/event\n",
              static_cast<double>(total) / store_secs, store_secs * 1e6 / static_cast<double>(total));

  // Every id again: all duplicates (dedup lookups at full size).
  const double t_dup = CpuTime::Now();
  uint64_t dups = 0;
  std::vector<store::EventView> views(kBatch);
  std::vector<std::string> ids(kBatch);
  for (const std::string& prefix : prefixes) {
    for (size_t i = 0; i < kBatch; ++i) {
      ids[i] = Id(prefix, i);
      views[i].id = ids[i];
    }
    auto r = s.Reserve("p", views);
    dups += kBatch - r->fresh;
    s.Commit("p", views, *r);
  }
  const double dup_secs = Seconds(t_dup);
  std::printf("dedup of %" PRIu64 " repeated ids: %.0f ids/CPU-s (%" PRIu64 " duplicates)\n", total,
              static_cast<double>(total) / dup_secs, dups);

  // Bulk reload through Append (snapshot load): scan the store, append to a new one.
  store::EventStore copy(store::EventStoreOptions{.max_memory_bytes = 64LL << 30});
  std::vector<store::EventView> chunk;
  std::vector<std::pair<std::string_view, std::string_view>> tags;
  double append_secs = 0;
  uint64_t appended = 0;
  s.ScanBlocks("p", INT64_MIN, INT64_MAX, [&](const store::EventBlockView& v) {
    chunk.clear();
    tags.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      store::EventView& e = chunk.emplace_back();
      e.id = v.id(i);
      e.ts_ms = v.ts_ms()[i];
      for (size_t f = 0; f < store::kEventFieldCount; ++f) {
        e.strings[f] = v.dict().Str(v.codes(static_cast<store::EventField>(f))[i]);
      }
      e.input_tokens = v.input_tokens()[i];
      e.output_tokens = v.output_tokens()[i];
      e.cost_nano_usd = v.cost_nano_usd()[i];
      if (v.has_latency(i)) e.latency_ms = v.latency_ms()[i];
      if (!v.tags(i).empty()) {
        tags[i] = {v.dict().Str(v.tags(i)[0].key), v.dict().Str(v.tags(i)[0].value)};
        e.tags = std::span(&tags[i], 1);
      }
    }
    const double t0 = CpuTime::Now();
    appended += copy.Append("p", chunk);
    append_secs += Seconds(t0);
  });
  std::printf("bulk reload through Append: %" PRIu64 " events in %.2f CPU-s (%.0f events/CPU-s)\n", appended,
              append_secs, static_cast<double>(appended) / append_secs);
  return appended == total && dups == total ? 0 : 1;
}

// bench_analytics: cost analytics and calls/stats over the event store, side by
// side with SQLite (the same events in one table with indexes, the same
// questions in SQL), in one process and one run.
//
//   bench_analytics [events=10000000] [runs=15]
//
// Data: `events` LLM calls spread uniformly over 90 days, 8 models, 20,000
// entities (skewed), sessions, latencies, 7% failures. Queries, over the last 30
// days:
//   A  GET /v1/analytics/costs?group_by=entity  (rest::Costs; SQLite: GROUP BY
//      entity_type, entity_id ORDER BY cost DESC)
//   B  POST /v1/calls/stats at 1 h: usage cost/input/output sums by (bucket,
//      model), call_count and error_count sums and latency p50/p99 by bucket
//      (rest::CallsStats; SQLite: two GROUP BY queries for the sums, and the
//      latencies in (bucket, latency) order for exact percentiles picked in C++,
//      since SQLite has no percentile aggregate)
//   A and B also through Router::Handle (parameter parsing, JSON rendering).
// Prints min/p50/p99 per query in ms.
#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <prometheus/registry.h>

#include "core/clock.h"
#include "core/http.h"
#include "rest/analytics.h"
#include "rest/analytics_routes.h"
#include "rest/calls_stats.h"
#include "rest/request_context.h"
#include "rest/router.h"
#include "store/event_store.h"

namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kEnd = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kStart = kEnd - 90 * kDay;

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time of this thread: the machine is shared, so wall time includes waiting
// for a core; both are reported.
double CpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Stats {
  double min, p50, p99, cpu_p50;
};

double Pct(std::vector<double> t, double p) {
  std::sort(t.begin(), t.end());
  double h = p * static_cast<double>(t.size() - 1);
  size_t lo = static_cast<size_t>(h);
  return lo + 1 < t.size() ? t[lo] + (h - static_cast<double>(lo)) * (t[lo + 1] - t[lo]) : t[lo];
}

Stats Measure(int runs, const std::function<void()>& fn) {
  fn();  // warm-up
  std::vector<double> t, cpu;
  for (int i = 0; i < runs; ++i) {
    double t0 = NowMs(), c0 = CpuMs();
    fn();
    t.push_back(NowMs() - t0);
    cpu.push_back(CpuMs() - c0);
  }
  return {*std::min_element(t.begin(), t.end()), Pct(t, 0.5), Pct(t, 0.99), Pct(cpu, 0.5)};
}

void Print(const char* name, const Stats& s) {
  std::printf("%-48s wall min %8.1f  p50 %8.1f  p99 %8.1f ms | cpu p50 %8.1f ms\n", name, s.min,
              s.p50, s.p99, s.cpu_p50);
  std::fflush(stdout);
}

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

void Exec(sqlite3* db, const char* sql) { Check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), db, sql); }

// Every request is project "bench" with all scopes.
class BenchAuthenticator final : public rest::Authenticator {
 public:
  core::Result<rest::RequestContext> Authenticate(const core::HttpRequest&) const override {
    return rest::RequestContext{"acct", "bench", "key", {}};
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 10'000'000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 15;
  const char* models[] = {"gpt-4o",         "gpt-4o-mini",   "claude-3-5-sonnet", "claude-3-haiku",
                          "mistral-large",  "llama-3-70b",   "gemini-1.5-pro",    "o1-mini"};
  const char* providers[] = {"openai", "openai", "anthropic", "anthropic",
                             "mistral", "meta", "google", "openai"};

  std::printf("bench_analytics: %" PRId64 " events over 90 days, queries over 30 days, %d runs\n", n,
              runs);
  store::EventStore events(store::EventStoreOptions{64LL << 30});
  sqlite3* db = nullptr;
  const std::string db_path = "/tmp/bench_analytics.sqlite";
  std::remove(db_path.c_str());
  Check(sqlite3_open(db_path.c_str(), &db), db, "open");
  Exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4000000;"
           "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=8000000000;");
  Exec(db,
       "CREATE TABLE events (id TEXT, ts INTEGER, model TEXT, provider TEXT, entity_type TEXT, "
       "entity_id TEXT, session_id TEXT, input_tokens INTEGER, output_tokens INTEGER, "
       "cost_nano INTEGER, latency_ms REAL, success INTEGER)");
  sqlite3_stmt* ins = nullptr;
  Check(sqlite3_prepare_v2(db, "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &ins,
                           nullptr),
        db, "prepare insert");

  std::mt19937_64 rng(42);
  double store_ms = 0, sqlite_ms = 0;
  constexpr size_t kBatch = 10'000;
  std::vector<store::Event> batch;
  std::vector<store::EventView> views;
  std::vector<std::vector<std::pair<std::string_view, std::string_view>>> tags(kBatch);
  Exec(db, "BEGIN");
  for (int64_t i = 0; i < n; i += kBatch) {
    batch.clear();
    for (int64_t k = i; k < std::min<int64_t>(n, i + kBatch); ++k) {
      store::Event e;
      e.id = "evt_" + std::to_string(k);
      e.ts_ms = kStart + static_cast<int64_t>(rng() % static_cast<uint64_t>(90 * kDay));
      const int m = static_cast<int>(rng() % 8);
      e.str(store::EventField::kModel) = models[m];
      e.str(store::EventField::kProvider) = providers[m];
      e.str(store::EventField::kEntityType) = rng() % 4 ? "customer" : "team";
      const uint64_t ent = rng() % 2 ? rng() % 200 : rng() % 20'000;
      e.str(store::EventField::kEntityId) = "ent-" + std::to_string(ent);
      e.str(store::EventField::kSessionId) = "s-" + std::to_string(rng() % 500'000);
      e.input_tokens = static_cast<uint32_t>(rng() % 8000);
      e.output_tokens = static_cast<uint32_t>(rng() % 2000);
      e.cost_nano_usd = static_cast<int64_t>(rng() % 30'000'000);
      e.latency_ms = static_cast<float>(50 + rng() % 20'000) / 4.0f;
      e.success = rng() % 100 >= 7;
      batch.push_back(std::move(e));
    }
    views.clear();
    for (size_t k = 0; k < batch.size(); ++k) views.push_back(batch[k].View(tags[k]));
    double t0 = NowMs();
    events.Append("bench", views);
    store_ms += NowMs() - t0;
    t0 = NowMs();
    for (const store::Event& e : batch) {
      sqlite3_bind_text(ins, 1, e.id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int64(ins, 2, e.ts_ms);
      for (int c = 0; c < 5; ++c) {
        const store::EventField f[] = {store::EventField::kModel, store::EventField::kProvider,
                                       store::EventField::kEntityType, store::EventField::kEntityId,
                                       store::EventField::kSessionId};
        sqlite3_bind_text(ins, 3 + c, e.str(f[c]).c_str(), -1, SQLITE_STATIC);
      }
      sqlite3_bind_int64(ins, 8, e.input_tokens);
      sqlite3_bind_int64(ins, 9, e.output_tokens);
      sqlite3_bind_int64(ins, 10, e.cost_nano_usd);
      sqlite3_bind_double(ins, 11, *e.latency_ms);
      sqlite3_bind_int(ins, 12, e.success ? 1 : 0);
      Check(sqlite3_step(ins), db, "insert");
      sqlite3_reset(ins);
    }
    sqlite_ms += NowMs() - t0;
  }
  Exec(db, "COMMIT");
  sqlite3_finalize(ins);
  double t0 = NowMs();
  Exec(db, "CREATE INDEX events_ts ON events (ts)");
  Exec(db, "CREATE INDEX events_entity ON events (entity_type, entity_id, ts)");
  Exec(db, "ANALYZE");
  const double index_ms = NowMs() - t0;
  std::printf("load: event store %.1f s (%.0f events/s); SQLite %.1f s + indexes %.1f s\n",
              store_ms / 1e3, n / (store_ms / 1e3), sqlite_ms / 1e3, index_ms / 1e3);
  const store::EventStoreStats st = events.Stats();
  std::printf("event store: %.0f MB (%.1f bytes/event)\n", st.bytes() / 1e6,
              static_cast<double>(st.bytes()) / static_cast<double>(n));

  const int64_t q_start = kEnd - 30 * kDay, q_end = kEnd;

  // ---- A: costs by entity ---------------------------------------------------
  rest::CostsQuery costs;
  costs.filter.range = {q_start, q_end};
  costs.group_by = rest::CostsGroupBy::kEntity;
  size_t groups = 0, bytes = 0;
  Print("A tally  costs group_by=entity (rest::Costs)", Measure(runs, [&] {
          rest::CostsResult out = rest::Costs(events, "bench", costs);
          groups = out.data.rows();
          bytes = out.Json().size();
        }));
  sqlite3_stmt* qa = nullptr;
  Check(sqlite3_prepare_v2(db,
                           "SELECT entity_type, entity_id, SUM(cost_nano), COUNT(*), "
                           "SUM(input_tokens), SUM(output_tokens), AVG(latency_ms) FROM events "
                           "WHERE ts >= ? AND ts < ? GROUP BY entity_type, entity_id "
                           "ORDER BY 3 DESC",
                           -1, &qa, nullptr),
        db, "prepare A");
  size_t sql_groups = 0;
  const bool skip_sqlite = std::getenv("BENCH_SKIP_SQLITE") != nullptr;
  if (!skip_sqlite) Print("A SQLite costs group_by=entity", Measure(std::max(3, runs / 3), [&] {
          sqlite3_bind_int64(qa, 1, q_start);
          sqlite3_bind_int64(qa, 2, q_end);
          sql_groups = 0;
          while (sqlite3_step(qa) == SQLITE_ROW) ++sql_groups;
          sqlite3_reset(qa);
        }));
  std::printf("  groups: tally %zu, SQLite %zu\n", groups, sql_groups);

  // ---- B: calls/stats at 1 h ------------------------------------------------
  const std::string body =
      R"({"start":"2025-12-02T00:00:00Z","end":"2026-01-01T00:00:00Z","granularity":3600,
          "usage_metrics":[{"metric":"cost","aggregations":["sum"]},
                           {"metric":"input_tokens","aggregations":["sum"]},
                           {"metric":"output_tokens","aggregations":["sum"]}],
          "call_metrics":[{"metric":"latency_ms","aggregations":["avg"],"percentiles":[50,99]},
                          {"metric":"call_count","aggregations":["sum"]},
                          {"metric":"error_count","aggregations":["sum"]}]})";
  auto request = rest::ParseCallsStatsRequest(body, kEnd);
  if (!request) {
    std::fprintf(stderr, "bad request: %s\n", request.error().message.c_str());
    return 1;
  }
  size_t buckets = 0;
  Print("B tally  calls/stats 1h p50/p99 (rest::CallsStats)", Measure(runs, [&] {
          nlohmann::json out = rest::CallsStats(events, "bench", *request);
          buckets = out["call_buckets"].size();
        }));
  sqlite3_stmt* qb1 = nullptr;
  sqlite3_stmt* qb2 = nullptr;
  Check(sqlite3_prepare_v2(db,
                           "SELECT (ts - ?1) / 3600000 AS b, model, SUM(cost_nano), "
                           "SUM(input_tokens), SUM(output_tokens), COUNT(*), "
                           "SUM(1 - success) FROM events WHERE ts >= ?1 AND ts < ?2 "
                           "GROUP BY b, model",
                           -1, &qb1, nullptr),
        db, "prepare B1");
  Check(sqlite3_prepare_v2(db,
                           "SELECT (ts - ?1) / 3600000 AS b, latency_ms FROM events "
                           "WHERE ts >= ?1 AND ts < ?2 ORDER BY b, latency_ms",
                           -1, &qb2, nullptr),
        db, "prepare B2");
  double checksum = 0;
  if (!skip_sqlite) Print("B SQLite calls/stats 1h p50/p99 (2 queries)", Measure(std::max(3, runs / 3), [&] {
          sqlite3_bind_int64(qb1, 1, q_start);
          sqlite3_bind_int64(qb1, 2, q_end);
          while (sqlite3_step(qb1) == SQLITE_ROW) checksum += sqlite3_column_double(qb1, 2);
          sqlite3_reset(qb1);
          sqlite3_bind_int64(qb2, 1, q_start);
          sqlite3_bind_int64(qb2, 2, q_end);
          std::vector<double> lat;
          int64_t current = -1;
          auto flush = [&] {
            if (lat.empty()) return;
            for (double p : {0.5, 0.99}) {
              double h = p * (lat.size() - 1);
              size_t lo = static_cast<size_t>(h);
              checksum += lo + 1 < lat.size() ? lat[lo] + (h - lo) * (lat[lo + 1] - lat[lo]) : lat[lo];
            }
            lat.clear();
          };
          while (sqlite3_step(qb2) == SQLITE_ROW) {
            int64_t b = sqlite3_column_int64(qb2, 0);
            if (b != current) {
              flush();
              current = b;
            }
            lat.push_back(sqlite3_column_double(qb2, 1));
          }
          flush();
          sqlite3_reset(qb2);
        }));
  std::printf("  buckets: tally %zu\n", buckets);

  // ---- through the router (auth, parameter parsing, JSON rendering) -----------
  BenchAuthenticator auth;
  core::FakeClock clock(kEnd);
  prometheus::Registry registry;
  rest::Router router(auth, clock, registry);
  rest::AnalyticsOptions options;
  options.store = &events;
  options.clock = &clock;
  rest::AddAnalyticsRoutes(router, options);
  auto handle = [&](const char* method, const char* path, const char* query, std::string req_body) {
    core::HttpRequest req;
    req.method = method;
    req.path = path;
    req.query_string = query;
    req.body = std::move(req_body);
    req.headers.emplace_back("content-type", "application/json");
    core::HttpResponse resp;
    router.Handle(req, resp);
    if (resp.status != 200) {
      std::fprintf(stderr, "%s %s: %d %s\n", method, path, resp.status, resp.body.c_str());
      std::exit(1);
    }
    return resp.body.size();
  };
  Print("A tally  GET /v1/analytics/costs (Router)", Measure(runs, [&] {
          bytes = handle("GET", "/v1/analytics/costs",
                         "start_date=2025-12-02&end_date=2025-12-31&group_by=entity", "");
        }));
  std::printf("  A body: %zu bytes\n", bytes);
  Print("B tally  POST /v1/calls/stats (Router)", Measure(runs, [&] {
          bytes = handle("POST", "/v1/calls/stats", "", body);
        }));
  std::printf("  B body: %zu bytes (checksum %.0f)\n", bytes, checksum);
  sqlite3_finalize(qa);
  sqlite3_finalize(qb1);
  sqlite3_finalize(qb2);
  sqlite3_close(db);
  std::remove(db_path.c_str());
  return 0;
}

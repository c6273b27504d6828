// bench_micro: Google Benchmark micro benchmarks of the ingest and exposition
// hot paths, without HTTP:
//   BM_DecodeBatch            PointDecoder::DecodeBatch on a 1,000-point body
//   BM_DecodeReport           PointDecoder::DecodeReport on a one-point body
//   BM_AppendExisting         SeriesStore::Append, 1,000 points over 100 existing series
//   BM_AppendNewSeries        SeriesStore::Append, 1,000 points that each create a series
//   BM_IngestBatch            decode + IngestService::Store of a 1,000-point body
//   BM_RenderStore/N          StoreExposition::RenderText over N series
//   BM_RenderMetricsPage/N    RenderMetricsPage: store + self-metrics (the GET /metrics body)
//   BM_ParseApiKey            rest::ParseApiKey (format + checksum) of a valid key
//   BM_Sha256Key              core::Sha256Hex of a key (the hash compared on every request)
//   BM_RateLimiterTake/N      RateLimiter::Take cycling over N buckets (1 = one hot bucket)
// items_per_second is points/s (ingest) or series/s (exposition). Series for the
// exposition benchmarks: 200 metrics (100 counters, 100 gauges), 3 labels each.
#include <benchmark/benchmark.h>
#include <prometheus/registry.h>

#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/digest.h"
#include "core/http.h"
#include "exporter/exposition.h"
#include "exporter/ingest_service.h"
#include "exporter/point_decoder.h"
#include "rest/api_key.h"
#include "rest/key_authenticator.h"
#include "rest/key_issuer.h"
#include "rest/rate_limiter.h"
#include "rest/router.h"
#include "rest/usage_meter.h"
#include "store/control/sqlite_control_plane.h"
#include "store/series_store.h"

namespace {

constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr int kBatchPoints = 1'000;
constexpr int kRotatingSeries = 100;

const char* const kRegions[] = {"eu-west", "us-east", "ap-south", "sa-east"};
const char* const kEndpoints[] = {"/login", "/search", "/checkout", "/cart", "/home"};

// The JSON object of point `i`: 10 metric names (half counters, half gauges),
// each with 10 label combinations, so `i % 100` picks one of 100 series.
std::string PointJson(int i) {
  const int series = i % kRotatingSeries;
  const int metric = series % 10;
  const bool counter = metric % 2 == 0;
  std::string out = "{\"name\":\"bench.";
  out += counter ? "requests_" : "queue_depth_";
  out += std::to_string(metric);
  out += "\",\"type\":\"";
  out += counter ? "counter" : "gauge";
  out += "\",\"value\":";
  out += std::to_string(1 + i % 7);
  out += ",\"tags\":{\"host\":\"web-";
  out += std::to_string(series / 10);
  out += "\",\"region\":\"";
  out += kRegions[series % 4];
  out += "\",\"endpoint\":\"";
  out += kEndpoints[series % 5];
  out += "\"}}";
  return out;
}

// A body with capacity for simdjson's padding, as the HTTP server provides.
// Not inlined: g++ 12 at -O3 reports a false -Wrestrict in the inlined reserve().
[[gnu::noinline]] std::string Padded(std::string s) {
  s.reserve(s.size() + core::kBodyPadding);
  return s;
}

std::string BatchBody(int points) {
  std::string body = "{\"points\":[";
  for (int i = 0; i < points; ++i) {
    if (i > 0) body.push_back(',');
    body += PointJson(i);
  }
  body += "]}";
  return Padded(std::move(body));
}

exporter::DecodeContext Context() {
  exporter::DecodeContext ctx;
  ctx.now_ms = kNowMs;
  ctx.retention_ms = 15LL * 86'400'000;
  return ctx;
}

store::SeriesStoreOptions StoreOptions(size_t block_capacity = 512) {
  store::SeriesStoreOptions o;
  o.max_series_per_metric = 1'000'000;
  o.max_memory_bytes = int64_t{1} << 40;
  o.block_capacity = block_capacity;
  return o;
}

// Owns the strings behind a batch of PointViews.
struct OwnedBatch {
  std::deque<std::string> strings;
  std::vector<std::vector<store::LabelView>> labels;
  std::vector<store::PointView> points;

  std::string_view Keep(std::string s) { return strings.emplace_back(std::move(s)); }
};

// `points` points; series identity comes from `series_of(i)` -> (metric, label id).
template <typename SeriesOf>
void BuildBatch(OwnedBatch& b, int points, SeriesOf series_of) {
  b.labels.resize(points);
  b.points.reserve(points);
  for (int i = 0; i < points; ++i) {
    const auto [metric, id] = series_of(i);
    const bool counter = metric % 2 == 0;
    // Sorted by name: endpoint < host < region.
    b.labels[i] = {{"endpoint", kEndpoints[id % 5]},
                   {"host", b.Keep("web-" + std::to_string(id))},
                   {"region", kRegions[id % 4]}};
    b.points.push_back({b.Keep(std::string(counter ? "bench_requests_" : "bench_queue_depth_") +
                               std::to_string(metric)),
                        counter ? store::MetricType::kCounter : store::MetricType::kGauge,
                        b.labels[i], kNowMs, static_cast<double>(1 + i % 7)});
  }
}

void BM_DecodeBatch(benchmark::State& state) {
  const std::string body = BatchBody(kBatchPoints);
  const exporter::DecodeContext ctx = Context();
  exporter::PointDecoder decoder;
  for (auto _ : state) {
    auto batch = decoder.DecodeBatch(body, ctx);
    if (!batch || batch->points.size() != kBatchPoints) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(batch->points.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatchPoints);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_DecodeBatch);

void BM_DecodeReport(benchmark::State& state) {
  const std::string body = Padded(PointJson(3));
  const exporter::DecodeContext ctx = Context();
  exporter::PointDecoder decoder;
  for (auto _ : state) {
    auto batch = decoder.DecodeReport(body, ctx);
    if (!batch || batch->points.size() != 1) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(batch->points.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeReport);

void BM_AppendExisting(benchmark::State& state) {
  store::SeriesStore store(StoreOptions());
  OwnedBatch b;
  BuildBatch(b, kBatchPoints, [](int i) {
    const int series = i % kRotatingSeries;
    return std::pair{series % 10, series};
  });
  if (!store.Append("default", b.points, kNowMs)) {  // creates the 100 series
    state.SkipWithError("append failed");
    return;
  }
  for (auto _ : state) {
    auto out = store.Append("default", b.points, kNowMs);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * kBatchPoints);
  state.counters["series"] = static_cast<double>(store.Stats().series);
}
BENCHMARK(BM_AppendExisting);

void BM_AppendNewSeries(benchmark::State& state) {
  // Every point creates a series (100 metrics x 10 new label sets per batch).
  // The store is replaced every kRounds batches (untimed) to bound memory:
  // each new series reserves a 512-sample block.
  constexpr int kRounds = 16;
  std::vector<OwnedBatch> batches(kRounds);
  for (int r = 0; r < kRounds; ++r) {
    BuildBatch(batches[r], kBatchPoints, [r](int i) {
      return std::pair{i % 100, r * kBatchPoints + i};
    });
  }
  auto store = std::make_unique<store::SeriesStore>(StoreOptions());
  int round = 0;
  for (auto _ : state) {
    if (round == kRounds) {
      state.PauseTiming();
      store = std::make_unique<store::SeriesStore>(StoreOptions());
      round = 0;
      state.ResumeTiming();
    }
    auto out = store->Append("default", batches[round].points, kNowMs);
    benchmark::DoNotOptimize(out);
    ++round;
  }
  state.SetItemsProcessed(state.iterations() * kBatchPoints);
}
BENCHMARK(BM_AppendNewSeries);

void BM_IngestBatch(benchmark::State& state) {
  const std::string body = BatchBody(kBatchPoints);
  store::SeriesStore store(StoreOptions());
  core::FakeClock clock(kNowMs);
  prometheus::Registry registry;
  exporter::IngestService ingest(store, exporter::IngestOptions{}, clock, registry);
  for (auto _ : state) {
    auto decoder = ingest.AcquireDecoder();
    auto batch = decoder->DecodeBatch(body, ingest.MakeDecodeContext());
    if (!batch) {
      state.SkipWithError("decode failed");
      break;
    }
    auto outcome = ingest.Store("default", *batch);
    if (!outcome || outcome->accepted != kBatchPoints) {
      state.SkipWithError("store failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatchPoints);
}
BENCHMARK(BM_IngestBatch);

// A store with `n` series: 200 metrics (100 counters, 100 gauges), 3 labels each.
std::unique_ptr<store::SeriesStore> StoreWithSeries(int n) {
  // Small blocks: exposition never reads samples, and this keeps 100k series cheap.
  auto store = std::make_unique<store::SeriesStore>(StoreOptions(/*block_capacity=*/8));
  for (int start = 0; start < n; start += kBatchPoints) {
    OwnedBatch b;
    BuildBatch(b, std::min(kBatchPoints, n - start), [start](int i) {
      const int id = start + i;
      return std::pair{id % 200, id / 200};
    });
    if (!store->Append("default", b.points, kNowMs)) return nullptr;
  }
  return store;
}

void BM_RenderStore(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto store = StoreWithSeries(n);
  core::FakeClock clock(kNowMs);
  exporter::StoreExposition exposition(*store, config::ExpositionConfig{}, clock);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text;
    exposition.RenderText(text);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["series"] = static_cast<double>(store->Stats().series);
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderStore)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)->MinTime(1.0);

// The whole GET /metrics body: the store's series plus the prometheus-cpp
// self-metrics registry (here with tally's ingest counters registered).
void BM_RenderMetricsPage(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto store = StoreWithSeries(n);
  core::FakeClock clock(kNowMs);
  prometheus::Registry registry;
  exporter::IngestService ingest(*store, exporter::IngestOptions{}, clock, registry);
  exporter::StoreExposition exposition(*store, config::ExpositionConfig{}, clock);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = exporter::RenderMetricsPage(exposition, {&registry});
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["series"] = static_cast<double>(store->Stats().series);
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderMetricsPage)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

void BM_ParseApiKey(benchmark::State& state) {
  auto key = rest::GenerateApiKey();
  if (!key) {
    state.SkipWithError("key generation failed");
    return;
  }
  for (auto _ : state) {
    auto parsed = rest::ParseApiKey(key->full);
    if (!parsed) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(parsed->prefix.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseApiKey);

void BM_Sha256Key(benchmark::State& state) {
  auto key = rest::GenerateApiKey();
  if (!key) {
    state.SkipWithError("key generation failed");
    return;
  }
  for (auto _ : state) {
    std::string hex = core::Sha256Hex(key->full);
    benchmark::DoNotOptimize(hex.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sha256Key);

// Time moves 1 ms per call, so buckets refill and shards sweep as in service.
void BM_RateLimiterTake(benchmark::State& state) {
  const int buckets = static_cast<int>(state.range(0));
  std::vector<std::string> ids;
  ids.reserve(buckets);
  for (int i = 0; i < buckets; ++i) ids.push_back("project-" + std::to_string(i));
  rest::RateLimiter limiter;
  for (const std::string& id : ids) limiter.Take(id, 1'000'000, kNowMs);
  int64_t now = kNowMs;
  size_t next = 0;
  int64_t allowed = 0;
  for (auto _ : state) {
    const rest::RateDecision d = limiter.Take(ids[next], 1'000'000, ++now);
    allowed += d.allowed;
    if (++next == ids.size()) next = 0;
  }
  benchmark::DoNotOptimize(allowed);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RateLimiterTake)->Arg(1)->Arg(10'000);

}  // namespace

// ---- auth hot path ----------------------------------------------------------------
// A real SQLite control plane in a temp dir, one key, a warm cache: what every
// authenticated request pays (issue target: < 5 us for auth + rate limit).
struct AuthFixture {
  AuthFixture() {
    char tmpl[] = "/tmp/tally_bench_XXXXXX";
    dir = ::mkdtemp(tmpl);
    auto opened = control::SqliteControlPlane::Open(dir + "/tally.db");
    db = std::move(*opened);
    auto account = db->CreateAccount("bench", "pro", clock.NowMs());
    control::Project p;
    p.account_id = account->id;
    p.name = "bench";
    auto project = db->CreateProject(p, clock.NowMs());
    key = rest::IssueKey(*db, account->id, project->id, "bench", {}, clock.NowMs())->secret;
    auth = std::make_unique<rest::KeyAuthenticator>(*db, clock, config::DefaultTiers(),
                                                    /*cache_ttl_ms=*/3'600'000);
    req.method = "POST";
    req.path = "/v1/metrics/report";
    req.headers.emplace_back("content-type", "application/json");
    req.headers.emplace_back("authorization", "Bearer " + key);
  }
  ~AuthFixture() { std::filesystem::remove_all(dir); }
  std::string dir;
  core::FakeClock clock{1'767'225'600'000};
  std::unique_ptr<control::SqliteControlPlane> db;
  std::string key;
  std::unique_ptr<rest::KeyAuthenticator> auth;
  core::HttpRequest req;
};

void BM_AuthenticateCachedKey(benchmark::State& state) {
  AuthFixture f;
  for (auto _ : state) {
    auto ctx = f.auth->Authenticate(f.req);
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_AuthenticateCachedKey);

void BM_AuthenticateAndRateLimit(benchmark::State& state) {
  AuthFixture f;
  rest::RateLimiter limiter;
  int64_t now = f.clock.NowMs();
  for (auto _ : state) {
    auto ctx = f.auth->Authenticate(f.req);
    auto d = limiter.Take(ctx->project_id, 1'000'000'000, now++);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_AuthenticateAndRateLimit);

// Router::Handle on a handler that does nothing: the whole per-request overhead
// of auth, scope, rate limit, usage metering and self-metrics (arg 1), against
// the open authenticator with no limiter or meter (arg 0).
void BM_RouterOverhead(benchmark::State& state) {
  AuthFixture f;
  const bool with_auth = state.range(0) == 1;
  rest::DefaultProjectAuthenticator open;
  rest::RateLimiter limiter;
  rest::UsageMeter usage(*f.db);
  prometheus::Registry registry;
  rest::RouterOptions options;
  if (with_auth) {
    options.rate_limiter = &limiter;
    options.usage = &usage;
  }
  const rest::Authenticator& auth = with_auth ? static_cast<const rest::Authenticator&>(*f.auth)
                                              : static_cast<const rest::Authenticator&>(open);
  rest::Router router(auth, f.clock, registry, options);
  rest::Route route{"POST", "/v1/metrics/report", "metrics.report", false, false,
                    "metrics:write",
                    [](const rest::Call&, core::HttpResponse& resp) { resp.body = "{}"; }};
  route.ingest = true;
  router.Add(route);
  for (auto _ : state) {
    core::HttpResponse resp;
    router.Handle(f.req, resp);
    benchmark::DoNotOptimize(resp);
  }
}
BENCHMARK(BM_RouterOverhead)->Arg(0)->Arg(1);

BENCHMARK_MAIN();

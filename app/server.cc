#include "app/server.h"

#include <limits>
#include <thread>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "app/aggregator_runtime.h"
#include "app/version.h"
#include "config/embedded_prices.h"
#include "config/loader.h"
#include "config/prices_loader.h"
#include "core/http_server.h"
#include "exporter/event_metrics.h"
#include "exporter/event_record.h"
#include "exporter/event_service.h"
#include "exporter/exposition.h"
#include "exporter/idempotency.h"
#include "exporter/ingest_service.h"
#include "exporter/snapshot.h"
#include "app/control_ops.h"
#include "rest/account_routes.h"
#include "rest/analytics_routes.h"
#include "rest/durable_idempotency.h"
#include "rest/event_routes.h"
#include "rest/key_authenticator.h"
#include "rest/metrics_routes.h"
#include "rest/prometheus_api_routes.h"
#include "rest/rate_limiter.h"
#include "rest/request_context.h"
#include "rest/router.h"
#include "rest/rules_routes.h"
#include "rest/system_routes.h"
#include "rest/usage_meter.h"
#include "core/env.h"
#include "store/event_store.h"
#include "store/series_store.h"
#include "store/wal.h"

namespace app {
namespace {

// The price table `config` asks for: pricing.file, or the copy of
// config/prices.yaml built into the binary when it is unset. `name` receives
// how logs name it. Errors list every problem of the file.
core::Result<std::shared_ptr<const exporter::PriceTable>> LoadPriceTable(
    const config::Config& config, std::string& name, size_t& entries) {
  const bool embedded = config.pricing.file.empty();
  name = embedded ? std::string(config::kEmbeddedPricesName) : config.pricing.file;
  config::PricesLoadResult prices =
      embedded ? config::LoadPricesText(config::EmbeddedPricesYaml(), name)
               : config::LoadPricesFile(config.pricing.file);
  if (!prices.ok()) {
    std::string message = "price table " + name + ":";
    for (const auto& e : prices.errors) message += "\n  " + e.ToString();
    return core::Fail(core::ErrorCode::kInvalidRequest, message);
  }
  entries = prices.entries.size();
  return std::make_shared<const exporter::PriceTable>(std::move(prices.entries));
}

}  // namespace

// WAL counters for /metrics, read from the Wal and the replay at scrape time.
// Outcome of the latest snapshot, written by the snapshot runner.
struct SnapshotStatus {
  std::atomic<uint64_t> written{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<double> last_seconds{0};
  std::atomic<uint64_t> last_bytes{0};
  std::atomic<double> load_seconds{0};
};

class WalCollectable : public prometheus::Collectable {
 public:
  WalCollectable(const store::Wal& wal, store::WalReplayStats replay, double replay_seconds,
                 const SnapshotStatus& snapshots)
      : wal_(wal), replay_(std::move(replay)), replay_seconds_(replay_seconds),
        snapshots_(snapshots) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    const store::WalStats s = wal_.Stats();
    std::vector<prometheus::MetricFamily> out;
    auto add = [&](const char* name, const char* help, prometheus::MetricType type, double v) {
      prometheus::MetricFamily f;
      f.name = name;
      f.help = help;
      f.type = type;
      prometheus::ClientMetric m;
      if (type == prometheus::MetricType::Counter) {
        m.counter.value = v;
      } else {
        m.gauge.value = v;
      }
      f.metric.push_back(m);
      out.push_back(std::move(f));
    };
    using T = prometheus::MetricType;
    add("tally_wal_records_total", "Records appended to the WAL", T::Counter,
        static_cast<double>(s.appended_records));
    add("tally_wal_bytes_total", "Bytes appended to the WAL", T::Counter,
        static_cast<double>(s.appended_bytes));
    add("tally_wal_fsyncs_total", "fdatasync calls on the WAL (group commit shares them)",
        T::Counter, static_cast<double>(s.syncs));
    add("tally_wal_failures_total", "Failed WAL writes or syncs (requests answered 503)",
        T::Counter, static_cast<double>(s.failures));
    {
      prometheus::MetricFamily f;
      f.name = "tally_wal_fsync_duration_seconds";
      f.help = "fdatasync latency of the WAL";
      f.type = T::Histogram;
      prometheus::ClientMetric m;
      uint64_t cumulative = 0;
      for (size_t i = 0; i < store::kFsyncBucketCount; ++i) {
        cumulative += s.fsync_buckets[i];
        m.histogram.bucket.push_back({cumulative, store::kFsyncBuckets[i]});
      }
      m.histogram.bucket.push_back({s.fsync_count, std::numeric_limits<double>::infinity()});
      m.histogram.sample_count = s.fsync_count;
      m.histogram.sample_sum = s.fsync_seconds_sum;
      f.metric.push_back(std::move(m));
      out.push_back(std::move(f));
    }
    add("tally_wal_segment", "Number of the WAL segment being written", T::Gauge,
        static_cast<double>(s.current_segment));
    add("tally_wal_replayed_records", "Records replayed from the WAL at start-up", T::Gauge,
        static_cast<double>(replay_.records));
    add("tally_wal_truncated_bytes", "Bytes of damaged WAL tail truncated at start-up", T::Gauge,
        static_cast<double>(replay_.truncated_bytes + replay_.dropped_bytes));
    add("tally_wal_replay_seconds", "Time the start-up WAL replay took", T::Gauge,
        replay_seconds_);
    add("tally_snapshots_total", "Snapshots written", T::Counter,
        static_cast<double>(snapshots_.written.load()));
    add("tally_snapshot_failures_total", "Snapshots that failed (the WAL keeps the data)",
        T::Counter, static_cast<double>(snapshots_.failures.load()));
    add("tally_snapshot_duration_seconds", "Time the latest snapshot took", T::Gauge,
        snapshots_.last_seconds.load());
    add("tally_snapshot_bytes", "Size of the latest snapshot file", T::Gauge,
        static_cast<double>(snapshots_.last_bytes.load()));
    add("tally_snapshot_load_seconds", "Time loading the snapshot took at start-up", T::Gauge,
        snapshots_.load_seconds.load());
    return out;
  }

 private:
  const store::Wal& wal_;
  const store::WalReplayStats replay_;
  const double replay_seconds_;
  const SnapshotStatus& snapshots_;
};

struct Server::Parts {
  core::PosixEnv env;
  std::unique_ptr<store::Wal> wal;
  SnapshotStatus snapshots;
  std::mutex snapshot_mu;  // one snapshot at a time (runner and shutdown)
  // Set after the replay; empty until then.
  struct Deferred : prometheus::Collectable {
    std::unique_ptr<WalCollectable> inner;
    std::atomic<bool> set{false};
    std::vector<prometheus::MetricFamily> Collect() const override {
      return set.load() ? inner->Collect() : std::vector<prometheus::MetricFamily>{};
    }
  } wal_metrics;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<store::SeriesStore> store;
  std::unique_ptr<exporter::StoreExposition> store_exposition;
  std::unique_ptr<exporter::IngestService> ingest;
  exporter::IdempotencyCache idempotency;
  // LLM call events: the store, the price table, the /metrics series, ingest.
  std::unique_ptr<store::EventStore> events;
  exporter::PriceBook prices;
  std::unique_ptr<exporter::LlmMetrics> llm_metrics;
  std::unique_ptr<exporter::EventService> event_ingest;
  // Control plane: accounts, projects, keys (SQLite), and what reads it per request.
  std::unique_ptr<control::ControlPlane> control;
  std::unique_ptr<rest::KeyAuthenticator> key_auth;       // auth.enabled
  rest::DefaultProjectAuthenticator open_auth;            // !auth.enabled
  rest::RateLimiter rate_limiter;
  std::unique_ptr<rest::UsageMeter> usage;
  std::unique_ptr<rest::DurableIdempotency> account_idempotency;
  std::unique_ptr<rest::Router> router;
  // Scrapes and rule evaluation (docs/aggregator.md); threads start after the WAL opens.
  std::unique_ptr<AggregatorRuntime> aggregator;
  // Anomaly detection (rest/anomaly_service.h), run every anomalies.interval.
  rest::NoopAnomalyNotifier anomaly_notifier;  // the webhooks issue replaces it
  std::unique_ptr<rest::AnomalyService> anomalies;
  std::thread anomaly_thread;
  std::unique_ptr<core::HttpServer> http;
  std::atomic<bool> ready{false};        // /readyz: false during replay and shutdown
  std::atomic<bool> ingest_open{false};  // ingest accepted: true once the WAL is open
};

Server::Server(config::Config config, const core::Clock& clock)
    : Server(std::move(config), clock, Flags{}) {}

Server::Server(config::Config config, const core::Clock& clock, Flags flags)
    : config_(std::move(config)), clock_(clock), flags_(flags) {}

core::Status Server::OpenWal() {
  Parts& p = *parts_;
  const std::string dir = config_.storage.dir + "/wal";
  // The newest snapshot first, then the WAL after it.
  uint64_t first_segment = 0;
  {
    const int64_t load_ns = clock_.MonotonicNs();
    exporter::SnapshotFileStats file;
    auto snapshot = exporter::LoadNewestSnapshot(p.env, config_.storage.dir + "/snapshots", &file);
    if (!snapshot) return core::Unexpected(snapshot.error());
    if (*snapshot) {
      first_segment = (*snapshot)->first_wal_segment;
      for (store::SeriesState& s : (*snapshot)->series) {
        if (auto st = p.store->ImportSeries(std::move(s)); !st) return st;
      }
      for (auto& e : (*snapshot)->idempotency) {
        p.idempotency.Restore(e.project, e.key, e.body_hash, std::move(e.response), e.created_ms);
      }
      for (const std::string& events : (*snapshot)->event_records) {
        if (auto st = p.event_ingest->Replay(exporter::kWalRecordEvents, events); !st) return st;
      }
      const double seconds = static_cast<double>(clock_.MonotonicNs() - load_ns) / 1e9;
      p.snapshots.load_seconds.store(seconds);
      spdlog::info("snapshot: loaded {} ({} series, {} samples, {} bytes) in {:.3f}s", file.path,
                   file.series, file.samples, file.bytes, seconds);
    }
  }
  const int64_t start_ns = clock_.MonotonicNs();
  auto replay = store::Wal::Replay(
      p.env, dir, first_segment, flags_.wal_repair,
      [&](uint8_t type, std::string_view payload) {
        if (type == exporter::kWalRecordEvents || type == exporter::kWalRecordReprice) {
          return p.event_ingest->Replay(type, payload);
        }
        return p.ingest->Replay(type, payload);
      });
  if (!replay) return core::Unexpected(replay.error());
  const double seconds = static_cast<double>(clock_.MonotonicNs() - start_ns) / 1e9;
  for (const std::string& note : replay->notes) spdlog::warn("WAL: {}", note);
  spdlog::info("WAL: replayed {} records ({} bytes, {} segments) in {:.3f}s", replay->records,
               replay->bytes, replay->segments, seconds);
  store::WalOptions options;
  options.dir = dir;
  options.clock = &clock_;
  switch (config_.storage.fsync) {
    case config::FsyncPolicy::kAlways: options.sync = store::WalSync::kAlways; break;
    case config::FsyncPolicy::kInterval: options.sync = store::WalSync::kInterval; break;
    case config::FsyncPolicy::kNever: options.sync = store::WalSync::kNever; break;
  }
  auto wal = store::Wal::Open(p.env, options);
  if (!wal) return core::Unexpected(wal.error());
  p.wal = std::move(*wal);
  p.wal_metrics.inner = std::make_unique<WalCollectable>(*p.wal, *replay, seconds, p.snapshots);
  p.wal_metrics.set.store(true);
  return {};
}

Server::~Server() { Stop(); }

core::Status Server::Start() {
  parts_ = std::make_unique<Parts>();
  Parts& p = *parts_;

  prometheus::BuildGauge()
      .Name("tally_build_info")
      .Help("Build information; the value is always 1")
      .Register(*p.registry)
      .Add({{"version", std::string(kVersion)}})
      .Set(1);

  store::SeriesStoreOptions store_options;
  store_options.max_series_per_metric = config_.limits.max_series_per_metric;
  store_options.max_memory_bytes = config_.storage.max_memory_bytes;
  store_options.bucket_resolver = [exposition = config_.exposition](std::string_view name) {
    return exporter::ResolveBuckets(exposition, name);
  };
  p.store = std::make_unique<store::SeriesStore>(store_options);
  p.store_exposition =
      std::make_unique<exporter::StoreExposition>(*p.store, config_.exposition, clock_);
  exporter::IngestOptions ingest_options{config_.limits, config_.storage.retention_ms};
  ingest_options.idempotency = &p.idempotency;
  p.ingest = std::make_unique<exporter::IngestService>(*p.store, ingest_options, clock_,
                                                       *p.registry);
  {
    std::string name;
    size_t entries = 0;
    auto table = LoadPriceTable(config_, name, entries);
    if (!table) return core::Unexpected(table.error());
    spdlog::info("pricing: {} prices from {}", entries, name);
    p.prices.Replace(std::move(*table));
  }
  store::EventStoreOptions event_options;
  event_options.max_memory_bytes = config_.storage.max_memory_bytes;
  p.events = std::make_unique<store::EventStore>(event_options);
  p.llm_metrics = std::make_unique<exporter::LlmMetrics>(
      *exporter::ResolveBuckets(config_.exposition, "tally_llm_latency_ms"),
      config_.exposition.llm_entity_id_label);
  exporter::EventIngestOptions event_ingest_options{config_.limits, config_.storage.retention_ms,
                                                    &p.idempotency};
  p.event_ingest = std::make_unique<exporter::EventService>(
      *p.events, p.prices, *p.llm_metrics, event_ingest_options, clock_, *p.registry);
  if (auto st = OpenControlPlane(); !st) return st;
  rest::Authenticator* auth = &p.open_auth;
  if (config_.auth.enabled) {
    p.key_auth = std::make_unique<rest::KeyAuthenticator>(
        *p.control, clock_, config_.billing.tiers, config_.auth.key_cache_ttl_ms);
    auth = p.key_auth.get();
  } else {
    spdlog::warn("auth.enabled is false: every request is accepted without an API key and "
                 "belongs to project 'default'. Use this only for benchmarks or a trusted "
                 "single-user setup.");
  }
  p.usage = std::make_unique<rest::UsageMeter>(*p.control);
  p.account_idempotency = std::make_unique<rest::DurableIdempotency>(*p.control);
  rest::RouterOptions router_options;
  router_options.rate_limiter = config_.auth.enabled ? &p.rate_limiter : nullptr;
  router_options.usage = p.usage.get();
  router_options.protect_public_routes = config_.auth.enabled && config_.auth.protect_public_routes;
  p.router = std::make_unique<rest::Router>(*auth, clock_, *p.registry, router_options);
  rest::AddSystemRoutes(*p.router, {p.store_exposition.get(),
                                    {p.registry.get(), &p.wal_metrics, p.llm_metrics.get()},
                                    &p.ready,
                                    std::string(kVersion)});
  if (flags_.role != Role::kAggregator) {
    rest::AddMetricsRoutes(*p.router, *p.ingest, p.idempotency, clock_, &p.ingest_open);
  }
  rest::AddEventRoutes(*p.router, {p.event_ingest.get(), &p.idempotency, p.events.get(), &clock_,
                                   p.control.get(), &p.ingest_open});
  rest::AddMetricsQueryRoute(*p.router, {p.store.get(), &clock_, p.control.get(), {}});
  rest::AnalyticsOptions analytics;  // /v1/analytics/*, /v1/entities, calls/stats
  analytics.store = p.events.get();
  analytics.clock = &clock_;
  analytics.project_in_account = [control = p.control.get()](const std::string& account,
                                                             const std::string& project) {
    return control->GetProject(account, project).has_value();
  };
  p.anomalies = std::make_unique<rest::AnomalyService>(*p.events, *p.control, config_.anomalies,
                                                       &p.anomaly_notifier);
  analytics.anomalies = p.anomalies.get();
  rest::AddAnalyticsRoutes(*p.router, analytics);
  rest::AddAccountRoutes(*p.router, rest::AccountServices{p.control.get(), &clock_,
                                                          p.key_auth.get(), p.usage.get(),
                                                          p.account_idempotency.get(),
                                                          config_.billing.tiers});
  rest::PrometheusApiOptions prometheus_api;
  prometheus_api.store = p.store.get();
  prometheus_api.clock = &clock_;
  prometheus_api.include_project_label = config_.exposition.include_project_label;
  prometheus_api.version = std::string(kVersion);  // engine: 5m lookback, 50M samples, 2 min
  rest::AddPrometheusApiRoutes(*p.router, prometheus_api);
  auto aggregator_config = LoadAggregatorConfig(config_);
  if (!aggregator_config) return core::Unexpected(aggregator_config.error());
  p.aggregator = std::make_unique<AggregatorRuntime>(AggregatorDeps{
      p.ingest.get(), p.store.get(), &clock_, p.registry.get(),
      config_.exposition.include_project_label, config_.storage.retention_ms,
      config_.limits.max_future_skew_ms});
  rest::RulesRoutesOptions rules_routes{p.aggregator.get(), {}};
  if (!flags_.config_path.empty()) {
    // Reloading parses YAML and rule files (recursive, with read buffers):
    // run it on a thread with a full-size stack, not on the HTTP worker's
    // small one (ASan found the overflow there).
    rules_routes.reload = [this] {
      core::Status result;
      std::thread worker([&] { result = Reload(); });
      worker.join();
      return result;
    };
  }
  // POST /api/v1/admin/backfill: rule output over past samples, through the WAL.
  auto backfill = std::make_shared<rest::BackfillService>(rest::BackfillServiceOptions{
      p.ingest.get(), p.store.get(), &clock_, config_.exposition.include_project_label,
      config_.global.evaluation_interval_ms, config_.storage.retention_ms, 1'000'000, &p.ready});
  p.router->Keep(backfill);
  rules_routes.backfill = backfill.get();
  rules_routes.clock = &clock_;
  rest::AddRulesRoutes(*p.router, rules_routes);

  core::HttpServerOptions http_options;
  http_options.listen = config_.server.listen;
  http_options.num_threads = config_.server.num_threads;
  http_options.max_body_bytes = static_cast<size_t>(config_.limits.max_body_bytes);
  http_options.request_timeout_ms = static_cast<int>(config_.server.request_timeout_ms);
  http_options.shutdown_grace_ms = static_cast<int>(config_.server.shutdown_grace_ms);
  auto http = core::HttpServer::Start(
      http_options, [router = p.router.get()](const core::HttpRequest& req,
                                              core::HttpResponse& resp) { router->Handle(req, resp); });
  if (!http) return core::Unexpected(http.error());
  p.http = std::move(*http);
  // Serve /healthz and /readyz (false) while the WAL replays; ingest answers
  // 503 until the log is open.
  if (auto st = OpenWal(); !st) {
    p.http->Stop();
    return st;
  }
  p.ingest->SetWal(p.wal.get());
  p.event_ingest->SetWal(p.wal.get());
  // The aggregator role stores scrapes and rule output but takes no ingest requests.
  p.ingest_open.store(flags_.role != Role::kAggregator);
  p.aggregator->Apply(std::move(*aggregator_config));
  p.ready.store(true);
  retention_thread_ = std::thread([this] { RetentionLoop(); });
  snapshot_thread_ = std::thread([this] { SnapshotLoop(); });
  if (config_.storage.fsync == config::FsyncPolicy::kInterval) {
    wal_sync_thread_ = std::thread([this] { WalSyncLoop(); });
  }
  control_thread_ = std::thread([this] { ControlLoop(); });
  if (config_.anomalies.enabled && flags_.role != Role::kAggregator) {
    p.anomaly_thread = std::thread([this] {
      std::unique_lock lock(runner_mu_);
      while (!stopping_) {
        runner_cv_.wait_for(lock, std::chrono::milliseconds(config_.anomalies.interval_ms));
        if (stopping_) break;
        lock.unlock();
        auto reports = parts_->anomalies->DetectAll(clock_.NowMs());
        if (!reports) {
          spdlog::warn("anomaly detection failed: {}", reports.error().message);
        } else {
          for (const rest::AnomalyRunReport& r : *reports) {
            if (r.detected.empty() && r.resolved.empty()) continue;
            spdlog::info("anomalies: project {}: {} new, {} resolved ({} events scanned)",
                         r.project, r.detected.size(), r.resolved.size(), r.events);
          }
        }
        lock.lock();
      }
    });
  }
  return {};
}

core::Status Server::OpenControlPlane() {
  Parts& p = *parts_;
  auto db = app::OpenControlPlane(config_);
  if (!db) return core::Unexpected(db.error());
  p.control = std::move(*db);
  if (config_.auth.enabled && config_.auth.bootstrap) {
    auto boot = BootstrapIfEmpty(*p.control, config_, clock_.NowMs());
    if (!boot) return core::Unexpected(boot.error());
    if (*boot) {
      const BootstrapResult& b = **boot;
      // Shown once: only its hash is stored. The file keeps it for the operator.
      spdlog::warn(
          "first start: created account {} (tier {}), project {} and admin key {}.\n"
          "    admin API key (shown once; also written to {} with mode 0600):\n    {}",
          b.account_id, config_.auth.bootstrap_tier, b.project_id, b.key_id, b.key_file, b.secret);
    }
  }
  return {};
}

core::Status Server::FlushControl() {
  Parts& p = *parts_;
  core::Status status;
  if (auto st = p.usage->Flush(); !st) {
    spdlog::warn("usage flush failed (will retry): {}", st.error().message);
    status = st;
  }
  if (p.key_auth) {
    if (auto st = p.key_auth->FlushLastUsed(); !st) {
      spdlog::warn("key last_used flush failed: {}", st.error().message);
      status = st;
    }
  }
  return status;
}

void Server::ControlLoop() {
  std::unique_lock lock(runner_mu_);
  int64_t last_purge_ms = 0;
  while (!stopping_) {
    runner_cv_.wait_for(lock, std::chrono::milliseconds(config_.auth.usage_flush_interval_ms));
    if (stopping_) break;
    lock.unlock();
    (void)FlushControl();
    const int64_t now = clock_.NowMs();
    if (now - last_purge_ms >= 3'600'000) {
      last_purge_ms = now;
      if (auto purged = parts_->account_idempotency->Purge(now); !purged) {
        spdlog::warn("idempotency purge failed: {}", purged.error().message);
      }
    }
    lock.lock();
  }
}

std::vector<RouteInfo> Server::Routes() const {
  std::vector<RouteInfo> out;
  if (!parts_ || !parts_->router) return out;
  for (const rest::Route& r : parts_->router->routes()) {
    out.push_back(RouteInfo{r.method, r.pattern, r.name, r.scope, r.is_public, r.ingest});
  }
  return out;
}

core::Status Server::Reload() {
  std::lock_guard lock(reload_mu_);
  if (!parts_ || !parts_->aggregator) {
    return core::Fail(core::ErrorCode::kUnavailable, "the server is not running");
  }
  if (flags_.config_path.empty()) {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "no config file (--config) to reload; the built-in defaults stay");
  }
  config::LoadResult loaded = config::LoadConfigFile(flags_.config_path);
  if (!loaded.ok()) {
    std::string message = "config not reloaded, the old one keeps running:";
    for (const auto& e : loaded.errors) message += "\n" + e.ToString();
    return core::Fail(core::ErrorCode::kInvalidRequest, message);
  }
  auto aggregator_config = LoadAggregatorConfig(loaded.config);
  if (!aggregator_config) {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "config not reloaded, the old one keeps running:\n" +
                          aggregator_config.error().message);
  }
  // The price table (pricing.file, or the built-in one), validated before anything is applied.
  std::string prices_name;
  size_t num_prices = 0;
  auto prices = LoadPriceTable(loaded.config, prices_name, num_prices);
  if (!prices) {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "config not reloaded, the old one keeps running:\n" + prices.error().message);
  }
  parts_->aggregator->Apply(std::move(*aggregator_config));
  spdlog::info("reload: {} prices from {}", num_prices, prices_name);
  parts_->prices.Replace(std::move(*prices));
  spdlog::info("reload: applied scrape configs, rule files and the price table from {}",
               flags_.config_path);
  return {};
}

int Server::port() const { return parts_ && parts_->http ? parts_->http->port() : 0; }

void Server::RetentionLoop() {
  std::unique_lock lock(runner_mu_);
  while (!stopping_) {
    runner_cv_.wait_for(lock, std::chrono::seconds(60));
    if (stopping_) break;
    const uint64_t dropped = parts_->store->DropBefore(clock_.NowMs() - config_.storage.retention_ms);
    if (dropped > 0) spdlog::info("retention: dropped {} samples", dropped);
    const uint64_t events = parts_->events->DropBefore(clock_.NowMs() - config_.storage.retention_ms);
    if (events > 0) spdlog::info("retention: dropped {} events", events);
  }
}

core::Status Server::WriteSnapshot() {
  Parts& p = *parts_;
  std::lock_guard lock(p.snapshot_mu);
  const int64_t start_ns = clock_.MonotonicNs();
  auto cp = p.event_ingest->TakeCheckpoint([&] { return p.ingest->TakeCheckpoint(); });
  core::Status st;
  if (!cp) {
    st = core::Unexpected(cp.error());
  } else {
    auto file = exporter::WriteSnapshot(p.env, config_.storage.dir + "/snapshots", *cp);
    if (!file) {
      st = core::Unexpected(file.error());
    } else {
      // The snapshot covers every record in earlier segments.
      if (auto rm = p.wal->RemoveSegmentsBefore(cp->first_wal_segment); !rm) {
        spdlog::warn("snapshot: could not remove old WAL segments: {}", rm.error().message);
      }
      const double seconds = static_cast<double>(clock_.MonotonicNs() - start_ns) / 1e9;
      p.snapshots.written.fetch_add(1);
      p.snapshots.last_seconds.store(seconds);
      p.snapshots.last_bytes.store(file->bytes);
      spdlog::info("snapshot: wrote {} ({} series, {} samples, {} bytes) in {:.3f}s", file->path,
                   file->series, file->samples, file->bytes, seconds);
    }
  }
  if (!st) {
    p.snapshots.failures.fetch_add(1);
    spdlog::error("snapshot failed (the WAL still holds everything): {}", st.error().message);
  }
  return st;
}

void Server::SnapshotLoop() {
  std::unique_lock lock(runner_mu_);
  while (!stopping_) {
    runner_cv_.wait_for(lock, std::chrono::milliseconds(config_.storage.snapshot_interval_ms));
    if (stopping_) break;
    lock.unlock();
    (void)WriteSnapshot();
    lock.lock();
  }
}

void Server::WalSyncLoop() {
  std::unique_lock lock(runner_mu_);
  while (!stopping_) {
    runner_cv_.wait_for(lock, std::chrono::milliseconds(config_.storage.fsync_interval_ms));
    if (stopping_) break;
    lock.unlock();
    if (auto st = parts_->wal->Sync(); !st) spdlog::error("WAL sync: {}", st.error().message);
    lock.lock();
  }
}

void Server::Stop() {
  if (!parts_) return;
  parts_->ready.store(false);
  {
    std::lock_guard lock(runner_mu_);
    stopping_ = true;
  }
  runner_cv_.notify_all();
  if (parts_->aggregator) parts_->aggregator->Stop();
  if (retention_thread_.joinable()) retention_thread_.join();
  if (wal_sync_thread_.joinable()) wal_sync_thread_.join();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  if (control_thread_.joinable()) control_thread_.join();
  if (parts_->anomaly_thread.joinable()) parts_->anomaly_thread.join();
  if (parts_->http) parts_->http->Stop();  // in-flight requests finish first
  if (parts_->control) (void)FlushControl();
  if (parts_->wal) {
    if (auto st = parts_->wal->Sync(); !st) spdlog::error("WAL sync: {}", st.error().message);
    // A snapshot on clean shutdown makes the next start fast.
    if (parts_->ingest_open.load()) (void)WriteSnapshot();
  }
  parts_.reset();
}

}  // namespace app

#include "app/server.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "app/version.h"
#include "core/http_server.h"
#include "exporter/exposition.h"
#include "exporter/idempotency.h"
#include "exporter/ingest_service.h"
#include "rest/metrics_routes.h"
#include "rest/request_context.h"
#include "rest/router.h"
#include "rest/system_routes.h"
#include "store/series_store.h"

namespace app {

struct Server::Parts {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<store::SeriesStore> store;
  std::unique_ptr<exporter::StoreExposition> store_exposition;
  std::unique_ptr<exporter::IngestService> ingest;
  exporter::IdempotencyCache idempotency;
  rest::DefaultProjectAuthenticator auth;
  std::unique_ptr<rest::Router> router;
  std::unique_ptr<core::HttpServer> http;
  std::atomic<bool> ready{false};
};

Server::Server(config::Config config, const core::Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

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
  p.ingest = std::make_unique<exporter::IngestService>(
      *p.store, exporter::IngestOptions{config_.limits, config_.storage.retention_ms}, clock_,
      *p.registry);
  p.router = std::make_unique<rest::Router>(p.auth, clock_, *p.registry);
  rest::AddSystemRoutes(*p.router, {p.store_exposition.get(), {p.registry.get()}, &p.ready,
                                    std::string(kVersion)});
  rest::AddMetricsRoutes(*p.router, *p.ingest, p.idempotency, clock_);

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
  p.ready.store(true);
  retention_thread_ = std::thread([this] { RetentionLoop(); });
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
  if (retention_thread_.joinable()) retention_thread_.join();
  if (parts_->http) parts_->http->Stop();  // in-flight requests finish first
  parts_.reset();
}

}  // namespace app

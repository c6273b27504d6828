// Routes every deployment has: GET /healthz, GET /readyz, GET /metrics.
#pragma once

#include <atomic>
#include <vector>

#include <prometheus/collectable.h>

#include "exporter/exposition.h"
#include "rest/router.h"

namespace rest {

struct SystemRoutesDeps {
  // /metrics: the store's series, then these collectables (self-metrics).
  // Both must outlive the router.
  const exporter::StoreExposition* store = nullptr;
  std::vector<const prometheus::Collectable*> collectables;
  // False while the server starts (e.g. WAL replay) or shuts down.
  const std::atomic<bool>* ready = nullptr;
  std::string version;
};

void AddSystemRoutes(Router& router, SystemRoutesDeps deps);

}  // namespace rest

// Routes of the metrics family: POST /v1/metrics/report, POST /v1/metrics/batch,
// GET /v1/metrics/query.
#pragma once

#include <atomic>

#include "core/clock.h"
#include "exporter/idempotency.h"
#include "exporter/ingest_service.h"
#include "rest/metrics_query.h"
#include "rest/router.h"
#include "store/control/control_plane.h"
#include "store/series_store.h"

namespace rest {

// The services must outlive the router.
// While `ready` is false (start-up WAL replay) ingest answers 503.
void AddMetricsRoutes(Router& router, exporter::IngestService& ingest,
                      exporter::IdempotencyCache& idempotency, const core::Clock& clock,
                      const std::atomic<bool>* ready = nullptr);

// What GET /v1/metrics/query reads. Everything must outlive the router.
struct MetricsQueryServices {
  const store::SeriesStore* store = nullptr;
  const core::Clock* clock = nullptr;  // "now": the default `until`, relative times
  // Looks up `project_id` for keys with account:admin (a project of the key's
  // account). nullptr: a key may name only its own project.
  control::ControlPlane* control = nullptr;
  MetricsQueryLimits limits;
};

// GET /v1/metrics/query (route metrics.query, scope metrics:read): the
// functions of rest/metrics_query.h over the key's project, or over
// `project_id` when the key has account:admin and the project is in its
// account (else 404 not_found, param project_id). Bad parameters: 400
// invalid_request naming the parameter; more raw samples than
// limits.max_samples: 422 with code "execution".
void AddMetricsQueryRoute(Router& router, const MetricsQueryServices& services);

}  // namespace rest

// Routes of the analytics family (API.md section 3, seeds 002-004):
//   GET  /v1/analytics/costs, /costs/timeseries, /models, /entities/top,
//        /sessions, /compare                      (rest/analytics.h)
//   GET  /v1/entities, /v1/entities/{entity_type}/{entity_id}
//   POST /v1/calls/stats and /calls/stats          (rest/calls_stats.h)
//   GET  /v1/analytics/anomalies, PATCH /v1/analytics/anomalies/{anomaly_id}
//        (analytics:read), POST /v1/analytics/anomalies/detect (account:admin)
//                                                  (rest/anomaly_service.h)
// All need scope analytics:read and read the key's project; a key with
// account:admin may pass `project_id` (query parameter, or body field of
// calls/stats) for another project of its account. `format=csv` renders the
// `data` rows as text/csv (rest/csv_writer.h).
//
// Handlers are thin: they parse and validate parameters (every error names its
// parameter) and call the plain functions.
#pragma once

#include <functional>
#include <string>

#include "core/clock.h"
#include "rest/anomaly_service.h"
#include "rest/router.h"
#include "store/event_store.h"

namespace rest {

struct AnalyticsOptions {
  const store::EventStore* store = nullptr;  // not owned; outlives the router
  const core::Clock* clock = nullptr;        // not owned; "now" for relative times
  // True when account `account_id` owns project `project_id` (for account:admin
  // keys passing project_id). Unset: only the key's own project is readable.
  std::function<bool(const std::string& account_id, const std::string& project_id)>
      project_in_account;
  // Not owned; nullptr: the anomaly routes are not registered.
  AnomalyService* anomalies = nullptr;
};

void AddAnalyticsRoutes(Router& router, const AnalyticsOptions& options);

// The project a request reads: the key's, or `requested` when the key has
// account:admin and the project is in its account; otherwise 404 naming
// project_id (another tenant's id is never confirmed).
core::Result<std::string> ReadableProject(const RequestContext& ctx, const std::string& requested,
                                          const AnalyticsOptions& options);

}  // namespace rest

// The Prometheus HTTP API (v1 read subset, Prometheus 2.42 shapes) over the
// store, for Grafana's Prometheus data source and promtool: GET and POST
// (application/x-www-form-urlencoded) /api/v1/query, /api/v1/query_range,
// /api/v1/series, /api/v1/labels, /api/v1/label/{name}/values,
// /api/v1/metadata, /api/v1/status/buildinfo. Scope metrics:read; a query sees
// only the calling key's project (StoreQuerier).
//
// Responses use Prometheus' envelope, {"status":"success","data":...} or
// {"status":"error","errorType":"bad_data","error":"..."} (400 bad_data, 422
// execution, 503 timeout, 500 internal), not tally's {"error":{...}} shape;
// authentication and rate-limit errors come from the router in tally's shape.
#pragma once

#include <string>

#include "aggregator/promql_engine.h"
#include "core/clock.h"
#include "rest/router.h"
#include "store/series_store.h"

namespace rest {

struct PrometheusApiOptions {
  const store::SeriesStore* store = nullptr;  // not owned; outlives the router
  const core::Clock* clock = nullptr;         // not owned; "now" for `time`
  bool include_project_label = true;          // exposition.include_project_label
  // lookback, max_samples, and the longest timeout a `timeout` param may ask for
  // (also the default).
  promql::EngineOptions engine;
  std::string version;  // tally's version, reported by buildinfo
};

void AddPrometheusApiRoutes(Router& router, const PrometheusApiOptions& options);

// Parses an application/x-www-form-urlencoded string (a query string or a form
// body) into decoded (name, value) pairs, in order.
std::vector<std::pair<std::string, std::string>> ParseFormUrlEncoded(std::string_view text);

}  // namespace rest

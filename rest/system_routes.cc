#include "rest/system_routes.h"

#include <nlohmann/json.hpp>

#include "exporter/exposition.h"
#include "rest/error_response.h"

namespace rest {

void AddSystemRoutes(Router& router, SystemRoutesDeps deps) {
  router.Add(Route{"GET", "/healthz", "healthz", true, false, "",
                   [version = deps.version](const Call&, core::HttpResponse& resp) {
                     resp.body = nlohmann::json{{"status", "ok"}, {"version", version}}.dump();
                   }});
  router.Add(Route{"GET", "/readyz", "readyz", true, false, "",
                   [ready = deps.ready](const Call&, core::HttpResponse& resp) {
                     if (ready != nullptr && !ready->load()) {
                       WriteError(resp, core::MakeError(core::ErrorCode::kUnavailable,
                                                        "not ready: starting or shutting down"));
                       return;
                     }
                     resp.body = R"({"status":"ready"})";
                   }});
  router.Add(Route{"GET", "/metrics", "metrics", true, false, "",
                   [store = deps.store, collectables = deps.collectables](
                       const Call&, core::HttpResponse& resp) {
                     resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
                     resp.body = exporter::RenderMetricsPage(*store, collectables);
                   }});
}

}  // namespace rest

// Router: the route table. Matches method and path (segments like `{id}` bind
// path parameters), and applies what every route shares, in this order:
// 404 unknown path, 405 wrong method (with Allow), 413 body over the limit,
// 415 non-JSON body on a JSON route, authentication (skipped for public routes),
// then the handler. Records tally_http_requests_total{route,code} and
// tally_http_request_duration_seconds{route}.
//
// Routes are added before serving starts; Handle() is then thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/clock.h"
#include "core/http.h"
#include "rest/request_context.h"

namespace rest {

// What a handler receives besides the response to fill.
struct Call {
  const RequestContext& ctx;
  const core::HttpRequest& req;
  const std::map<std::string, std::string>& path_params;
};

using RouteHandler = std::function<void(const Call&, core::HttpResponse&)>;

struct Route {
  std::string method;     // "GET", "POST", ...
  std::string pattern;    // "/v1/metrics/report", "/v1/events/{event_id}"
  std::string name;       // label for self-metrics, e.g. "metrics.report"
  bool is_public = false; // no authentication
  bool json_body = false; // request body must be JSON (415 otherwise)
  std::string scope;      // scope the key needs, e.g. "metrics:write"
  RouteHandler handler;
};

class Router {
 public:
  Router(const Authenticator& auth, const core::Clock& clock, prometheus::Registry& registry);

  void Add(Route route);

  // Answers one request. Never throws: a handler exception becomes a 500.
  void Handle(const core::HttpRequest& req, core::HttpResponse& resp) const;

  // Every registered route (for docs and auth-matrix tests).
  const std::vector<Route>& routes() const { return routes_; }

 private:
  const Route* Match(const core::HttpRequest& req, std::map<std::string, std::string>& params,
                     std::string& allowed, bool& path_matched) const;
  void Observe(const std::string& route, int status, double seconds) const;

  const Authenticator& auth_;
  const core::Clock& clock_;
  std::vector<Route> routes_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
};

// True when `content_type` is JSON ("application/json", optional parameters).
bool IsJsonContentType(std::string_view content_type);

}  // namespace rest

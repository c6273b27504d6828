// Router: the route table. Matches method and path (segments like `{id}` bind
// path parameters), and applies what every route shares, in this order:
// 404 unknown path, 405 wrong method (with Allow), 413 body over the limit,
// 415 non-JSON body on a JSON route, authentication and scope (skipped for
// public routes), the rate limit (429; X-RateLimit-* headers on every
// authenticated response), then the handler. Authenticated requests are counted
// per account for usage and bandwidth. Records tally_http_requests_total{route,code}
// and tally_http_request_duration_seconds{route}.
//
// Routes are added before serving starts; Handle() is then thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/clock.h"
#include "core/http.h"
#include "rest/rate_limiter.h"
#include "rest/request_context.h"
#include "rest/usage_meter.h"

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
  bool ingest = false;    // counted against the ingest rate limit, not the general one
};

// What the router applies around handlers besides authentication. Not owned.
struct RouterOptions {
  RateLimiter* rate_limiter = nullptr;  // nullptr: no rate limits
  UsageMeter* usage = nullptr;          // nullptr: no usage counting
  // Public routes need a key with metrics:read too (auth.protect_public_routes).
  bool protect_public_routes = false;
};

class Router {
 public:
  Router(const Authenticator& auth, const core::Clock& clock, prometheus::Registry& registry,
         RouterOptions options = {});

  void Add(Route route);

  // Answers one request. Never throws: a handler exception becomes a 500.
  void Handle(const core::HttpRequest& req, core::HttpResponse& resp) const;

  // Keeps `owned` alive as long as the router (state shared by route handlers).
  void Keep(std::shared_ptr<void> owned) { kept_.push_back(std::move(owned)); }

  // Every registered route (for docs and auth-matrix tests).
  const std::vector<Route>& routes() const { return routes_; }

 private:
  // Self-metrics of one route, resolved once so the request path does not build
  // label maps: counters per status are created on first use.
  struct RouteStats {
    prometheus::Histogram* duration = nullptr;
    std::array<std::atomic<prometheus::Counter*>, 600> by_status{};
    std::string name;
  };
  std::unique_ptr<RouteStats> MakeStats(const std::string& name);
  // Index into routes_ of the route for `req`, or -1.
  int Match(const core::HttpRequest& req, std::map<std::string, std::string>& params,
            std::string& allowed, bool& path_matched) const;
  void Observe(RouteStats& stats, int status, double seconds) const;
  // Authenticates, rate-limits and runs `route`'s handler; counts usage.
  void Dispatch(const Route& route, const core::HttpRequest& req,
                const std::map<std::string, std::string>& params, core::HttpResponse& resp) const;

  const Authenticator& auth_;
  const core::Clock& clock_;
  const RouterOptions options_;
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> route_segments_;  // parallel to routes_
  std::vector<std::unique_ptr<RouteStats>> route_stats_;   // parallel to routes_
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  std::unique_ptr<RouteStats> not_found_stats_;
  std::unique_ptr<RouteStats> not_allowed_stats_;
  std::vector<std::shared_ptr<void>> kept_;
};

// True when `content_type` is JSON ("application/json", optional parameters).
bool IsJsonContentType(std::string_view content_type);

}  // namespace rest

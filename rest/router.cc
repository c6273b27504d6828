#include "rest/router.h"

#include <exception>

#include "rest/error_response.h"

namespace rest {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

bool IsParam(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

bool MatchSegments(const std::vector<std::string>& pattern,
                   const std::vector<std::string_view>& path,
                   std::map<std::string, std::string>* params) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (!IsParam(pattern[i]) && pattern[i] != path[i]) return false;
  }
  if (params != nullptr) {
    params->clear();
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (IsParam(pattern[i])) {
        params->emplace(pattern[i].substr(1, pattern[i].size() - 2), std::string(path[i]));
      }
    }
  }
  return true;
}

// The scope a key needs for /metrics, /healthz, /readyz with auth.protect_public_routes.
const std::string kPublicRouteScope = "metrics:read";

const std::vector<double> kDurationBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05,   0.1,   0.25,   0.5,   1,    2.5};

}  // namespace

bool IsJsonContentType(std::string_view ct) {
  size_t semi = ct.find(';');
  std::string_view media = ct.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
  std::string lower(media);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json" || (lower.starts_with("application/") && lower.ends_with("+json"));
}

Router::Router(const Authenticator& auth, const core::Clock& clock, prometheus::Registry& registry,
               RouterOptions options)
    : auth_(auth),
      clock_(clock),
      options_(options),
      requests_(prometheus::BuildCounter()
                    .Name("tally_http_requests_total")
                    .Help("HTTP requests answered, by route and status code")
                    .Register(registry)),
      durations_(prometheus::BuildHistogram()
                     .Name("tally_http_request_duration_seconds")
                     .Help("Time to answer HTTP requests, by route")
                     .Register(registry)),
      not_found_stats_(MakeStats("not_found")),
      not_allowed_stats_(MakeStats("method_not_allowed")) {}

std::unique_ptr<Router::RouteStats> Router::MakeStats(const std::string& name) {
  auto stats = std::make_unique<RouteStats>();
  stats->name = name;
  stats->duration = &durations_.Add({{"route", name}}, kDurationBuckets);
  return stats;
}

void Router::Add(Route route) {
  std::vector<std::string> segments;
  for (std::string_view s : Segments(route.pattern)) segments.emplace_back(s);
  route_segments_.push_back(std::move(segments));
  route_stats_.push_back(MakeStats(route.name));
  routes_.push_back(std::move(route));
}

int Router::Match(const core::HttpRequest& req, std::map<std::string, std::string>& params,
                  std::string& allowed, bool& path_matched) const {
  path_matched = false;
  int found = -1;
  const std::vector<std::string_view> path = Segments(req.path);
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Route& r = routes_[i];
    const bool method_ok = r.method == req.method || (req.method == "HEAD" && r.method == "GET");
    if (!MatchSegments(route_segments_[i], path, found < 0 && method_ok ? &params : nullptr)) {
      continue;
    }
    path_matched = true;
    if (!allowed.empty()) allowed += ", ";
    allowed += r.method;
    if (r.method == "GET") allowed += ", HEAD";
    if (found < 0 && method_ok) found = static_cast<int>(i);
  }
  return found;
}

void Router::Observe(RouteStats& stats, int status, double seconds) const {
  if (status >= 0 && status < static_cast<int>(stats.by_status.size())) {
    auto& slot = stats.by_status[static_cast<size_t>(status)];
    prometheus::Counter* counter = slot.load(std::memory_order_acquire);
    if (counter == nullptr) {
      // Family::Add returns the same counter for the same labels, so a race is benign.
      counter = &requests_.Add({{"route", stats.name}, {"code", std::to_string(status)}});
      slot.store(counter, std::memory_order_release);
    }
    counter->Increment();
  }
  stats.duration->Observe(seconds);
}

void Router::Handle(const core::HttpRequest& req, core::HttpResponse& resp) const {
  const int64_t start_ns = clock_.MonotonicNs();
  std::map<std::string, std::string> params;
  std::string allowed;
  bool path_matched = false;
  const int route_index = Match(req, params, allowed, path_matched);
  const Route* route = route_index >= 0 ? &routes_[static_cast<size_t>(route_index)] : nullptr;
  RouteStats& stats = route_index >= 0 ? *route_stats_[static_cast<size_t>(route_index)]
                      : path_matched   ? *not_allowed_stats_
                                       : *not_found_stats_;

  if (route == nullptr) {
    if (path_matched) {
      resp.SetHeader("Allow", allowed);
      WriteError(resp, core::MakeError(core::ErrorCode::kMethodNotAllowed,
                                       "method " + req.method + " is not allowed on " + req.path +
                                           " (allowed: " + allowed + ")"));
    } else {
      WriteError(resp, core::MakeError(core::ErrorCode::kNotFound, "no route for " + req.path));
    }
  } else if (req.body_too_large) {
    WriteError(resp, core::MakeError(core::ErrorCode::kPayloadTooLarge,
                                     "request body exceeds limits.max_body_bytes"));
  } else if (route->json_body && !req.body.empty() &&
             (req.Header("content-type") == nullptr ||
              !IsJsonContentType(*req.Header("content-type")))) {
    const std::string* ct = req.Header("content-type");
    WriteError(resp, core::MakeError(core::ErrorCode::kUnsupportedMediaType,
                                     "request body must be JSON (Content-Type: application/json)" +
                                         (ct ? ", got '" + *ct + "'" : std::string(", got none")),
                                     "Content-Type"));
  } else {
    Dispatch(*route, req, params, resp);
  }
  const double seconds = static_cast<double>(clock_.MonotonicNs() - start_ns) / 1e9;
  Observe(stats, resp.status, seconds);
}

namespace {

void SetRateHeaders(core::HttpResponse& resp, const RateDecision& d) {
  resp.SetHeader("X-RateLimit-Limit", std::to_string(d.limit));
  resp.SetHeader("X-RateLimit-Remaining", std::to_string(d.remaining));
  resp.SetHeader("X-RateLimit-Reset", std::to_string(d.reset_unix_s));
}

// Bytes of the request as it crossed the wire, near enough: request line,
// headers and body (civetweb does not report the exact count).
int64_t RequestBytes(const core::HttpRequest& req) {
  size_t n = req.method.size() + req.path.size() + req.query_string.size() + 12 + req.body.size();
  for (const auto& [name, value] : req.headers) n += name.size() + value.size() + 4;
  return static_cast<int64_t>(n);
}

int64_t ResponseBytes(const core::HttpResponse& resp) {
  size_t n = 17 + 16 + resp.content_type.size() + 40 + resp.body.size();
  for (const auto& [name, value] : resp.headers) n += name.size() + value.size() + 4;
  return static_cast<int64_t>(n);
}

}  // namespace

void Router::Dispatch(const Route& route, const core::HttpRequest& req,
                      const std::map<std::string, std::string>& params,
                      core::HttpResponse& resp) const {
  RequestContext ctx;
  const bool needs_key = !route.is_public || options_.protect_public_routes;
  if (needs_key) {
    auto who = auth_.Authenticate(req);
    if (!who) {
      WriteError(resp, who.error());
      if (who.error().code == core::ErrorCode::kUnauthorized) {
        resp.SetHeader("WWW-Authenticate", "Bearer realm=\"tally\"");
      }
      return;
    }
    ctx = std::move(*who);
  }
  const int64_t now_ms = clock_.NowMs();
  std::optional<RateDecision> decision;
  const int64_t limit = route.ingest ? ctx.ingest_rate_limit_rpm : ctx.rate_limit_rpm;
  if (needs_key && options_.rate_limiter != nullptr && limit > 0) {
    const std::string bucket = route.ingest ? ctx.project_id + "\x1fingest" : ctx.project_id;
    decision = options_.rate_limiter->Take(bucket, limit, now_ms);
  }
  const std::string& scope = route.is_public ? kPublicRouteScope : route.scope;
  if (decision && !decision->allowed) {
    WriteError(resp, core::MakeError(core::ErrorCode::kRateLimited,
                                     "rate limit of " + std::to_string(decision->limit) +
                                         " requests per minute exceeded; retry after " +
                                         std::to_string(decision->retry_after_s) + " s"));
    resp.SetHeader("Retry-After", std::to_string(decision->retry_after_s));
  } else if (needs_key && !ctx.Allows(scope)) {
    WriteError(resp, core::MakeError(core::ErrorCode::kForbidden,
                                     "API key lacks the scope '" + scope + "' this route needs",
                                     "scope"));
  } else {
    try {
      route.handler(Call{ctx, req, params}, resp);
    } catch (const std::exception& e) {
      resp = core::HttpResponse();
      WriteError(resp, core::MakeError(core::ErrorCode::kInternal,
                                       std::string("internal error: ") + e.what()));
    } catch (...) {
      // Handle() promises never to throw; anything else escaping would take
      // down the civetweb worker thread.
      resp = core::HttpResponse();
      WriteError(resp, core::MakeError(core::ErrorCode::kInternal, "internal error"));
    }
  }
  if (decision) SetRateHeaders(resp, *decision);
  if (needs_key && options_.usage != nullptr && !ctx.account_id.empty()) {
    options_.usage->Record(ctx.account_id, ctx.project_id, route.name, RequestBytes(req),
                           ResponseBytes(resp), now_ms);
  }
}

}  // namespace rest

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

bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string>& params) {
  auto ps = Segments(pattern);
  auto xs = Segments(path);
  if (ps.size() != xs.size()) return false;
  std::map<std::string, std::string> bound;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (ps[i].size() >= 2 && ps[i].front() == '{' && ps[i].back() == '}') {
      bound.emplace(std::string(ps[i].substr(1, ps[i].size() - 2)), std::string(xs[i]));
    } else if (ps[i] != xs[i]) {
      return false;
    }
  }
  params = std::move(bound);
  return true;
}

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

Router::Router(const Authenticator& auth, const core::Clock& clock, prometheus::Registry& registry)
    : auth_(auth),
      clock_(clock),
      requests_(prometheus::BuildCounter()
                    .Name("tally_http_requests_total")
                    .Help("HTTP requests answered, by route and status code")
                    .Register(registry)),
      durations_(prometheus::BuildHistogram()
                     .Name("tally_http_request_duration_seconds")
                     .Help("Time to answer HTTP requests, by route")
                     .Register(registry)) {}

void Router::Add(Route route) { routes_.push_back(std::move(route)); }

const Route* Router::Match(const core::HttpRequest& req, std::map<std::string, std::string>& params,
                           std::string& allowed, bool& path_matched) const {
  path_matched = false;
  const Route* found = nullptr;
  for (const Route& r : routes_) {
    std::map<std::string, std::string> p;
    if (!MatchPattern(r.pattern, req.path, p)) continue;
    path_matched = true;
    if (!allowed.empty()) allowed += ", ";
    allowed += r.method;
    const bool head_as_get = req.method == "HEAD" && r.method == "GET";
    if (found == nullptr && (r.method == req.method || head_as_get)) {
      found = &r;
      params = std::move(p);
    }
  }
  return found;
}

void Router::Observe(const std::string& route, int status, double seconds) const {
  requests_.Add({{"route", route}, {"code", std::to_string(status)}}).Increment();
  durations_.Add({{"route", route}}, kDurationBuckets).Observe(seconds);
}

void Router::Handle(const core::HttpRequest& req, core::HttpResponse& resp) const {
  const int64_t start_ns = clock_.MonotonicNs();
  std::map<std::string, std::string> params;
  std::string allowed;
  bool path_matched = false;
  const Route* route = Match(req, params, allowed, path_matched);
  std::string route_name = route != nullptr ? route->name : (path_matched ? "method_not_allowed" : "not_found");

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
    RequestContext ctx;
    bool authed = true;
    if (!route->is_public) {
      auto who = auth_.Authenticate(req, route->scope);
      if (!who) {
        WriteError(resp, who.error());
        authed = false;
      } else {
        ctx = std::move(*who);
      }
    }
    if (authed) {
      try {
        route->handler(Call{ctx, req, params}, resp);
      } catch (const std::exception& e) {
        resp = core::HttpResponse();
        WriteError(resp, core::MakeError(core::ErrorCode::kInternal,
                                         std::string("internal error: ") + e.what()));
      }
    }
  }
  const double seconds = static_cast<double>(clock_.MonotonicNs() - start_ns) / 1e9;
  Observe(route_name, resp.status, seconds);
}

}  // namespace rest

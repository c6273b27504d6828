#include "rest/rules_routes.h"

#include <charconv>
#include <cmath>
#include <ctime>

#include <nlohmann/json.hpp>

#include "rest/error_response.h"

namespace rest {
namespace {

using nlohmann::json;

json LabelsJson(const core::Labels& labels) {
  json out = json::object();
  for (const core::Label& l : labels.items()) out[l.name] = l.value;
  return out;
}

json AlertJson(const AlertStatus& a) {
  return json{{"labels", LabelsJson(a.labels)},
              {"annotations", LabelsJson(a.annotations)},
              {"state", a.state},
              {"activeAt", FormatRfc3339Ms(a.active_at_ms)},
              {"value", FormatAlertValue(a.value)}};
}

// Prometheus' durations in the rules API are float seconds.
double Seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

json RuleJson(const RuleStatus& r) {
  json out;
  if (r.alerting) {
    std::string state = "inactive";
    for (const AlertStatus& a : r.alerts) {
      if (a.state == "firing") {
        state = "firing";
        break;
      }
      if (a.state == "pending") state = "pending";
    }
    json alerts = json::array();
    for (const AlertStatus& a : r.alerts) alerts.push_back(AlertJson(a));
    out = json{{"state", state},
               {"name", r.name},
               {"query", r.query},
               {"duration", Seconds(r.for_ms)},
               {"keepFiringFor", Seconds(r.keep_firing_for_ms)},
               {"labels", LabelsJson(r.labels)},
               {"annotations", LabelsJson(r.annotations)},
               {"alerts", std::move(alerts)}};
  } else {
    out = json{{"name", r.name}, {"query", r.query}, {"labels", LabelsJson(r.labels)}};
  }
  out["health"] = r.health;
  if (!r.last_error.empty()) out["lastError"] = r.last_error;
  out["evaluationTime"] = r.evaluation_seconds;
  out["lastEvaluation"] = FormatRfc3339Ms(r.last_eval_ms);
  out["type"] = r.alerting ? "alerting" : "recording";
  return out;
}

void WriteData(core::HttpResponse& resp, const json& data) {
  resp.status = 200;
  resp.content_type = "application/json";
  resp.body = json{{"status", "success"}, {"data", data}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

void WriteBadData(core::HttpResponse& resp, const std::string& message) {
  resp.status = 400;
  resp.content_type = "application/json";
  resp.body = json{{"status", "error"}, {"errorType", "bad_data"}, {"error", message}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string FormatPromDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const int64_t units[] = {365LL * 86'400'000, 7LL * 86'400'000, 86'400'000, 3'600'000, 60'000,
                           1'000, 1};
  const char* names[] = {"y", "w", "d", "h", "m", "s", "ms"};
  for (size_t i = 0; i < 7; ++i) {
    if (ms >= units[i]) {
      out += std::to_string(ms / units[i]) + names[i];
      ms %= units[i];
    }
  }
  return out;
}

std::string FormatAlertValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  return std::string(buf, res.ptr);
}

std::string FormatRfc3339Ms(int64_t ms) {
  if (ms == 0) return "0001-01-01T00:00:00Z";
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (frac != 0) {
    // Go trims trailing zeros of the fraction.
    std::string f = std::to_string(1000 + frac).substr(1);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "Z";
}

void AddRulesRoutes(Router& router, const RulesRoutesOptions& options) {
  const AggregatorStatusSource* source = options.source;
  router.Add(Route{"GET", "/api/v1/rules", "prometheus.rules", false, false, "metrics:read",
                   [source](const Call& c, core::HttpResponse& resp) {
                     std::string type;  // Prometheus' ?type=alert|record filter
                     for (const auto& [k, v] : c.req.QueryParams()) {
                       if (k == "type") type = v;
                     }
                     if (!type.empty() && type != "alert" && type != "record") {
                       WriteBadData(resp, "invalid parameter \"type\": must be alert or record, got " + type);
                       return;
                     }
                     json groups = json::array();
                     for (const RuleGroupStatus& g : source->RuleGroups()) {
                       if (g.project != c.ctx.project_id) continue;
                       json rules = json::array();
                       for (const RuleStatus& r : g.rules) {
                         if (type == "alert" && !r.alerting) continue;
                         if (type == "record" && r.alerting) continue;
                         rules.push_back(RuleJson(r));
                       }
                       if (!type.empty() && rules.empty()) continue;
                       groups.push_back(json{{"name", g.name},
                                             {"file", g.file},
                                             {"rules", std::move(rules)},
                                             {"interval", Seconds(g.interval_ms)},
                                             {"limit", g.limit},
                                             {"evaluationTime", g.evaluation_seconds},
                                             {"lastEvaluation", FormatRfc3339Ms(g.last_eval_ms)}});
                     }
                     WriteData(resp, json{{"groups", std::move(groups)}});
                   }});
  router.Add(Route{"GET", "/api/v1/alerts", "prometheus.alerts", false, false, "metrics:read",
                   [source](const Call& c, core::HttpResponse& resp) {
                     json alerts = json::array();
                     for (const RuleGroupStatus& g : source->RuleGroups()) {
                       if (g.project != c.ctx.project_id) continue;
                       for (const RuleStatus& r : g.rules) {
                         for (const AlertStatus& a : r.alerts) alerts.push_back(AlertJson(a));
                       }
                     }
                     WriteData(resp, json{{"alerts", std::move(alerts)}});
                   }});
  router.Add(Route{"GET", "/api/v1/targets", "prometheus.targets", false, false, "metrics:read",
                   [source](const Call& c, core::HttpResponse& resp) {
                     json active = json::array();
                     for (const TargetStatus& t : source->Targets()) {
                       if (t.project != c.ctx.project_id) continue;
                       json labels = LabelsJson(t.labels);
                       active.push_back(json{
                           {"discoveredLabels", labels},
                           {"labels", labels},
                           {"scrapePool", t.job},
                           {"scrapeUrl", t.scrape_url},
                           {"globalUrl", t.scrape_url},
                           {"lastError", t.last_error},
                           {"lastScrape", FormatRfc3339Ms(t.last_scrape_ms)},
                           {"lastScrapeDuration", t.last_duration_seconds},
                           {"health", t.health},
                           {"scrapeInterval", FormatPromDuration(t.interval_ms)},
                           {"scrapeTimeout", FormatPromDuration(t.timeout_ms)}});
                     }
                     WriteData(resp, json{{"activeTargets", std::move(active)},
                                          {"droppedTargets", json::array()}});
                   }});
  if (options.reload) {
    router.Add(Route{"POST", "/-/reload", "reload", false, false, "account:admin",
                     [reload = options.reload](const Call&, core::HttpResponse& resp) {
                       if (auto st = reload(); !st) {
                         WriteError(resp, core::MakeError(core::ErrorCode::kInvalidRequest,
                                                          st.error().message, "config"));
                         return;
                       }
                       resp.status = 200;
                       resp.content_type = "application/json";
                       resp.body = R"({"status":"success"})";
                     }});
  }
}

}  // namespace rest

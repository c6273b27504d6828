#include "rest/rules_routes.h"

#include <charconv>
#include <cmath>
#include <ctime>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/time_parse.h"
#include "exporter/point_decoder.h"
#include "rest/error_response.h"
#include "rest/prometheus_api_routes.h"
#include "rest/store_querier.h"

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

core::Unexpected<core::Error> BadField(std::string param, std::string message) {
  return core::Fail(core::ErrorCode::kInvalidRequest, std::move(message), std::move(param));
}

// A time field: a JSON number (unix seconds, or ms above 1e11) or a string
// (RFC 3339, unix seconds, "now", "-2h").
core::Result<int64_t> TimeField(const json& v, const std::string& param, int64_t now_ms) {
  if (v.is_number()) {
    auto ms = core::UnixNumberToMs(v.get<double>());
    if (!ms) return BadField(param, param + ": " + ms.error().message);
    return *ms;
  }
  if (v.is_string()) {
    auto ms = core::ParseTimeParamMs(v.get<std::string>(), now_ms);
    if (!ms) return BadField(param, param + ": " + ms.error().message);
    return *ms;
  }
  return BadField(param, param + ": must be an RFC 3339 time or unix seconds");
}

core::Result<std::vector<std::string>> StringList(const json& v, const std::string& param) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) return BadField(param, param + ": must be a list of strings");
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) {
      const std::string p = param + "[" + std::to_string(i) + "]";
      return BadField(p, p + ": must be a string");
    }
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

// In this writer, backfilled rule output is stored like the live rules'
// (MetricType::kRecorded) through the ingest path: reserve, WAL, commit.
class IngestBackfillWriter final : public rules::BackfillWriter {
 public:
  IngestBackfillWriter(exporter::IngestService& ingest, std::string project)
      : ingest_(ingest), project_(std::move(project)) {}

  core::Result<rules::BackfillWriteResult> Write(
      std::span<const rules::BackfillPoint> points) override {
    exporter::DecodedBatch batch;
    batch.points.reserve(points.size());
    for (size_t i = 0; i < points.size(); ++i) {
      const rules::BackfillPoint& p = points[i];
      batch.points.push_back(
          exporter::PointFromLabels(p.labels, p.t_ms, p.v, store::MetricType::kRecorded, i));
    }
    batch.total = batch.points.size();
    batch.is_batch = true;
    auto outcome = ingest_.Store(project_, batch);
    if (!outcome) return core::Unexpected(outcome.error());
    rules::BackfillWriteResult result;
    for (const exporter::PointError& e : outcome->errors) {
      if (result.rejected.empty()) result.first_error = e.error.message;
      result.rejected.push_back(e.index);
    }
    return result;
  }

 private:
  exporter::IngestService& ingest_;
  const std::string project_;
};

json BackfillJson(const BackfillRequest& request, const rules::BackfillReport& r,
                  double seconds) {
  json groups = json::array();
  for (const rules::BackfillGroupReport& g : r.groups) {
    json j{{"file", g.file},
           {"name", g.name},
           {"interval", Seconds(g.interval_ms)},
           {"rules", g.rules},
           {"steps", g.steps},
           {"samplesWritten", g.samples_written},
           {"samplesRejected", g.samples_rejected},
           {"ruleFailures", g.rule_failures}};
    if (g.steps > 0) {
      j["firstStep"] = FormatRfc3339Ms(g.first_step_ms);
      j["lastStep"] = FormatRfc3339Ms(g.last_step_ms);
    }
    if (!g.first_error.empty()) j["firstError"] = g.first_error;
    groups.push_back(std::move(j));
  }
  return json{{"start", FormatRfc3339Ms(request.start_ms)},
              {"end", FormatRfc3339Ms(request.end_ms)},
              {"steps", r.steps},
              {"evaluations", r.evaluations},
              {"samplesWritten", r.samples_written},
              {"samplesRejected", r.samples_rejected},
              {"writes", r.writes},
              {"durationSeconds", seconds},
              {"groups", std::move(groups)}};
}

}  // namespace

core::Result<BackfillRequest> ParseBackfillRequest(const core::HttpRequest& req, int64_t now_ms) {
  BackfillRequest out;
  json start = nullptr, end = nullptr;
  const std::string* type = req.Header("content-type");
  const bool is_json = type != nullptr && IsJsonContentType(*type);
  if (is_json) {
    json doc = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return BadField("body", "the body must be a JSON object");
    }
    for (const auto& [key, value] : doc.items()) {
      if (key == "start") {
        start = value;
      } else if (key == "end") {
        end = value;
      } else if (key == "files") {
        auto files = StringList(value, "files");
        if (!files) return core::Unexpected(files.error());
        for (size_t i = 0; i < files->size(); ++i) {
          out.sources.push_back({"files[" + std::to_string(i) + "]", (*files)[i], ""});
          if ((*files)[i].empty()) return BadField(out.sources.back().param, "empty file path");
        }
      } else if (key == "rules") {
        const json list = value.is_array() ? value : json::array({value});
        for (size_t i = 0; i < list.size(); ++i) {
          const std::string param = "rules[" + std::to_string(i) + "]";
          const json& item = list[i];
          if (item.is_string()) {
            out.sources.push_back({param, "", item.get<std::string>()});
          } else if (item.is_object() && item.contains("yaml") && item["yaml"].is_string() &&
                     (!item.contains("name") || item["name"].is_string()) &&
                     item.size() == (item.contains("name") ? 2u : 1u)) {
            out.sources.push_back({param, item.value("name", std::string()),
                                   item["yaml"].get<std::string>()});
          } else {
            return BadField(param, param + ": must be rule-file YAML, or {\"name\", \"yaml\"}");
          }
          if (out.sources.back().yaml.empty()) return BadField(param, param + ": empty rules");
        }
      } else if (key == "groups") {
        auto groups = StringList(value, "groups");
        if (!groups) return core::Unexpected(groups.error());
        out.groups = std::move(*groups);
      } else {
        return BadField(key, "unknown field " + key +
                                 " (expected start, end, files, rules, groups)");
      }
    }
  } else {
    std::vector<std::pair<std::string, std::string>> params;
    if (type != nullptr && type->find("application/x-www-form-urlencoded") != std::string::npos) {
      params = ParseFormUrlEncoded(req.body);
    } else if (!req.body.empty()) {
      return core::Fail(core::ErrorCode::kUnsupportedMediaType,
                        "send application/json or application/x-www-form-urlencoded", "body");
    }
    auto url = ParseFormUrlEncoded(req.query_string);
    params.insert(params.end(), url.begin(), url.end());
    size_t files = 0, inline_rules = 0;
    for (const auto& [key, value] : params) {
      if (key == "start") {
        start = value;
      } else if (key == "end") {
        end = value;
      } else if (key == "file") {
        const std::string param = "file[" + std::to_string(files++) + "]";
        if (value.empty()) return BadField(param, "empty file path");
        out.sources.push_back({param, value, ""});
      } else if (key == "rules") {
        const std::string param = "rules[" + std::to_string(inline_rules++) + "]";
        if (value.empty()) return BadField(param, param + ": empty rules");
        out.sources.push_back({param, "", value});
      } else if (key == "group") {
        out.groups.push_back(value);
      } else {
        return BadField(key, "unknown parameter " + key +
                                 " (expected start, end, file, rules, group)");
      }
    }
  }
  if (start.is_null()) return BadField("start", "start is required");
  auto start_ms = TimeField(start, "start", now_ms);
  if (!start_ms) return core::Unexpected(start_ms.error());
  out.start_ms = *start_ms;
  out.end_ms = now_ms;
  if (!end.is_null()) {
    auto end_ms = TimeField(end, "end", now_ms);
    if (!end_ms) return core::Unexpected(end_ms.error());
    out.end_ms = *end_ms;
  }
  if (out.sources.empty()) {
    return BadField("rules", "give rule files on the server (files) or rule-file YAML (rules)");
  }
  for (const std::string& g : out.groups) {
    if (g.empty()) return BadField("groups", "empty group name");
  }
  return out;
}

core::Result<rules::BackfillReport> BackfillService::Run(const std::string& project,
                                                         const BackfillRequest& request) {
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return core::Fail(core::ErrorCode::kConflict,
                      "a backfill is already running; retry when it has finished");
  }
  // Loading YAML and evaluating PromQL recurse: not on a civetweb worker's
  // small stack.
  core::Result<rules::BackfillReport> result = core::Fail(core::ErrorCode::kInternal, "not run");
  std::thread worker([&] { result = RunLocked(project, request); });
  worker.join();
  return result;
}

core::Result<rules::BackfillReport> BackfillService::RunLocked(const std::string& project,
                                                               const BackfillRequest& request) {
  if (options_.ready != nullptr && !options_.ready->load()) {
    return core::Fail(core::ErrorCode::kUnavailable,
                      "the server is starting (WAL replay) or stopping; retry when /readyz is 200");
  }
  const int64_t now = options_.clock->NowMs();
  if (request.end_ms > now) {
    return BadField("end", "end (" + core::FormatIso8601(request.end_ms) +
                               ") is in the future: backfill only what has happened (now is " +
                               core::FormatIso8601(now) + ")");
  }
  if (request.start_ms < now - options_.retention_ms) {
    return BadField("start", "start (" + core::FormatIso8601(request.start_ms) +
                                 ") is before the retention window (storage.retention): raw "
                                 "samples before " + core::FormatIso8601(now - options_.retention_ms) +
                                 " may be gone, so results would be wrong");
  }
  auto groups = rules::LoadRuleSources(request.sources);
  if (!groups) return core::Unexpected(groups.error());
  rules::BackfillOptions o;
  o.start_ms = request.start_ms;
  o.end_ms = request.end_ms;
  o.default_interval_ms = options_.default_interval_ms;
  o.group_names = request.groups;
  o.max_evaluations = options_.max_evaluations;
  StoreQuerier querier(*options_.store, project, options_.include_project_label);
  IngestBackfillWriter writer(*options_.ingest, project);
  return rules::RunBackfill(*groups, o, querier, writer);
}

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
  if (options.backfill != nullptr) {
    router.Add(Route{
        "POST", "/api/v1/admin/backfill", "admin.backfill", false, false, "account:admin",
        [service = options.backfill, clock = options.clock](const Call& c,
                                                            core::HttpResponse& resp) {
          auto request = ParseBackfillRequest(c.req, clock->NowMs());
          if (!request) return WriteError(resp, request.error());
          const int64_t started = clock->MonotonicNs();
          auto report = service->Run(c.ctx.project_id, *request);
          if (!report) {
            if (report.error().code == core::ErrorCode::kPayloadTooLarge) {
              // A limit of execution, like Prometheus' 422 "execution".
              resp.status = 422;
              resp.content_type = "application/json";
              resp.body = json{{"error",
                                {{"code", "execution"},
                                 {"message", report.error().message},
                                 {"param", report.error().param}}}}
                              .dump(-1, ' ', false, json::error_handler_t::replace);
              return;
            }
            return WriteError(resp, report.error());
          }
          const double seconds = static_cast<double>(clock->MonotonicNs() - started) / 1e9;
          WriteData(resp, BackfillJson(*request, *report, seconds));
        }});
  }
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

#include "rest/analytics_routes.h"

#include <charconv>
#include <limits>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/time_parse.h"
#include "rest/analytics.h"
#include "rest/anomaly_service.h"
#include "rest/calls_stats.h"
#include "rest/csv_writer.h"
#include "rest/error_response.h"
#include "rest/json_body.h"

namespace rest {
namespace {

using core::ErrorCode;
using json = nlohmann::json;

constexpr const char* kScope = "analytics:read";

core::Unexpected<core::Error> Invalid(std::string message, std::string param) {
  return core::Fail(ErrorCode::kInvalidRequest, std::move(message), std::move(param));
}

// A query parameter that must not be empty when present.
core::Result<std::optional<std::string>> OptionalParam(const core::HttpRequest& req,
                                                       const std::string& name) {
  std::optional<std::string> v = req.QueryParam(name);
  if (!v) return v;
  if (v->empty()) return Invalid("'" + name + "' must not be empty", name);
  if (v->size() > 1024) return Invalid("'" + name + "' is longer than 1024 bytes", name);
  return v;
}

// `tags=k:v,k2:v2` (AND).
core::Result<std::vector<std::pair<std::string, std::string>>> ParseTags(
    const core::HttpRequest& req) {
  std::vector<std::pair<std::string, std::string>> tags;
  std::optional<std::string> text = req.QueryParam("tags");
  if (!text) return tags;
  size_t pos = 0;
  while (pos <= text->size()) {
    size_t comma = text->find(',', pos);
    if (comma == std::string::npos) comma = text->size();
    std::string item = text->substr(pos, comma - pos);
    size_t colon = item.find(':');
    if (colon == std::string::npos || colon == 0) {
      return Invalid("tags must be key:value pairs separated by commas (got '" +
                         item.substr(0, 64) + "')",
                     "tags");
    }
    tags.emplace_back(item.substr(0, colon), item.substr(colon + 1));
    if (tags.size() > 32) return Invalid("at most 32 tag filters", "tags");
    pos = comma + 1;
  }
  return tags;
}

// The range of start/end parameters; both required unless `defaults`.
core::Result<TimeRange> ParseRange(const core::HttpRequest& req, int64_t now_ms,
                                   const std::string& start_name, const std::string& end_name) {
  std::optional<std::string> start = req.QueryParam(start_name);
  std::optional<std::string> end = req.QueryParam(end_name);
  if (!start) return Invalid("'" + start_name + "' is required (YYYY-MM-DD or ISO 8601)", start_name);
  if (!end) return Invalid("'" + end_name + "' is required (YYYY-MM-DD or ISO 8601)", end_name);
  auto s = ParseRangeStart(*start, now_ms, start_name);
  if (!s) return core::Unexpected(s.error());
  auto e = ParseRangeEnd(*end, now_ms, end_name);
  if (!e) return core::Unexpected(e.error());
  if (*s >= *e) {
    return Invalid("'" + start_name + "' must be before '" + end_name + "' (a date range includes both days)",
                   start_name);
  }
  return TimeRange{*s, *e};
}

// Echo of a range bound: a plain date as given, anything else as ISO 8601 UTC.
json EchoBound(const std::string& text, int64_t ms) {
  return core::IsPlainDate(text) ? text : core::FormatIso8601(ms);
}

json Period(const core::HttpRequest& req, const TimeRange& r, const std::string& start_name,
            const std::string& end_name) {
  return {{"start", EchoBound(req.QueryParam(start_name).value_or(""), r.start_ms)},
          {"end", EchoBound(req.QueryParam(end_name).value_or(""), r.end_ms)}};
}

core::Result<AnalyticsFilter> ParseFilter(const core::HttpRequest& req, int64_t now_ms,
                                          const std::string& start_name = "start_date",
                                          const std::string& end_name = "end_date") {
  AnalyticsFilter f;
  auto range = ParseRange(req, now_ms, start_name, end_name);
  if (!range) return core::Unexpected(range.error());
  f.range = *range;
  for (auto [name, field] : {std::pair{"entity_type", &f.entity_type},
                             std::pair{"entity_id", &f.entity_id}, std::pair{"model", &f.model},
                             std::pair{"provider", &f.provider}}) {
    auto v = OptionalParam(req, name);
    if (!v) return core::Unexpected(v.error());
    *field = *v;
  }
  auto tags = ParseTags(req);
  if (!tags) return core::Unexpected(tags.error());
  f.tags = std::move(*tags);
  return f;
}

core::Result<bool> WantsCsv(const core::HttpRequest& req) {
  std::optional<std::string> f = req.QueryParam("format");
  if (!f || *f == "json") return false;
  if (*f == "csv") return true;
  return Invalid("format must be json or csv (got '" + f->substr(0, 32) + "')", "format");
}

core::Result<int64_t> QueryOffset(const core::HttpRequest& req) {
  std::optional<std::string> text = req.QueryParam("offset");
  if (!text) return 0;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 0) {
    return Invalid("offset must be a non-negative integer (got '" + text->substr(0, 32) + "')",
                   "offset");
  }
  return value;
}

void WriteJson(core::HttpResponse& resp, int status, const json& body) {
  resp.status = status;
  resp.content_type = "application/json";
  resp.body = DumpJson(body);
}

// The `data` rows as CSV with `columns`.
void WriteCsv(core::HttpResponse& resp, const json& rows, std::vector<std::string> columns) {
  CsvWriter csv(std::move(columns));
  for (const json& row : rows) csv.AddRow(row);
  resp.status = 200;
  resp.content_type = kCsvContentType;
  resp.body = csv.Take();
}

const std::vector<std::string> kTotalsColumns = {"total_cost", "total_events", "total_input_tokens",
                                                 "total_output_tokens", "avg_latency_ms"};

std::vector<std::string> With(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

core::Result<CostsGroupBy> ParseGroupBy(const std::optional<std::string>& text, std::string& tag_key) {
  if (!text) return CostsGroupBy::kNone;
  static const std::pair<const char*, CostsGroupBy> kNames[] = {
      {"entity", CostsGroupBy::kEntity}, {"model", CostsGroupBy::kModel},
      {"provider", CostsGroupBy::kProvider}, {"day", CostsGroupBy::kDay},
      {"week", CostsGroupBy::kWeek}, {"month", CostsGroupBy::kMonth}};
  for (const auto& [name, value] : kNames) {
    if (*text == name) return value;
  }
  if (text->rfind("tags.", 0) == 0 && text->size() > 5 && text->size() <= 105) {
    tag_key = text->substr(5);
    return CostsGroupBy::kTag;
  }
  return Invalid("group_by must be one of entity, model, provider, day, week, month, tags.<key> "
                 "(got '" + text->substr(0, 64) + "')",
                 "group_by");
}

class AnalyticsApi {
 public:
  explicit AnalyticsApi(AnalyticsOptions options) : o_(std::move(options)) {}

  void Register(Router& router) {
    Get(router, "/v1/analytics/costs", "analytics.costs", &AnalyticsApi::CostsRoute);
    Get(router, "/v1/analytics/costs/timeseries", "analytics.costs_timeseries",
        &AnalyticsApi::TimeseriesRoute);
    Get(router, "/v1/analytics/models", "analytics.models", &AnalyticsApi::ModelsRoute);
    Get(router, "/v1/analytics/entities/top", "analytics.entities_top", &AnalyticsApi::TopRoute);
    Get(router, "/v1/analytics/sessions", "analytics.sessions", &AnalyticsApi::SessionsRoute);
    Get(router, "/v1/analytics/compare", "analytics.compare", &AnalyticsApi::CompareRoute);
    Get(router, "/v1/entities", "entities.list", &AnalyticsApi::EntitiesRoute);
    Get(router, "/v1/entities/{entity_type}/{entity_id}", "entities.get",
        &AnalyticsApi::EntityRoute);
    if (o_.anomalies != nullptr) {
      Get(router, "/v1/analytics/anomalies", "analytics.anomalies", &AnalyticsApi::AnomaliesRoute);
      Route patch;
      patch.method = "PATCH";
      patch.pattern = "/v1/analytics/anomalies/{anomaly_id}";
      patch.name = "analytics.anomalies.update";
      patch.scope = kScope;
      patch.json_body = true;
      patch.handler = [this](const Call& call, core::HttpResponse& resp) {
        core::Status s = UpdateAnomalyRoute(call, resp);
        if (!s) WriteError(resp, s.error());
      };
      router.Add(std::move(patch));
      Route detect;
      detect.method = "POST";
      detect.pattern = "/v1/analytics/anomalies/detect";
      detect.name = "analytics.anomalies.detect";
      detect.scope = "account:admin";
      detect.handler = [this](const Call& call, core::HttpResponse& resp) {
        core::Status s = DetectAnomaliesRoute(call, resp);
        if (!s) WriteError(resp, s.error());
      };
      router.Add(std::move(detect));
    }
    for (const char* path : {"/v1/calls/stats", "/calls/stats"}) {
      Route r;
      r.method = "POST";
      r.pattern = path;
      // Route names are unique (self-metrics, usage): the Weave-compatible
      // alias without /v1 gets its own.
      r.name = std::string_view(path) == "/calls/stats" ? "calls.stats.root" : "calls.stats";
      r.scope = kScope;
      r.json_body = true;
      r.handler = [this](const Call& call, core::HttpResponse& resp) {
        core::Status s = CallsStatsRoute(call, resp);
        if (!s) WriteError(resp, s.error());
      };
      router.Add(std::move(r));
    }
  }

 private:
  using Method = core::Status (AnalyticsApi::*)(const Call&, const std::string& project,
                                                core::HttpResponse&);

  void Get(Router& router, const char* pattern, const char* name, Method method) {
    Route r;
    r.method = "GET";
    r.pattern = pattern;
    r.name = name;
    r.scope = kScope;
    r.handler = [this, method](const Call& call, core::HttpResponse& resp) {
      auto project = ReadableProject(call.ctx, call.req.QueryParam("project_id").value_or(""), o_);
      core::Status s = project ? (this->*method)(call, *project, resp)
                               : core::Status(core::Unexpected(project.error()));
      if (!s) WriteError(resp, s.error());
    };
    router.Add(std::move(r));
  }

  int64_t Now() const { return o_.clock->NowMs(); }

  core::Status CostsRoute(const Call& call, const std::string& project, core::HttpResponse& resp) {
    auto csv = WantsCsv(call.req);
    if (!csv) return core::Unexpected(csv.error());
    CostsQuery q;
    auto group_by = ParseGroupBy(call.req.QueryParam("group_by"), q.tag_key);
    if (!group_by) return core::Unexpected(group_by.error());
    q.group_by = *group_by;
    auto filter = ParseFilter(call.req, Now());
    if (!filter) return core::Unexpected(filter.error());
    q.filter = std::move(*filter);
    q.period = Period(call.req, q.filter.range, "start_date", "end_date");
    CostsResult out = Costs(*o_.store, project, q);
    resp.status = 200;
    if (*csv) {
      resp.content_type = kCsvContentType;
      resp.body = out.data.Csv();
    } else {
      resp.content_type = "application/json";
      resp.body = out.Json();
    }
    return {};
  }

  core::Status TimeseriesRoute(const Call& call, const std::string& project,
                               core::HttpResponse& resp) {
    auto csv = WantsCsv(call.req);
    if (!csv) return core::Unexpected(csv.error());
    auto interval = ParseInterval(call.req.QueryParam("interval").value_or("day"), "interval");
    if (!interval) return core::Unexpected(interval.error());
    auto filter = ParseFilter(call.req, Now());
    if (!filter) return core::Unexpected(filter.error());
    const int64_t n = CountIntervals(filter->range, *interval, BucketGrid::kMaxBuckets);
    if (n > BucketGrid::kMaxBuckets) {
      return Invalid("the range needs " + std::to_string(n) + " " +
                         std::string(IntervalName(*interval)) +
                         " buckets; at most 10000: use a longer interval or a shorter range",
                     "interval");
    }
    json out = CostsTimeseries(*o_.store, project, *filter, *interval);
    if (*csv) {
      WriteCsv(resp, out["data"], {"timestamp", "cost", "events", "input_tokens", "output_tokens"});
    } else {
      WriteJson(resp, 200, out);
    }
    return {};
  }

  core::Status ModelsRoute(const Call& call, const std::string& project, core::HttpResponse& resp) {
    auto csv = WantsCsv(call.req);
    if (!csv) return core::Unexpected(csv.error());
    auto filter = ParseFilter(call.req, Now());
    if (!filter) return core::Unexpected(filter.error());
    json out = Models(*o_.store, project, *filter);
    if (*csv) {
      WriteCsv(resp, out["data"],
               With(With({"model", "provider", "cost_source"}, kTotalsColumns),
                    {"percentage_of_total"}));
    } else {
      WriteJson(resp, 200, out);
    }
    return {};
  }

  core::Status TopRoute(const Call& call, const std::string& project, core::HttpResponse& resp) {
    auto csv = WantsCsv(call.req);
    if (!csv) return core::Unexpected(csv.error());
    auto limit = QueryLimit(call.req, 10, 100);
    if (!limit) return core::Unexpected(limit.error());
    std::string order = call.req.QueryParam("order").value_or("desc");
    if (order != "desc" && order != "asc") {
      return Invalid("order must be desc or asc (got '" + order.substr(0, 32) + "')", "order");
    }
    auto filter = ParseFilter(call.req, Now());
    if (!filter) return core::Unexpected(filter.error());
    json out = TopEntities(*o_.store, project, *filter, *limit, order == "desc");
    if (*csv) {
      WriteCsv(resp, out["data"], {"rank", "entity_type", "entity_id", "total_cost", "total_events"});
    } else {
      WriteJson(resp, 200, out);
    }
    return {};
  }

  core::Status SessionsRoute(const Call& call, const std::string& project,
                             core::HttpResponse& resp) {
    auto csv = WantsCsv(call.req);
    if (!csv) return core::Unexpected(csv.error());
    auto limit = QueryLimit(call.req, 100, 1000);
    if (!limit) return core::Unexpected(limit.error());
    auto filter = ParseFilter(call.req, Now());
    if (!filter) return core::Unexpected(filter.error());
    json out = Sessions(*o_.store, project, *filter, *limit);
    if (*csv) {
      WriteCsv(resp, out["data"],
               {"session_id", "entity_type", "entity_id", "started_at", "ended_at", "turn_count",
                "total_cost", "total_tokens", "total_events"});
    } else {
      WriteJson(resp, 200, out);
    }
    return {};
  }

  core::Status CompareRoute(const Call& call, const std::string& project,
                            core::HttpResponse& resp) {
    auto csv = WantsCsv(call.req);
    if (!csv) return core::Unexpected(csv.error());
    auto p1 = ParseFilter(call.req, Now(), "period1_start", "period1_end");
    if (!p1) return core::Unexpected(p1.error());
    auto p2 = ParseFilter(call.req, Now(), "period2_start", "period2_end");
    if (!p2) return core::Unexpected(p2.error());
    json out = Compare(*o_.store, project, *p1, *p2,
                       Period(call.req, p1->range, "period1_start", "period1_end"),
                       Period(call.req, p2->range, "period2_start", "period2_end"));
    if (!*csv) {
      WriteJson(resp, 200, out);
      return {};
    }
    json rows = json::array();
    for (const char* p : {"period1", "period2"}) {
      json row = out[p];
      row["period"] = p;
      rows.push_back(std::move(row));
    }
    json change = out["changes"];
    change["period"] = "change";
    change["total_cost"] = change["cost_change"];
    change["total_events"] = change["events_change"];
    rows.push_back(std::move(change));
    WriteCsv(resp, rows, {"period", "start", "end", "total_cost", "total_events",
                          "cost_change_percent", "events_change_percent"});
    return {};
  }

  core::Status EntitiesRoute(const Call& call, const std::string& project,
                             core::HttpResponse& resp) {
    auto csv = WantsCsv(call.req);
    if (!csv) return core::Unexpected(csv.error());
    auto limit = QueryLimit(call.req, 100, 1000);
    if (!limit) return core::Unexpected(limit.error());
    auto offset = QueryOffset(call.req);
    if (!offset) return core::Unexpected(offset.error());
    AnalyticsFilter f;
    f.range = {std::numeric_limits<int64_t>::min() / 4, std::numeric_limits<int64_t>::max() / 4};
    if (call.req.QueryParam("start_date") || call.req.QueryParam("end_date")) {
      auto range = ParseRange(call.req, Now(), "start_date", "end_date");
      if (!range) return core::Unexpected(range.error());
      f.range = *range;
    }
    auto type = OptionalParam(call.req, "type");
    if (!type) return core::Unexpected(type.error());
    auto entity_type = OptionalParam(call.req, "entity_type");
    if (!entity_type) return core::Unexpected(entity_type.error());
    f.entity_type = *type ? *type : *entity_type;
    auto tags = ParseTags(call.req);
    if (!tags) return core::Unexpected(tags.error());
    f.tags = std::move(*tags);
    json out = ListEntities(*o_.store, project, f, *limit, *offset);
    if (*csv) {
      WriteCsv(resp, out["data"],
               {"entity_type", "entity_id", "first_seen", "last_seen", "total_cost",
                "total_events"});
    } else {
      WriteJson(resp, 200, out);
    }
    return {};
  }

  core::Status EntityRoute(const Call& call, const std::string& project, core::HttpResponse& resp) {
    const std::string& type = call.path_params.at("entity_type");
    const std::string& id = call.path_params.at("entity_id");
    std::optional<json> out = GetEntity(*o_.store, project, type, id);
    if (!out) {
      return core::Fail(ErrorCode::kNotFound,
                        "no events for entity '" + type.substr(0, 100) + "/" + id.substr(0, 200) +
                            "' in this project",
                        "entity_id");
    }
    WriteJson(resp, 200, *out);
    return {};
  }

  // GET /v1/analytics/anomalies: stored anomalies whose bucket starts in the
  // range, newest first.
  core::Status AnomaliesRoute(const Call& call, const std::string& project,
                              core::HttpResponse& resp) {
    auto csv = WantsCsv(call.req);
    if (!csv) return core::Unexpected(csv.error());
    if (call.req.QueryParam("tags")) {
      return Invalid("tags do not apply to anomalies (they are per project and entity)", "tags");
    }
    auto limit = QueryLimit(call.req, 100, 1000);
    if (!limit) return core::Unexpected(limit.error());
    auto range = ParseRange(call.req, Now(), "start_date", "end_date");
    if (!range) return core::Unexpected(range.error());
    control::AnomalyFilter filter;
    filter.start_ms = range->start_ms;
    filter.end_ms = range->end_ms;
    filter.limit = *limit;
    auto entity_type = OptionalParam(call.req, "entity_type");
    if (!entity_type) return core::Unexpected(entity_type.error());
    filter.entity_type = *entity_type;
    auto status = OptionalParam(call.req, "status");
    if (!status) return core::Unexpected(status.error());
    if (*status && **status != "active" && **status != "resolved" && **status != "dismissed") {
      return Invalid("status must be active, resolved or dismissed (got '" +
                         (*status)->substr(0, 32) + "')",
                     "status");
    }
    filter.status = *status;
    auto list = o_.anomalies->List(project, filter);
    if (!list) return core::Unexpected(list.error());
    json data = json::array();
    for (const control::Anomaly& a : *list) data.push_back(AnomalyJson(a));
    if (*csv) {
      WriteCsv(resp, data, AnomalyCsvColumns());
    } else {
      WriteJson(resp, 200, {{"data", std::move(data)}});
    }
    return {};
  }

  // PATCH /v1/analytics/anomalies/{anomaly_id} {"status":"dismissed"}.
  core::Status UpdateAnomalyRoute(const Call& call, core::HttpResponse& resp) {
    auto project = ReadableProject(call.ctx, call.req.QueryParam("project_id").value_or(""), o_);
    if (!project) return core::Unexpected(project.error());
    auto body = JsonBody::Parse(call.req.body, {"status"});
    if (!body) return core::Unexpected(body.error());
    auto status = body->String("status", 1, 32);
    if (!status) return core::Unexpected(status.error());
    if (!*status) return Invalid("'status' is required (\"dismissed\")", "status");
    if (**status != "dismissed") {
      return Invalid("status can only be set to dismissed (got '" + **status + "')", "status");
    }
    const std::string& id = call.path_params.at("anomaly_id");
    auto updated = o_.anomalies->Dismiss(*project, id, Now());
    if (!updated) {
      if (updated.error().code == ErrorCode::kNotFound) {
        return core::Fail(ErrorCode::kNotFound,
                          "anomaly '" + id.substr(0, 64) + "' not found in this project",
                          "anomaly_id");
      }
      return core::Unexpected(updated.error());
    }
    WriteJson(resp, 200, AnomalyJson(*updated));
    return {};
  }

  // POST /v1/analytics/anomalies/detect: one detection pass now (tests,
  // operators); answers what it found.
  core::Status DetectAnomaliesRoute(const Call& call, core::HttpResponse& resp) {
    auto project = ReadableProject(call.ctx, call.req.QueryParam("project_id").value_or(""), o_);
    if (!project) return core::Unexpected(project.error());
    auto report = o_.anomalies->DetectProject(*project, Now());
    if (!report) return core::Unexpected(report.error());
    json detected = json::array();
    for (const control::Anomaly& a : report->detected) detected.push_back(AnomalyJson(a));
    json updated = json::array();
    for (const control::Anomaly& a : report->updated) updated.push_back(AnomalyJson(a));
    WriteJson(resp, 200,
              {{"project_id", *project},
               {"detected", std::move(detected)},
               {"updated", std::move(updated)},
               {"resolved", report->resolved},
               {"events_scanned", report->events},
               {"entities", report->entities}});
    return {};
  }

  core::Status CallsStatsRoute(const Call& call, core::HttpResponse& resp) {
    auto request = ParseCallsStatsRequest(call.req.body, Now());
    if (!request) return core::Unexpected(request.error());
    auto project = ReadableProject(call.ctx, request->project_id, o_);
    if (!project) return core::Unexpected(project.error());
    WriteJson(resp, 200, CallsStats(*o_.store, *project, *request));
    return {};
  }

  AnalyticsOptions o_;
};

}  // namespace

core::Result<std::string> ReadableProject(const RequestContext& ctx, const std::string& requested,
                                          const AnalyticsOptions& options) {
  if (requested.empty() || requested == ctx.project_id) return ctx.project_id;
  if (ctx.Allows("account:admin") && options.project_in_account &&
      options.project_in_account(ctx.account_id, requested)) {
    return requested;
  }
  return core::Fail(ErrorCode::kNotFound, "project '" + requested.substr(0, 64) + "' not found",
                    "project_id");
}

void AddAnalyticsRoutes(Router& router, const AnalyticsOptions& options) {
  auto api = std::make_shared<AnalyticsApi>(options);
  api->Register(router);
  router.Keep(api);
}

}  // namespace rest

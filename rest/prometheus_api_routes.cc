#include "rest/prometheus_api_routes.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "aggregator/promql_parser.h"
#include "aggregator/promql_text.h"
#include "core/time_parse.h"
#include "exporter/exposition.h"
#include "rest/json_body.h"
#include "rest/store_querier.h"

namespace rest {
namespace {

using nlohmann::json;

// Prometheus' maximum points per series of a range query.
constexpr int64_t kMaxPointsPerSeries = 11'000;
// Prometheus' minTime/maxTime (the defaults of start/end for series and labels).
constexpr int64_t kMinTimeMs = -9223309901257974;  // math.MinInt64/2 + 62135596801 s, in ms
constexpr int64_t kMaxTimeMs = 9223309901257974;

// A Prometheus API error: errorType and message.
struct ApiError {
  std::string type;  // "bad_data", "execution", "timeout", "internal"
  std::string message;
};

int StatusFor(std::string_view type) {
  if (type == "bad_data") return 400;
  if (type == "execution") return 422;
  if (type == "timeout" || type == "canceled") return 503;
  return 500;
}

std::string JsonString(std::string_view s) {
  return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

void WriteApiError(core::HttpResponse& resp, const ApiError& error) {
  resp.status = StatusFor(error.type);
  resp.content_type = "application/json";
  resp.body = R"({"status":"error","errorType":)" + JsonString(error.type) +
              R"(,"error":)" + JsonString(error.message) + "}";
}

void WriteSuccess(core::HttpResponse& resp, std::string_view data) {
  resp.status = 200;
  resp.content_type = "application/json";
  resp.body.reserve(data.size() + 32);
  resp.body.assign(R"({"status":"success","data":)");
  resp.body.append(data);
  resp.body.push_back('}');
}

ApiError BadParam(std::string_view param, std::string_view message) {
  return {"bad_data", "invalid parameter \"" + std::string(param) + "\": " + std::string(message)};
}

// The request's parameters: the form body (POST, form-encoded) first, then the
// URL's, like Go's Request.ParseForm.
class Params {
 public:
  explicit Params(const core::HttpRequest& req) {
    const std::string* type = req.Header("content-type");
    if (req.method == "POST" && type != nullptr &&
        std::string_view(*type).substr(0, type->find(';')).find(
            "application/x-www-form-urlencoded") != std::string_view::npos) {
      items_ = ParseFormUrlEncoded(req.body);
    }
    auto url = ParseFormUrlEncoded(req.query_string);
    items_.insert(items_.end(), url.begin(), url.end());
  }
  // The first value of `name`, or "" (Go's FormValue).
  std::string Get(std::string_view name) const {
    for (const auto& [k, v] : items_) {
      if (k == name) return v;
    }
    return {};
  }
  std::vector<std::string> All(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : items_) {
      if (k == name) out.push_back(v);
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Prometheus' parseTime: unix seconds (fractions rounded to ms) or RFC 3339.
core::Expected<int64_t, std::string> ParseTime(const std::string& text) {
  double seconds = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (!text.empty() && ec == std::errc() && ptr == end && std::isfinite(seconds)) {
    double whole = 0;
    const double frac = std::modf(seconds, &whole);
    if (std::fabs(whole) < 9.2e15) {
      return static_cast<int64_t>(whole) * 1000 + static_cast<int64_t>(std::round(frac * 1000));
    }
  }
  if (text == "-292273086-05-16T16:47:06Z") return kMinTimeMs;  // minTime formatted
  if (text == "292277025-08-18T07:12:54.999999999Z") return kMaxTimeMs;
  if (auto ms = core::ParseIso8601Ms(text)) return *ms;
  return core::Unexpected("cannot parse \"" + text + "\" to a valid timestamp");
}

core::Expected<int64_t, ApiError> TimeParam(const Params& params, std::string_view name,
                                            int64_t default_ms) {
  const std::string text = params.Get(name);
  if (text.empty()) return default_ms;
  auto t = ParseTime(text);
  if (!t) return core::Unexpected(BadParam(name, t.error()));
  return *t;
}

// Prometheus' parseDuration: float seconds or a duration string; milliseconds.
core::Expected<int64_t, std::string> ParseDurationParam(const std::string& text) {
  double seconds = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (!text.empty() && ec == std::errc() && ptr == end) {
    const double ns = seconds * 1e9;
    if (!(ns < 9.2233720368547758e18 && ns > -9.2233720368547758e18)) {
      return core::Unexpected("cannot parse \"" + text +
                              "\" to a valid duration. It overflows int64");
    }
    return static_cast<int64_t>(ns) / 1'000'000;
  }
  if (auto ms = promql::ParseDuration(text)) return *ms;
  return core::Unexpected("cannot parse \"" + text + "\" to a valid duration");
}

// Prometheus' JSON timestamp: unix seconds with up to 3 decimals.
void AppendTimestamp(std::string& out, int64_t t_ms) {
  if (t_ms < 0) {
    out.push_back('-');
    t_ms = -t_ms;
  }
  out.append(std::to_string(t_ms / 1000));
  int64_t frac = t_ms % 1000;
  if (frac != 0) {
    out.push_back('.');
    if (frac < 100) out.push_back('0');
    if (frac < 10) out.push_back('0');
    while (frac % 10 == 0) frac /= 10;
    out.append(std::to_string(frac));
  }
}

// A sample value as Prometheus writes it: strconv.FormatFloat(v, 'f', -1, 64).
void AppendValueString(std::string& out, double v) {
  out.push_back('"');
  if (std::isnan(v)) {
    out.append("NaN");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[400];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    out.append(buf, res.ptr);
  }
  out.push_back('"');
}

void AppendPoint(std::string& out, int64_t t_ms, double v) {
  out.push_back('[');
  AppendTimestamp(out, t_ms);
  out.push_back(',');
  AppendValueString(out, v);
  out.push_back(']');
}

void AppendLabels(std::string& out, const core::Labels& labels) {
  out.push_back('{');
  bool first = true;
  for (const core::Label& l : labels.items()) {
    if (!first) out.push_back(',');
    first = false;
    out.append(JsonString(l.name)).push_back(':');
    out.append(JsonString(l.value));
  }
  out.push_back('}');
}

// {"resultType":...,"result":...}
std::string QueryData(const promql::Value& value) {
  std::string out;
  if (const auto* s = std::get_if<promql::Scalar>(&value)) {
    out.append(R"({"resultType":"scalar","result":)");
    AppendPoint(out, s->t_ms, s->v);
  } else if (const auto* str = std::get_if<promql::String>(&value)) {
    out.append(R"({"resultType":"string","result":[)");
    AppendTimestamp(out, str->t_ms);
    out.push_back(',');
    out.append(JsonString(str->value)).push_back(']');
  } else if (const auto* vec = std::get_if<promql::Vector>(&value)) {
    out.append(R"({"resultType":"vector","result":[)");
    for (size_t i = 0; i < vec->size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(R"({"metric":)");
      AppendLabels(out, (*vec)[i].labels);
      out.append(R"(,"value":)");
      AppendPoint(out, (*vec)[i].t_ms, (*vec)[i].v);
      out.push_back('}');
    }
    out.push_back(']');
  } else {
    const auto& matrix = std::get<promql::Matrix>(value);
    out.append(R"({"resultType":"matrix","result":[)");
    for (size_t i = 0; i < matrix.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(R"({"metric":)");
      AppendLabels(out, matrix[i].labels);
      out.append(R"(,"values":[)");
      for (size_t j = 0; j < matrix[i].samples.size(); ++j) {
        if (j > 0) out.push_back(',');
        AppendPoint(out, matrix[i].samples[j].t_ms, matrix[i].samples[j].v);
      }
      out.append("]}");
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

// Shared by the handlers: the engine limits, the store and the clock.
struct Api {
  PrometheusApiOptions options;

  StoreQuerier QuerierFor(const Call& call) const {
    return StoreQuerier(*options.store, call.ctx.project_id, options.include_project_label);
  }

  // The engine for one query: the server's, with a shorter timeout if asked.
  core::Expected<promql::EngineOptions, ApiError> EngineFor(const Params& params) const {
    promql::EngineOptions engine = options.engine;
    engine.clock = options.clock;
    const std::string text = params.Get("timeout");
    if (!text.empty()) {
      auto ms = ParseDurationParam(text);
      if (!ms) return core::Unexpected(BadParam("timeout", ms.error()));
      engine.timeout = std::min(engine.timeout, std::chrono::milliseconds(std::max<int64_t>(*ms, 0)));
    }
    return engine;
  }

  static ApiError ToApiError(const promql::QueryError& e) {
    return {std::string(promql::ApiErrorType(e.type)), e.message};
  }

  static core::Expected<promql::ExprPtr, ApiError> ParseQuery(const Params& params) {
    auto expr = promql::Parse(params.Get("query"));
    if (!expr) return core::Unexpected(BadParam("query", expr.error().ToString()));
    return std::move(*expr);
  }

  void Query(const Call& call, core::HttpResponse& resp) const {
    const Params params(call.req);
    auto t = TimeParam(params, "time", options.clock->NowMs());
    if (!t) return WriteApiError(resp, t.error());
    auto engine_options = EngineFor(params);
    if (!engine_options) return WriteApiError(resp, engine_options.error());
    auto expr = ParseQuery(params);
    if (!expr) return WriteApiError(resp, expr.error());
    const StoreQuerier querier = QuerierFor(call);
    const promql::Engine engine(*engine_options);
    auto result = engine.InstantQuery(querier, **expr, *t);
    if (!result) return WriteApiError(resp, ToApiError(result.error()));
    WriteSuccess(resp, QueryData(*result));
  }

  void QueryRange(const Call& call, core::HttpResponse& resp) const {
    const Params params(call.req);
    auto start = ParseTime(params.Get("start"));
    if (!start) return WriteApiError(resp, BadParam("start", start.error()));
    auto end = ParseTime(params.Get("end"));
    if (!end) return WriteApiError(resp, BadParam("end", end.error()));
    if (*end < *start) {
      return WriteApiError(resp, BadParam("end", "end timestamp must not be before start time"));
    }
    auto step = ParseDurationParam(params.Get("step"));
    if (!step) return WriteApiError(resp, BadParam("step", step.error()));
    if (*step <= 0) {
      return WriteApiError(resp, BadParam("step",
                                          "zero or negative query resolution step widths are "
                                          "not accepted. Try a positive integer"));
    }
    // Prometheus compares (end - start) / step with 11,000 (integer division).
    if ((*end - *start) / *step > kMaxPointsPerSeries) {
      return WriteApiError(resp, {"bad_data",
                                  "exceeded maximum resolution of 11,000 points per timeseries. "
                                  "Try decreasing the query resolution (?step=XX)"});
    }
    auto engine_options = EngineFor(params);
    if (!engine_options) return WriteApiError(resp, engine_options.error());
    auto expr = ParseQuery(params);
    if (!expr) return WriteApiError(resp, expr.error());
    const StoreQuerier querier = QuerierFor(call);
    const promql::Engine engine(*engine_options);
    auto result = engine.RangeQuery(querier, **expr, *start, *end, *step);
    if (!result) return WriteApiError(resp, ToApiError(result.error()));
    WriteSuccess(resp, QueryData(*result));
  }

  // The match[] selectors; each must be a vector selector.
  static core::Expected<std::vector<std::vector<promql::LabelMatcher>>, ApiError> Matchers(
      const Params& params) {
    std::vector<std::vector<promql::LabelMatcher>> out;
    for (const std::string& text : params.All("match[]")) {
      auto expr = promql::Parse(text);
      if (!expr) return core::Unexpected(BadParam("match[]", expr.error().ToString()));
      const auto* selector = promql::DynCast<promql::VectorSelector>(expr->get());
      if (selector == nullptr) {
        return core::Unexpected(
            BadParam("match[]", "1:1: parse error: expected a vector selector, got \"" + text + "\""));
      }
      out.push_back(selector->matchers);
    }
    return out;
  }

  struct Window {
    int64_t start_ms;
    int64_t end_ms;
  };
  static core::Expected<Window, ApiError> WindowOf(const Params& params) {
    auto start = TimeParam(params, "start", kMinTimeMs);
    if (!start) return core::Unexpected(start.error());
    auto end = TimeParam(params, "end", kMaxTimeMs);
    if (!end) return core::Unexpected(end.error());
    return Window{*start, *end};
  }

  void SeriesList(const Call& call, core::HttpResponse& resp) const {
    const Params params(call.req);
    auto window = WindowOf(params);
    if (!window) return WriteApiError(resp, window.error());
    auto matchers = Matchers(params);
    if (!matchers) return WriteApiError(resp, matchers.error());
    if (matchers->empty()) return WriteApiError(resp, {"bad_data", "no match[] parameter provided"});
    const StoreQuerier querier = QuerierFor(call);
    std::vector<core::Labels> sets;
    for (const auto& m : *matchers) {
      auto series = querier.Select(m, window->start_ms, window->end_ms,
                                   std::numeric_limits<int64_t>::max());
      if (!series) return WriteApiError(resp, {"internal", series.error().message});
      for (promql::Series& s : *series) sets.push_back(std::move(s.labels));
    }
    std::sort(sets.begin(), sets.end(), [](const core::Labels& a, const core::Labels& b) {
      return promql::CompareLabels(a, b) < 0;
    });
    sets.erase(std::unique(sets.begin(), sets.end()), sets.end());
    std::string data = "[";
    for (size_t i = 0; i < sets.size(); ++i) {
      if (i > 0) data.push_back(',');
      AppendLabels(data, sets[i]);
    }
    data.push_back(']');
    WriteSuccess(resp, data);
  }

  static void WriteStrings(core::HttpResponse& resp, const std::set<std::string>& values) {
    std::string data = "[";
    bool first = true;
    for (const std::string& v : values) {
      if (!first) data.push_back(',');
      first = false;
      data.append(JsonString(v));
    }
    data.push_back(']');
    WriteSuccess(resp, data);
  }

  // Label names (name empty) or the values of label `name`.
  void Labels(const Call& call, core::HttpResponse& resp, const std::string* name) const {
    const Params params(call.req);
    auto window = WindowOf(params);
    if (!window) return WriteApiError(resp, window.error());
    auto matchers = Matchers(params);
    if (!matchers) return WriteApiError(resp, matchers.error());
    if (matchers->empty()) matchers->emplace_back();  // every series
    const StoreQuerier querier = QuerierFor(call);
    std::set<std::string> values;
    for (const auto& m : *matchers) {
      auto got = name == nullptr
                     ? querier.LabelNames(m, window->start_ms, window->end_ms)
                     : querier.LabelValues(*name, m, window->start_ms, window->end_ms);
      if (!got) return WriteApiError(resp, {"internal", got.error().message});
      values.insert(got->begin(), got->end());
    }
    WriteStrings(resp, values);
  }

  void LabelValues(const Call& call, core::HttpResponse& resp) const {
    auto it = call.path_params.find("name");
    const std::string name = it == call.path_params.end() ? std::string() : it->second;
    bool valid = !name.empty();
    for (size_t i = 0; i < name.size() && valid; ++i) {
      const char c = name[i];
      valid = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9');
    }
    if (!valid) {
      return WriteApiError(resp, {"bad_data", "invalid label name: " + JsonString(name)});
    }
    Labels(call, resp, &name);
  }

  void Metadata(const Call& call, core::HttpResponse& resp) const {
    const Params params(call.req);
    int64_t limit = -1;
    const std::string limit_text = params.Get("limit");
    if (!limit_text.empty()) {
      auto [ptr, ec] = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
      if (ec != std::errc() || ptr != limit_text.data() + limit_text.size()) {
        return WriteApiError(resp, {"bad_data", "limit must be a number"});
      }
    }
    const std::string metric = params.Get("metric");
    std::map<std::string, json> families;
    for (const store::MetricInfo& m : options.store->ListMetrics(call.ctx.project_id)) {
      const std::string family = exporter::ExposedName(m.name, m.type);
      if (!metric.empty() && family != metric) continue;
      if (limit >= 0 && static_cast<int64_t>(families.size()) >= limit) break;
      if (families.contains(family)) continue;
      families[family] = json::array({json{{"type", std::string(exporter::FamilyType(m.type))},
                                           {"help", exporter::FamilyHelp(m.name, m.type)},
                                           {"unit", ""}}});
    }
    json data = json::object();
    for (auto& [k, v] : families) data[k] = std::move(v);
    WriteSuccess(resp, DumpJson(data));
  }

  void BuildInfo(const Call&, core::HttpResponse& resp) const {
    // Grafana reads `version` to pick Prometheus features: report the API level
    // tally implements, and tally's own version as the revision.
    const json data = {{"version", "2.42.0"},
                       {"revision", "tally-" + options.version},
                       {"branch", "tally"},
                       {"buildUser", "tally"},
                       {"buildDate", ""},
                       {"goVersion", ""}};
    WriteSuccess(resp, DumpJson(data));
  }
};

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseFormUrlEncoded(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(core::PercentDecode(part), std::string());
    } else {
      out.emplace_back(core::PercentDecode(part.substr(0, eq)),
                       core::PercentDecode(part.substr(eq + 1)));
    }
  }
  return out;
}

void AddPrometheusApiRoutes(Router& router, const PrometheusApiOptions& options) {
  auto api = std::make_shared<Api>(Api{options});
  router.Keep(api);
  const Api* a = api.get();
  // GET and POST of each path; route names are unique (self-metrics, the
  // route table), so the POST variant's name ends in ".post".
  auto add = [&](const std::string& path, const std::string& name, RouteHandler handler) {
    router.Add(Route{"GET", path, name, false, false, "metrics:read", handler});
    router.Add(Route{"POST", path, name + ".post", false, false, "metrics:read", handler});
  };
  using Method = void (Api::*)(const Call&, core::HttpResponse&) const;
  auto call = [a](Method method) -> RouteHandler {
    return [a, method](const Call& c, core::HttpResponse& resp) { (a->*method)(c, resp); };
  };
  add("/api/v1/query", "prometheus.query", call(&Api::Query));
  add("/api/v1/query_range", "prometheus.query_range", call(&Api::QueryRange));
  add("/api/v1/series", "prometheus.series", call(&Api::SeriesList));
  add("/api/v1/labels", "prometheus.labels",
      [a](const Call& c, core::HttpResponse& resp) { a->Labels(c, resp, nullptr); });
  add("/api/v1/label/{name}/values", "prometheus.label_values", call(&Api::LabelValues));
  add("/api/v1/metadata", "prometheus.metadata", call(&Api::Metadata));
  add("/api/v1/status/buildinfo", "prometheus.buildinfo", call(&Api::BuildInfo));
}

}  // namespace rest

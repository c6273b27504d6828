#include "rest/event_routes.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/time_parse.h"
#include "rest/csv_writer.h"
#include "rest/error_response.h"
#include "rest/idempotent.h"
#include "rest/json_body.h"

namespace rest {
namespace {

using nlohmann::json;
using store::EventField;

constexpr int64_t kMsPerDay = 86'400'000;
constexpr size_t kMaxLimit = 1000;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

core::Error Invalid(std::string message, std::string param) {
  return core::MakeError(core::ErrorCode::kInvalidRequest, std::move(message), std::move(param));
}

// A float latency as the shortest decimal that reads back as the same float
// (1234.567f -> 1234.567, not 1234.5670166015625).
double LatencyValue(float v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf - 1, v);
  *res.ptr = '\0';
  return std::strtod(buf, nullptr);
}

json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json EventObject(const store::Event& e) {
  json j = json::object();
  j["id"] = e.id;
  j["timestamp"] = core::FormatIso8601(e.ts_ms);
  j["model"] = e.str(EventField::kModel);
  j["provider"] = NullIfEmpty(e.str(EventField::kProvider));
  j["input_tokens"] = e.input_tokens;
  j["output_tokens"] = e.output_tokens;
  j["cache_read_tokens"] = e.cache_read_tokens;
  j["cache_write_tokens"] = e.cache_write_tokens();
  if (e.cache_write_5m_tokens > 0 && e.cache_write_1h_tokens > 0) {
    j["cache_write_ttl"] = "mixed";
  } else if (e.cache_write_1h_tokens > 0) {
    j["cache_write_ttl"] = "1h";
  } else if (e.cache_write_5m_tokens > 0) {
    j["cache_write_ttl"] = "5m";
  } else {
    j["cache_write_ttl"] = nullptr;
  }
  if (e.cache_write_5m_tokens > 0 && e.cache_write_1h_tokens > 0) {
    j["cache_write_1h_tokens"] = e.cache_write_1h_tokens;
  }
  j["cost_usd"] = static_cast<double>(e.cost_nano_usd) / 1e9;
  j["cost_source"] = store::CostSourceName(e.cost_source);
  j["latency_ms"] = e.latency_ms ? json(LatencyValue(*e.latency_ms)) : json(nullptr);
  j["success"] = e.success;
  for (EventField f : {EventField::kEntityType, EventField::kEntityId, EventField::kSessionId,
                       EventField::kTraceId, EventField::kParentId, EventField::kOpName,
                       EventField::kThreadId, EventField::kTurnId, EventField::kUserId}) {
    j[std::string(store::EventFieldName(f))] = NullIfEmpty(e.str(f));
  }
  json tags = json::object();
  for (const auto& [k, v] : e.tags) tags[k] = v;
  j["tags"] = std::move(tags);
  return j;
}

const std::vector<std::string>& CsvColumns() {
  static const std::vector<std::string> kColumns = {
      "id",          "timestamp",   "model",      "provider",          "input_tokens",
      "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_ttl", "cost_usd",
      "cost_source", "latency_ms",  "success",    "entity_type",       "entity_id",
      "session_id",  "trace_id",    "parent_id",  "op_name",           "thread_id",
      "turn_id",     "user_id",     "tags"};
  return kColumns;
}

std::string EventsCsv(const std::vector<store::Event>& events) {
  CsvWriter csv(CsvColumns());
  for (const store::Event& e : events) csv.AddRow(EventObject(e));
  return csv.Take();
}

core::Result<size_t> ParseCount(const std::string& text, const std::string& param, size_t min,
                                size_t max) {
  size_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < min ||
      v > max) {
    return core::Unexpected(Invalid(param + " must be an integer in [" + std::to_string(min) +
                                        ", " + std::to_string(max) + "], got '" +
                                        text.substr(0, 32) + "'",
                                    param));
  }
  return v;
}

bool IsTagKey(std::string_view k) {
  if (k.empty()) return false;
  for (size_t i = 0; i < k.size(); ++i) {
    const char c = k[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Resolves the project a read applies to (the key's, or project_id for admins).
core::Result<std::string> ReadProject(const EventRoutesServices& s, const Call& call,
                                      const std::optional<std::string>& project_id) {
  if (!project_id || *project_id == call.ctx.project_id) return call.ctx.project_id;
  const core::Error not_found = core::MakeError(
      core::ErrorCode::kNotFound, "project '" + *project_id + "' not found", "project_id");
  if (s.control == nullptr || !call.ctx.Allows("account:admin")) {
    return core::Unexpected(not_found);
  }
  auto found = s.control->GetProject(call.ctx.account_id, *project_id);
  if (!found) {
    return core::Unexpected(found.error().code == core::ErrorCode::kNotFound ? not_found
                                                                              : found.error());
  }
  return found->id;
}

json ErrorsJson(const std::vector<exporter::PointError>& errors) {
  json out = json::array();
  for (const auto& e : errors) {
    json item = {{"index", e.index},
                 {"code", core::ErrorCodeName(e.error.code)},
                 {"message", e.error.message}};
    if (!e.error.param.empty()) item["param"] = e.error.param;
    out.push_back(std::move(item));
  }
  return out;
}

void Ingest(const EventRoutesServices& s, const Call& call, core::HttpResponse& resp) {
  if (s.ready != nullptr && !s.ready->load()) {
    WriteError(resp, core::MakeError(core::ErrorCode::kUnavailable,
                                     "not ready: replaying the write-ahead log; retry shortly"));
    resp.SetHeader("Retry-After", "1");
    return;
  }
  auto decoder = s.ingest->AcquireDecoder();
  auto decoded = decoder->Decode(call.req.body, s.ingest->MakeDecodeContext());
  if (!decoded) {
    s.ingest->CountRejectedRequest(decoded.error(), 1);
    WriteError(resp, decoded.error());
    return;
  }
  auto key = ResolveIdempotencyKey(call.req, decoded->idempotency_key);
  if (!key) {
    WriteError(resp, key.error());
    return;
  }
  std::optional<exporter::IdempotencyIntent> intent;
  if (*key) intent = exporter::IdempotencyIntent{**key, core::Sha256Hex(call.req.body)};
  const bool is_batch = decoded->is_batch;
  auto respond = [is_batch](const exporter::EventIngestOutcome& outcome) {
    if (!is_batch && !outcome.errors.empty()) {
      const core::Error& e = outcome.errors.front().error;
      return exporter::StoredResponse{HttpStatusFor(e.code), ErrorBody(e)};
    }
    json ids = json::array();
    for (const std::string& id : outcome.ids) ids.push_back(id.empty() ? json(nullptr) : json(id));
    return exporter::StoredResponse{200, Dump(json{{"accepted", outcome.accepted},
                                                   {"duplicates", outcome.duplicates},
                                                   {"rejected", outcome.errors.size()},
                                                   {"errors", ErrorsJson(outcome.errors)},
                                                   {"ids", std::move(ids)}})};
  };
  RunIdempotent(
      *s.idempotency, *s.clock, call.ctx.project_id, *key, call.req.body, resp,
      [&](core::HttpResponse& r) {
        auto stored =
            s.ingest->Store(call.ctx.project_id, *decoded, respond, intent ? &*intent : nullptr);
        if (!stored) {
          WriteError(r, stored.error());
          return;
        }
        r.status = stored->status;
        r.content_type = "application/json";
        r.body = std::move(stored->body);
      },
      intent ? &intent->body_hash : nullptr);
}

void List(const EventRoutesServices& s, const Call& call, core::HttpResponse& resp) {
  auto query = ParseEventListQuery(call.req.QueryParams(), s.clock->NowMs());
  if (!query) return WriteError(resp, query.error());
  auto project = ReadProject(s, call, query->project_id);
  if (!project) return WriteError(resp, project.error());
  EventListPage page = ListEvents(*s.store, *project, *query);
  resp.status = 200;
  if (query->csv) {
    resp.content_type = kCsvContentType;
    resp.body = EventsCsv(page.events);
    return;
  }
  json data = json::array();
  for (const store::Event& e : page.events) data.push_back(EventObject(e));
  resp.content_type = "application/json";
  resp.body = Dump(json{{"data", std::move(data)},
                        {"pagination",
                         {{"total", page.total},
                          {"limit", query->limit},
                          {"offset", query->offset},
                          {"has_more", query->offset + page.events.size() < page.total}}}});
}

void Get(const EventRoutesServices& s, const Call& call, core::HttpResponse& resp) {
  std::optional<std::string> project_id;
  for (const auto& [k, v] : call.req.QueryParams()) {
    if (k == "project_id") {
      project_id = v;
    } else {
      return WriteError(resp, Invalid("unknown parameter '" + k + "'", k));
    }
  }
  auto project = ReadProject(s, call, project_id);
  if (!project) return WriteError(resp, project.error());
  const std::string& id = call.path_params.at("event_id");
  auto event = s.store->GetEvent(*project, id);
  if (!event) {
    return WriteError(resp, core::MakeError(core::ErrorCode::kNotFound,
                                            "event '" + id.substr(0, 128) + "' not found",
                                            "event_id"));
  }
  resp.status = 200;
  resp.content_type = "application/json";
  resp.body = EventJson(*event);
}

// A time field of a JSON body: a string in any form of ParseTimeParamMs or a
// unix number. End fields are inclusive: a plain date covers its whole day, a
// time includes that millisecond. Returns the bound (start: from, end: to, exclusive).
core::Result<int64_t> BodyTime(const JsonBody& body, const std::string& name, bool end,
                               int64_t now_ms) {
  if (!body.Has(name) || body.IsNull(name)) {
    return core::Unexpected(Invalid(name + " is required", name));
  }
  const std::string expected =
      name + " must be a date (YYYY-MM-DD), an ISO 8601 time, a relative time (-7d) or unix "
             "seconds/milliseconds";
  int64_t ms = 0;
  bool plain_date = false;
  if (auto text = body.String(name, 1, 64); text) {
    auto parsed = core::ParseTimeParamMs(**text, now_ms);
    if (!parsed) return core::Unexpected(Invalid(name + ": " + parsed.error().message, name));
    ms = *parsed;
    plain_date = core::IsPlainDate(**text);
  } else if (auto number = body.Number(name, -1e300, 1e300); number) {
    auto parsed = core::UnixNumberToMs(**number);
    if (!parsed) return core::Unexpected(Invalid(name + ": " + parsed.error().message, name));
    ms = *parsed;
  } else {
    return core::Unexpected(Invalid(expected, name));
  }
  if (!end) return ms;
  if (plain_date) return ms > INT64_MAX - kMsPerDay ? INT64_MAX : ms + kMsPerDay;
  return ms == INT64_MAX ? ms : ms + 1;
}

// POST /v1/events/reprice body -> the request and the project it applies to.
core::Result<exporter::RepriceRequest> ParseRepriceBody(const JsonBody& body, int64_t now_ms) {
  exporter::RepriceRequest r;
  auto from = BodyTime(body, "start_date", false, now_ms);
  if (!from) return core::Unexpected(from.error());
  auto to = BodyTime(body, "end_date", true, now_ms);
  if (!to) return core::Unexpected(to.error());
  if (*from >= *to) {
    return core::Unexpected(Invalid("end_date must not be before start_date", "end_date"));
  }
  r.from_ms = *from;
  r.to_ms = *to;
  auto model = body.String("model", 1, exporter::kMaxEventStringBytes);
  if (!model) return core::Unexpected(model.error());
  if (*model) r.model = **model;
  auto provider = body.String("provider", 1, exporter::kMaxEventStringBytes);
  if (!provider) return core::Unexpected(provider.error());
  if (*provider) r.provider = exporter::NormalizeProvider(**provider);
  auto only_unknown = body.Bool("only_unknown");
  if (!only_unknown) return core::Unexpected(only_unknown.error());
  r.only_unknown = only_unknown->value_or(false);
  return r;
}

void Reprice(const EventRoutesServices& s, const Call& call, core::HttpResponse& resp) {
  if (s.ready != nullptr && !s.ready->load()) {
    WriteError(resp, core::MakeError(core::ErrorCode::kUnavailable,
                                     "not ready: replaying the write-ahead log; retry shortly"));
    resp.SetHeader("Retry-After", "1");
    return;
  }
  auto body = JsonBody::Parse(call.req.body, {"start_date", "end_date", "project_id", "model",
                                              "provider", "only_unknown"});
  if (!body) return WriteError(resp, body.error());
  auto request = ParseRepriceBody(*body, s.clock->NowMs());
  if (!request) return WriteError(resp, request.error());
  auto project_id = body->String("project_id", 1, 256);
  if (!project_id) return WriteError(resp, project_id.error());
  auto project = ReadProject(s, call, *project_id);
  if (!project) return WriteError(resp, project.error());
  auto key = ResolveIdempotencyKey(call.req, body->idempotency_key());
  if (!key) return WriteError(resp, key.error());
  std::optional<exporter::IdempotencyIntent> intent;
  if (*key) intent = exporter::IdempotencyIntent{**key, core::Sha256Hex(call.req.body)};
  auto respond = [&](const exporter::RepriceOutcome& o) {
    return exporter::StoredResponse{
        200, Dump(json{{"repriced", o.repriced},
                       {"unchanged", o.unchanged},
                       {"still_unknown", o.still_unknown},
                       {"skipped_reported", o.reported},
                       {"total_cost_delta_usd", static_cast<double>(o.cost_delta_nano_usd) / 1e9},
                       {"project_id", *project}})};
  };
  RunIdempotent(
      *s.idempotency, *s.clock, call.ctx.project_id, *key, call.req.body, resp,
      [&](core::HttpResponse& r) {
        auto stored = s.ingest->Reprice(*project, *request, respond, intent ? &*intent : nullptr);
        if (!stored) return WriteError(r, stored.error());
        r.status = stored->status;
        r.content_type = "application/json";
        r.body = std::move(stored->body);
      },
      intent ? &intent->body_hash : nullptr);
}

}  // namespace

std::string EventJson(const store::Event& event) { return Dump(EventObject(event)); }

core::Result<EventListQuery> ParseEventListQuery(
    const std::vector<std::pair<std::string, std::string>>& params, int64_t now_ms) {
  EventListQuery q;
  for (const auto& [key, value] : params) {
    if (key == "start_date" || key == "end_date") {
      auto ms = core::ParseTimeParamMs(value, now_ms);
      if (!ms) return core::Unexpected(Invalid(key + ": " + ms.error().message, key));
      if (key == "start_date") {
        q.from_ms = *ms;
      } else {
        q.to_ms = core::IsPlainDate(value) ? *ms + kMsPerDay : *ms;
        // An end time (not a date) is inclusive too: the event at end_date is listed.
        if (!core::IsPlainDate(value) && q.to_ms < INT64_MAX) ++q.to_ms;
      }
    } else if (key == "entity_type" || key == "entity_id" || key == "model" ||
               key == "provider" || key == "session_id" || key == "trace_id" ||
               key == "user_id" || key == "op_name") {
      EventField f = EventField::kModel;
      for (size_t i = 0; i < store::kEventFieldCount; ++i) {
        if (store::EventFieldName(static_cast<EventField>(i)) == key) f = static_cast<EventField>(i);
      }
      if (value.empty()) return core::Unexpected(Invalid(key + " must not be empty", key));
      q.equals.emplace_back(f, f == EventField::kProvider ? exporter::NormalizeProvider(value)
                                                           : value);
    } else if (key == "tags") {
      size_t pos = 0;
      while (pos <= value.size()) {
        size_t comma = value.find(',', pos);
        if (comma == std::string::npos) comma = value.size();
        const std::string item = value.substr(pos, comma - pos);
        const size_t colon = item.find(':');
        if (colon == std::string::npos || !IsTagKey(item.substr(0, colon))) {
          return core::Unexpected(
              Invalid("tags must be key:value pairs separated by commas, got '" +
                          item.substr(0, 64) + "'",
                      "tags"));
        }
        q.tags.emplace_back(item.substr(0, colon), item.substr(colon + 1));
        pos = comma + 1;
      }
    } else if (key.starts_with("tags[") && key.ends_with("]")) {
      const std::string k = key.substr(5, key.size() - 6);
      if (!IsTagKey(k)) return core::Unexpected(Invalid("invalid tag key in " + key, key));
      q.tags.emplace_back(k, value);
    } else if (key == "limit") {
      auto v = ParseCount(value, "limit", 1, kMaxLimit);
      if (!v) return core::Unexpected(v.error());
      q.limit = *v;
    } else if (key == "offset") {
      auto v = ParseCount(value, "offset", 0, std::numeric_limits<int32_t>::max());
      if (!v) return core::Unexpected(v.error());
      q.offset = *v;
    } else if (key == "format") {
      if (value != "json" && value != "csv") {
        return core::Unexpected(Invalid("format must be json or csv", "format"));
      }
      q.csv = value == "csv";
    } else if (key == "project_id") {
      q.project_id = value;
    } else {
      return core::Unexpected(Invalid("unknown parameter '" + key.substr(0, 64) +
                                          "' (see docs/api.md for GET /v1/events)",
                                      key));
    }
  }
  if (q.from_ms >= q.to_ms && !(q.from_ms == INT64_MIN && q.to_ms == INT64_MAX)) {
    return core::Unexpected(Invalid("end_date must not be before start_date", "end_date"));
  }
  return q;
}

EventListPage ListEvents(const store::EventStore& store, const std::string& project,
                         const EventListQuery& query) {
  EventListPage page;
  const store::Dictionary* dict = store.dict(project);
  if (dict == nullptr) return page;
  // Filters as dictionary codes; a value never stored matches nothing.
  std::vector<std::pair<EventField, uint32_t>> equals;
  std::vector<std::pair<uint32_t, uint32_t>> tags;
  for (const auto& [field, value] : query.equals) {
    auto code = dict->Find(value);
    if (!code) return page;
    equals.emplace_back(field, *code);
  }
  for (const auto& [k, v] : query.tags) {
    auto kc = dict->Find(k);
    auto vc = dict->Find(v);
    if (!kc || !vc || v.empty()) return page;
    tags.emplace_back(*kc, *vc);
  }
  struct Hit {
    int64_t ts;
    uint32_t view;
    uint32_t row;
  };
  std::vector<store::EventBlockView> views;
  std::vector<Hit> hits;
  store.ScanBlocks(project, query.from_ms, query.to_ms, [&](const store::EventBlockView& v) {
    const auto view_index = static_cast<uint32_t>(views.size());
    bool used = false;
    const auto ts = v.ts_ms();
    for (size_t i = 0; i < v.size(); ++i) {
      if (ts[i] < query.from_ms || ts[i] >= query.to_ms) continue;
      bool ok = true;
      for (const auto& [field, code] : equals) {
        if (v.codes(field)[i] != code) {
          ok = false;
          break;
        }
      }
      for (size_t t = 0; ok && t < tags.size(); ++t) ok = v.tag_value(i, tags[t].first) == tags[t].second;
      if (!ok) continue;
      hits.push_back({ts[i], view_index, static_cast<uint32_t>(i)});
      used = true;
    }
    if (used) views.push_back(v);
  });
  page.total = hits.size();
  if (query.offset >= hits.size()) return page;
  const size_t end = std::min(hits.size(), query.offset + query.limit);
  auto newer = [&](const Hit& a, const Hit& b) {
    if (a.ts != b.ts) return a.ts > b.ts;
    return views[a.view].id(a.row) > views[b.view].id(b.row);
  };
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(end), hits.end(),
                    newer);
  for (size_t i = query.offset; i < end; ++i) {
    page.events.push_back(views[hits[i].view].Row(hits[i].row));
  }
  return page;
}

void AddEventRoutes(Router& router, const EventRoutesServices& services) {
  auto s = std::make_shared<EventRoutesServices>(services);
  router.Keep(s);
  Route ingest{"POST", "/v1/events", "events.ingest", false, true, "events:write",
               [s = s.get()](const Call& call, core::HttpResponse& resp) { Ingest(*s, call, resp); }};
  ingest.ingest = true;
  router.Add(std::move(ingest));
  router.Add(Route{"POST", "/v1/events/reprice", "events.reprice", false, true, "account:admin",
                   [s = s.get()](const Call& call, core::HttpResponse& resp) {
                     Reprice(*s, call, resp);
                   }});
  router.Add(Route{"GET", "/v1/events", "events.list", false, false, "analytics:read",
                   [s = s.get()](const Call& call, core::HttpResponse& resp) { List(*s, call, resp); }});
  router.Add(Route{"GET", "/v1/events/{event_id}", "events.get", false, false, "analytics:read",
                   [s = s.get()](const Call& call, core::HttpResponse& resp) { Get(*s, call, resp); }});
}

}  // namespace rest

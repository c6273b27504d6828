#include "rest/account_routes.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/random.h"
#include "core/time_parse.h"
#include "rest/api_key.h"
#include "rest/error_response.h"
#include "rest/idempotent.h"
#include "rest/json_body.h"
#include "rest/key_issuer.h"

namespace rest {
namespace {

using nlohmann::json;
using core::ErrorCode;

constexpr int kDefaultPageLimit = 100;
constexpr int kMaxPageLimit = 1000;
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kMaxTimeseriesPoints = 10'000;
// An unconfirmed compromise report with auto_rotate keeps the old secret this
// long, so deployments can switch without an outage.
constexpr int64_t kSuspectedGraceMs = kHourMs;
const std::vector<std::string_view> kMemberRoles = {"admin", "billing-ops", "kyc-ops", "member",
                                                    "viewer"};

struct Reply {
  int status = 200;
  json body;
};
using Handler = std::function<core::Result<Reply>(const Call&)>;
using MutatingHandler = std::function<core::Result<Reply>(const Call&, const JsonBody&)>;

core::Unexpected<core::Error> NotFound(const std::string& what, const std::string& param) {
  return core::Fail(ErrorCode::kNotFound, what + " not found", param);
}

json Iso(int64_t ms) { return core::FormatIso8601(ms); }
json OptIso(const std::optional<int64_t>& ms) { return ms ? Iso(*ms) : json(nullptr); }

// ---- time helpers (UTC calendar) -------------------------------------------

int64_t DayStart(int64_t ms) { return ms - ((ms % kDayMs) + kDayMs) % kDayMs; }

int64_t MonthStart(int64_t ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(ms)));
  const year_month_day ymd(day);
  return duration_cast<milliseconds>(sys_days(ymd.year() / ymd.month() / 1).time_since_epoch())
      .count();
}

int64_t NextMonthStart(int64_t ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(ms)));
  const year_month_day ymd(day);
  const year_month next = ymd.year() / ymd.month() + months(1);
  return duration_cast<milliseconds>(sys_days(next / 1).time_since_epoch()).count();
}

json Period(int64_t now_ms) {
  return {{"start", Iso(MonthStart(now_ms))}, {"end", Iso(NextMonthStart(now_ms))}};
}

// start/end query parameter: ISO 8601, unix seconds/milliseconds, `now`, or a
// duration before now such as `-3h` (API.md section 1).
core::Result<std::optional<int64_t>> TimeParam(const core::HttpRequest& req,
                                               const std::string& name, int64_t now_ms) {
  std::optional<std::string> text = req.QueryParam(name);
  if (!text) return std::optional<int64_t>();
  if (auto ms = core::ParseTimeParamMs(*text, now_ms)) return std::optional<int64_t>(*ms);
  return core::Fail(ErrorCode::kInvalidRequest,
                    name + " must be an ISO 8601 time such as 2025-01-15T10:30:00Z, unix "
                           "seconds, 'now' or a duration ago such as -3h (got '" + *text + "')",
                    name);
}

// ---- shapes ----------------------------------------------------------------

json KeyJson(const control::ApiKey& k) {
  json j = {{"key_id", k.id},
            {"name", k.name},
            {"label", k.name},
            {"project_id", k.project_id},
            {"scopes", k.scopes},
            {"status", k.status},
            {"created_at", Iso(k.created_at_ms)},
            {"last_used_at", OptIso(k.last_used_at_ms)}};
  if (!k.secrets.empty()) j["prefix"] = std::string(kApiKeyTag) + k.secrets.front().prefix;
  if (k.revoked_at_ms) j["revoked_at"] = Iso(*k.revoked_at_ms);
  // Older secrets still inside their rotation grace.
  json grace = json::array();
  for (size_t i = 1; i < k.secrets.size(); ++i) {
    if (k.secrets[i].expires_at_ms) grace.push_back(Iso(*k.secrets[i].expires_at_ms));
  }
  if (!grace.empty()) j["grace_expires_at"] = grace.front();
  return j;
}

json ProjectJson(const control::Project& p) {
  json metadata = json::parse(p.metadata_json, nullptr, false);
  if (metadata.is_discarded()) metadata = json::object();
  return {{"id", p.id},
          {"project_id", p.id},
          {"name", p.name},
          {"scopes", p.scopes},
          {"rate_limit_rpm", p.rate_limit_rpm ? json(*p.rate_limit_rpm) : json(nullptr)},
          {"metadata", metadata},
          {"created_at", Iso(p.created_at_ms)}};
}

json MemberJson(const control::Member& m) {
  return {{"member_id", m.id},         {"id", m.id},
          {"email", m.email},          {"role", m.role},
          {"status", m.status},        {"created_at", Iso(m.created_at_ms)}};
}

json AlertJson(const control::BandwidthAlert& a) {
  return {{"id", a.id},
          {"threshold_bytes", a.threshold_bytes},
          {"enabled", a.enabled},
          {"created_at", Iso(a.created_at_ms)}};
}

json TierJson(const config::TierLimits& t) {
  auto limit = [](int64_t v) { return v == 0 ? json(nullptr) : json(v); };  // null = unlimited
  return {{"rate_limit_rpm", limit(t.rate_limit_rpm)},
          {"ingest_rate_limit_rpm", limit(t.ingest_rate_limit_rpm)},
          {"events_per_month", limit(t.events_per_month)},
          {"retention_days", limit(t.retention_days)},
          {"max_members", limit(t.max_members)},
          {"max_projects", limit(t.max_projects)},
          {"bandwidth_bytes_per_month", limit(t.bandwidth_bytes_per_month)}};
}

template <typename T, typename F>
json PageJson(const control::Page<T>& page, F&& to_json) {
  json items = json::array();
  for (const T& item : page.items) items.push_back(to_json(item));
  json out = {{"items", std::move(items)}};
  if (page.next_cursor) out["next_cursor"] = *page.next_cursor;
  return out;
}

// ---- the route set -----------------------------------------------------------

class AccountApi {
 public:
  explicit AccountApi(AccountServices s) : s_(std::move(s)) {}

  void Register(Router& router);

 private:
  void Add(Router& router, const char* method, const char* pattern, const char* name,
           const char* scope, Handler handler);
  void AddMutating(Router& router, const char* method, const char* pattern, const char* name,
                   const char* scope, std::vector<std::string> fields,
                   MutatingHandler handler);

  int64_t Now() const { return s_.clock->NowMs(); }
  const config::TierLimits* TierOf(const std::string& tier) const {
    return config::FindTier(s_.tiers, tier);
  }
  static bool CanSeeProject(const RequestContext& ctx, const std::string& project_id) {
    return ctx.project_id == project_id || ctx.Allows("account:admin");
  }

  core::Result<control::ApiKey> VisibleKey(const Call& call, const std::string& key_id);
  core::Result<control::Project> VisibleProject(const Call& call, const std::string& project_id,
                                                const std::string& param);
  core::Result<std::vector<std::string>> CheckScopes(const RequestContext& ctx,
                                                     const std::vector<std::string>& scopes);
  core::Status CheckMayReceiveSecret(const RequestContext& ctx, const control::ApiKey& key);
  core::Result<std::vector<control::UsageRow>> Usage(const std::string& account_id,
                                                     int64_t start_ms, int64_t end_ms);
  void Invalidate(const std::string& key_id) {
    if (s_.keys != nullptr) s_.keys->InvalidateKey(key_id);
  }

  // Route bodies.
  core::Result<Reply> Whoami(const Call& call);
  core::Result<Reply> Me(const Call& call);
  core::Result<Reply> ListKeys(const Call& call, bool seed003_shape);
  core::Result<Reply> CreateKey(const Call& call, const JsonBody& body, bool seed003_shape);
  core::Result<Reply> UpdateKey(const Call& call, const JsonBody& body);
  core::Result<Reply> RotateKey(const Call& call, const JsonBody& body);
  core::Result<Reply> RevokeKey(const Call& call, bool seed003_shape);
  core::Result<Reply> CompromisedKey(const Call& call, const JsonBody& body);
  core::Result<Reply> ListProjects(const Call& call);
  core::Result<Reply> CreateProject(const Call& call, const JsonBody& body);
  core::Result<Reply> GetProject(const Call& call);
  core::Result<Reply> UpdateProject(const Call& call, const JsonBody& body);
  core::Result<Reply> DeleteProject(const Call& call);
  core::Result<Reply> ListMembers(const Call& call);
  core::Result<Reply> InviteMember(const Call& call, const JsonBody& body);
  core::Result<Reply> RemoveMember(const Call& call);
  core::Result<Reply> Tier(const Call& call);
  core::Result<Reply> UsageSummary(const Call& call);
  core::Result<Reply> UsageTimeseries(const Call& call);
  core::Result<Reply> BandwidthQuota(const Call& call);
  core::Result<Reply> BandwidthUsage(const Call& call);
  core::Result<Reply> ListAlerts(const Call& call);
  core::Result<Reply> ConfigureAlert(const Call& call, const JsonBody& body);
  core::Result<Reply> DeleteAlert(const Call& call);

  AccountServices s_;
};

void WriteReply(core::HttpResponse& resp, const core::Result<Reply>& reply) {
  if (!reply) {
    WriteError(resp, reply.error());
    return;
  }
  resp.status = reply->status;
  resp.content_type = "application/json";
  resp.body = DumpJson(reply->body);
}

void AccountApi::Add(Router& router, const char* method, const char* pattern, const char* name,
                     const char* scope, Handler handler) {
  router.Add(Route{method, pattern, name, false, false, scope,
                   [handler = std::move(handler)](const Call& call, core::HttpResponse& resp) {
                     WriteReply(resp, handler(call));
                   }});
}

void AccountApi::AddMutating(Router& router, const char* method, const char* pattern,
                             const char* name, const char* scope, std::vector<std::string> fields,
                             MutatingHandler handler) {
  router.Add(Route{
      method, pattern, name, false, true, scope,
      [this, fields = std::move(fields), handler = std::move(handler)](const Call& call,
                                                                       core::HttpResponse& resp) {
        auto body = JsonBody::Parse(call.req.body, fields);
        if (!body) {
          WriteError(resp, body.error());
          return;
        }
        auto key = ResolveIdempotencyKey(call.req, body->idempotency_key());
        if (!key) {
          WriteError(resp, key.error());
          return;
        }
        // The same key on another route or path id is another request (422).
        const std::string hash =
            core::Sha256Hex(call.req.method + " " + call.req.path + "\n" + call.req.body);
        RunIdempotent(
            *s_.idempotency, *s_.clock, call.ctx.project_id, *key, call.req.body, resp,
            [&](core::HttpResponse& r) { WriteReply(r, handler(call, *body)); }, &hash);
      }});
}

// ---- lookups within the caller's tenancy ------------------------------------

core::Result<control::ApiKey> AccountApi::VisibleKey(const Call& call, const std::string& key_id) {
  auto key = s_.db->GetKey(call.ctx.account_id, key_id);
  if (!key) return key;
  if (!CanSeeProject(call.ctx, key->project_id)) return NotFound("API key", "key_id");
  return key;
}

core::Result<control::Project> AccountApi::VisibleProject(const Call& call,
                                                          const std::string& project_id,
                                                          const std::string& param) {
  auto project = s_.db->GetProject(call.ctx.account_id, project_id);
  if (!project) {
    if (project.error().code == ErrorCode::kNotFound) return NotFound("project", param);
    return project;
  }
  if (!CanSeeProject(call.ctx, project->id)) return NotFound("project", param);
  return project;
}

// Scopes asked for a new key or project: known names, and none beyond what the
// caller itself holds (no privilege escalation through key creation).
core::Result<std::vector<std::string>> AccountApi::CheckScopes(
    const RequestContext& ctx, const std::vector<std::string>& scopes) {
  std::vector<std::string> out;
  for (size_t i = 0; i < scopes.size(); ++i) {
    const std::string param = "scopes[" + std::to_string(i) + "]";
    if (!IsKnownScope(scopes[i])) {
      std::string known;
      for (std::string_view s : kAllScopes) known += (known.empty() ? "" : ", ") + std::string(s);
      return core::Fail(ErrorCode::kInvalidRequest,
                        "unknown scope '" + scopes[i] + "' (scopes: " + known + ")", param);
    }
    if (!ctx.Allows(scopes[i])) {
      return core::Fail(ErrorCode::kForbidden,
                        "cannot grant scope '" + scopes[i] + "': the calling key does not hold it",
                        param);
    }
    if (std::find(out.begin(), out.end(), scopes[i]) == out.end()) out.push_back(scopes[i]);
  }
  if (out.empty()) {
    // "All scopes" only for a caller that has all of them.
    for (std::string_view s : kAllScopes) {
      if (!ctx.Allows(s)) {
        return core::Fail(ErrorCode::kForbidden,
                          "an empty scope list grants every scope, but the calling key lacks '" +
                              std::string(s) + "'; list the scopes explicitly",
                          "scopes");
      }
    }
  }
  return out;
}

// Rotating or replacing a key hands its new secret to the caller, so the caller
// must hold every scope the key has (as with CheckScopes: no privilege escalation
// through key management). Revoking or flagging a key without a new secret is open
// to any account:admin key.
core::Status AccountApi::CheckMayReceiveSecret(const RequestContext& ctx,
                                               const control::ApiKey& key) {
  std::vector<std::string> project_cap;
  auto project = s_.db->GetProject(key.account_id, key.project_id);
  if (project) {
    project_cap = project->scopes;
  } else if (project.error().code != ErrorCode::kNotFound) {
    return core::Unexpected(project.error());
  }
  for (std::string_view scope : kAllScopes) {
    if (ScopeListAllows(key.scopes, scope) && ScopeListAllows(project_cap, scope) &&
        !ctx.Allows(scope)) {
      return core::Fail(ErrorCode::kForbidden,
                        "the key holds scope '" + std::string(scope) +
                            "', which the calling key lacks: only a key holding all of its "
                            "scopes may receive a new secret for it",
                        "key_id");
    }
  }
  return {};
}

core::Result<std::vector<control::UsageRow>> AccountApi::Usage(const std::string& account_id,
                                                               int64_t start_ms, int64_t end_ms) {
  if (s_.usage != nullptr) return s_.usage->Query(account_id, start_ms, end_ms);
  return s_.db->QueryUsage(account_id, start_ms, end_ms);
}

// ---- whoami / me -------------------------------------------------------------

core::Result<Reply> AccountApi::Whoami(const Call& call) {
  auto account = s_.db->GetAccount(call.ctx.account_id);
  if (!account) return core::Unexpected(account.error());
  // balance_usd is the sum of the wallet ledger, which has no entries until the
  // wallet exists (see docs/api.md).
  return Reply{200,
               {{"account_id", account->id},
                {"name", account->name},
                {"kind", "organization"},
                {"status", account->status},
                {"tier", account->tier},
                {"balance_usd", 0.0},
                {"project_id", call.ctx.project_id},
                {"key_id", call.ctx.key_id},
                {"scopes", call.ctx.scopes},
                {"created_at", Iso(account->created_at_ms)}}};
}

core::Result<Reply> AccountApi::Me(const Call& call) {
  auto account = s_.db->GetAccount(call.ctx.account_id);
  if (!account) return core::Unexpected(account.error());
  json email = nullptr;
  auto members = s_.db->ListMembers(account->id, std::nullopt, kMaxPageLimit);
  if (members) {
    for (const control::Member& m : members->items) {
      if (m.role == "admin") {
        email = m.email;
        break;
      }
    }
  }
  return Reply{200,
               {{"id", account->id},
                {"email", email},
                {"name", account->name},
                {"company", account->name},
                {"plan", account->tier},
                {"created_at", Iso(account->created_at_ms)}}};
}

// ---- keys ----------------------------------------------------------------------

core::Result<Reply> AccountApi::ListKeys(const Call& call, bool seed003_shape) {
  auto limit = QueryLimit(call.req, kDefaultPageLimit, kMaxPageLimit);
  if (!limit) return core::Unexpected(limit.error());
  std::string project = call.ctx.project_id;
  if (call.ctx.Allows("account:admin")) {
    project = call.req.QueryParam("project_id").value_or("");
    if (!project.empty()) {
      auto p = VisibleProject(call, project, "project_id");
      if (!p) return core::Unexpected(p.error());
    }
  }
  auto page = s_.db->ListKeys(call.ctx.account_id, project, call.req.QueryParam("cursor"), *limit);
  if (!page) return core::Unexpected(page.error());
  if (!seed003_shape) return Reply{200, PageJson(*page, KeyJson)};
  json data = json::array();
  for (const control::ApiKey& k : page->items) {
    json item = KeyJson(k);
    data.push_back({{"id", k.id},
                    {"name", k.name},
                    {"prefix", item.value("prefix", "")},
                    {"status", k.status},
                    {"scopes", k.scopes},
                    {"project_id", k.project_id},
                    {"created_at", item["created_at"]},
                    {"last_used_at", item["last_used_at"]}});
  }
  json out = {{"data", std::move(data)}};
  if (page->next_cursor) out["next_cursor"] = *page->next_cursor;
  return Reply{200, std::move(out)};
}

core::Result<Reply> AccountApi::CreateKey(const Call& call, const JsonBody& body,
                                          bool seed003_shape) {
  auto name = body.String("name", 0, 128);
  if (!name) return core::Unexpected(name.error());
  auto scopes = body.StringList("scopes", std::size(kAllScopes) * 2);
  if (!scopes) return core::Unexpected(scopes.error());
  auto project_id = body.String("project_id", 1, 64);
  if (!project_id) return core::Unexpected(project_id.error());
  auto project = VisibleProject(call, project_id->value_or(call.ctx.project_id), "project_id");
  if (!project) return core::Unexpected(project.error());
  auto granted = CheckScopes(call.ctx, scopes->value_or(std::vector<std::string>{}));
  if (!granted) return core::Unexpected(granted.error());
  auto issued = IssueKey(*s_.db, call.ctx.account_id, project->id, name->value_or(""), *granted,
                         Now());
  if (!issued) return core::Unexpected(issued.error());
  const control::ApiKey* created = &issued->key;
  const std::string& secret = issued->secret;
  json j = KeyJson(*created);
  if (seed003_shape) {
    return Reply{201,
                 {{"id", created->id},
                  {"name", created->name},
                  {"key", secret},
                  {"prefix", j["prefix"]},
                  {"scopes", created->scopes},
                  {"project_id", created->project_id},
                  {"created_at", j["created_at"]}}};
  }
  j["key_secret"] = secret;
  return Reply{200, std::move(j)};
}

core::Result<Reply> AccountApi::UpdateKey(const Call& call, const JsonBody& body) {
  const std::string& id = call.path_params.at("id");
  auto existing = VisibleKey(call, id);
  if (!existing) return core::Unexpected(existing.error());
  auto name = body.String("name", 0, 128);
  if (!name) return core::Unexpected(name.error());
  auto scopes = body.StringList("scopes", std::size(kAllScopes) * 2);
  if (!scopes) return core::Unexpected(scopes.error());
  std::optional<std::vector<std::string>> granted;
  if (*scopes) {
    auto checked = CheckScopes(call.ctx, **scopes);
    if (!checked) return core::Unexpected(checked.error());
    granted = std::move(*checked);
  }
  auto updated = s_.db->UpdateKey(call.ctx.account_id, id, *name, granted);
  if (!updated) return core::Unexpected(updated.error());
  Invalidate(id);  // narrowed scopes apply to the next request
  return Reply{200, {{"key_id", updated->id}, {"name", updated->name}, {"scopes", updated->scopes},
                     {"status", updated->status}}};
}

core::Result<Reply> AccountApi::RotateKey(const Call& call, const JsonBody& body) {
  const std::string& id = call.path_params.at("id");
  auto existing = VisibleKey(call, id);
  if (!existing) return core::Unexpected(existing.error());
  if (existing->status == "revoked") {
    return core::Fail(ErrorCode::kConflict, "API key is revoked; create a new one", "key_id");
  }
  if (auto st = CheckMayReceiveSecret(call.ctx, *existing); !st) {
    return core::Unexpected(st.error());
  }
  auto grace_hours = body.Number("grace_hours", 0, 168);
  if (!grace_hours) return core::Unexpected(grace_hours.error());
  const int64_t now = Now();
  const int64_t grace_end = now + static_cast<int64_t>(grace_hours->value_or(24.0) * kHourMs);
  auto rotated = IssueSecret(*s_.db, call.ctx.account_id, id, grace_end, now);
  if (!rotated) return core::Unexpected(rotated.error());
  Invalidate(id);
  json j = KeyJson(rotated->key);
  return Reply{200,
               {{"key_id", rotated->key.id},
                {"key_secret", rotated->secret},
                {"prefix", j["prefix"]},
                {"status", rotated->key.status},
                {"grace_expires_at", Iso(grace_end)}}};
}

core::Result<Reply> AccountApi::RevokeKey(const Call& call, bool seed003_shape) {
  const std::string& id = call.path_params.at("id");
  auto existing = VisibleKey(call, id);
  if (!existing) return core::Unexpected(existing.error());
  auto revoked = s_.db->SetKeyStatus(call.ctx.account_id, id, "revoked", Now());
  if (!revoked) return core::Unexpected(revoked.error());
  Invalidate(id);
  if (seed003_shape) return Reply{200, {{"deleted", true}}};
  return Reply{200, {{"revoked", true}, {"key_id", id}}};
}

core::Result<Reply> AccountApi::CompromisedKey(const Call& call, const JsonBody& body) {
  const std::string& id = call.path_params.at("id");
  auto existing = VisibleKey(call, id);
  if (!existing) return core::Unexpected(existing.error());
  if (existing->status == "revoked") {
    return core::Fail(ErrorCode::kConflict, "API key is already revoked", "key_id");
  }
  auto confirmed = body.Bool("confirmed_leak");
  if (!confirmed) return core::Unexpected(confirmed.error());
  auto rotate = body.Bool("auto_rotate");
  if (!rotate) return core::Unexpected(rotate.error());
  if (rotate->value_or(false)) {
    if (auto st = CheckMayReceiveSecret(call.ctx, *existing); !st) {
      return core::Unexpected(st.error());
    }
  }
  const int64_t now = Now();
  json out;
  if (confirmed->value_or(false)) {
    // A confirmed leak: the key dies now; a replacement is a new key.
    auto revoked = s_.db->SetKeyStatus(call.ctx.account_id, id, "revoked", now);
    if (!revoked) return core::Unexpected(revoked.error());
    Invalidate(id);
    out = {{"key_id", id}, {"status", "revoked"}};
    if (rotate->value_or(false)) {
      auto replacement = IssueKey(*s_.db, existing->account_id, existing->project_id,
                                  existing->name, existing->scopes, now);
      if (!replacement) return core::Unexpected(replacement.error());
      out["replacement_key_id"] = replacement->key.id;
      out["key_secret"] = replacement->secret;
    }
    return Reply{200, std::move(out)};
  }
  auto flagged = s_.db->SetKeyStatus(call.ctx.account_id, id, "suspected_compromise", now);
  if (!flagged) return core::Unexpected(flagged.error());
  Invalidate(id);
  out = {{"key_id", id}, {"status", "suspected_compromise"}};
  if (rotate->value_or(false)) {
    auto rotated = IssueSecret(*s_.db, call.ctx.account_id, id, now + kSuspectedGraceMs, now);
    if (!rotated) return core::Unexpected(rotated.error());
    out["key_secret"] = rotated->secret;
    out["grace_expires_at"] = Iso(now + kSuspectedGraceMs);
  }
  return Reply{200, std::move(out)};
}

// ---- projects ------------------------------------------------------------------

core::Result<Reply> AccountApi::ListProjects(const Call& call) {
  auto limit = QueryLimit(call.req, kDefaultPageLimit, kMaxPageLimit);
  if (!limit) return core::Unexpected(limit.error());
  if (!call.ctx.Allows("account:admin")) {
    // Without account:admin a key sees its own project only.
    auto own = VisibleProject(call, call.ctx.project_id, "project_id");
    if (!own) return core::Unexpected(own.error());
    if (call.req.QueryParam("cursor")) return Reply{200, {{"items", json::array()}}};
    return Reply{200, {{"items", json::array({ProjectJson(*own)})}}};
  }
  auto page = s_.db->ListProjects(call.ctx.account_id, call.req.QueryParam("cursor"), *limit);
  if (!page) return core::Unexpected(page.error());
  return Reply{200, PageJson(*page, ProjectJson)};
}

// Reads the editable project fields of `body` into `p`.
core::Status ReadProjectFields(const JsonBody& body, control::Project& p, const RequestContext& ctx,
                               bool creating) {
  auto name = body.String("name", 1, 128);
  if (!name) return core::Unexpected(name.error());
  if (creating && !*name) {
    return core::Fail(ErrorCode::kInvalidRequest, "name is required", "name");
  }
  if (*name) p.name = **name;
  auto scopes = body.StringList("scopes", std::size(kAllScopes) * 2);
  if (!scopes) return core::Unexpected(scopes.error());
  if (*scopes) {
    std::vector<std::string> out;
    for (size_t i = 0; i < (*scopes)->size(); ++i) {
      const std::string& scope = (**scopes)[i];
      if (!IsKnownScope(scope)) {
        return core::Fail(ErrorCode::kInvalidRequest, "unknown scope '" + scope + "'",
                          "scopes[" + std::to_string(i) + "]");
      }
      if (std::find(out.begin(), out.end(), scope) == out.end()) out.push_back(scope);
    }
    p.scopes = std::move(out);
  }
  if (body.IsNull("rate_limit_rpm")) {
    p.rate_limit_rpm.reset();
  } else {
    auto rpm = body.Int("rate_limit_rpm", 1, 100'000'000);
    if (!rpm) return core::Unexpected(rpm.error());
    if (*rpm) p.rate_limit_rpm = **rpm;
  }
  auto metadata = body.Object("metadata");
  if (!metadata) return core::Unexpected(metadata.error());
  if (*metadata) {
    std::string text = DumpJson(**metadata);
    if (text.size() > 16 * 1024) {
      return core::Fail(ErrorCode::kInvalidRequest, "metadata is larger than 16 KiB", "metadata");
    }
    p.metadata_json = std::move(text);
  }
  (void)ctx;
  return {};
}

core::Result<Reply> AccountApi::CreateProject(const Call& call, const JsonBody& body) {
  control::Project p;
  p.account_id = call.ctx.account_id;
  auto fields = ReadProjectFields(body, p, call.ctx, /*creating=*/true);
  if (!fields) return core::Unexpected(fields.error());
  auto account = s_.db->GetAccount(call.ctx.account_id);
  if (!account) return core::Unexpected(account.error());
  const config::TierLimits* tier = TierOf(account->tier);
  if (tier != nullptr && tier->max_projects > 0) {
    auto all = s_.db->ListProjects(call.ctx.account_id, std::nullopt,
                                   static_cast<int>(std::min<int64_t>(tier->max_projects + 1, 100000)));
    if (!all) return core::Unexpected(all.error());
    if (static_cast<int64_t>(all->items.size()) >= tier->max_projects) {
      return core::Fail(ErrorCode::kForbidden,
                        "tier '" + account->tier + "' allows at most " +
                            std::to_string(tier->max_projects) + " projects",
                        "name");
    }
  }
  auto created = s_.db->CreateProject(p, Now());
  if (!created) return core::Unexpected(created.error());
  return Reply{200, ProjectJson(*created)};
}

core::Result<Reply> AccountApi::GetProject(const Call& call) {
  auto p = VisibleProject(call, call.path_params.at("id"), "project_id");
  if (!p) return core::Unexpected(p.error());
  return Reply{200, ProjectJson(*p)};
}

core::Result<Reply> AccountApi::UpdateProject(const Call& call, const JsonBody& body) {
  auto p = VisibleProject(call, call.path_params.at("id"), "project_id");
  if (!p) return core::Unexpected(p.error());
  auto fields = ReadProjectFields(body, *p, call.ctx, /*creating=*/false);
  if (!fields) return core::Unexpected(fields.error());
  auto updated = s_.db->UpdateProject(*p);
  if (!updated) return core::Unexpected(updated.error());
  if (s_.keys != nullptr) s_.keys->InvalidateProject(updated->id);  // scopes, rate limit
  return Reply{200, ProjectJson(*updated)};
}

core::Result<Reply> AccountApi::DeleteProject(const Call& call) {
  const std::string& id = call.path_params.at("id");
  auto p = VisibleProject(call, id, "project_id");
  if (!p) return core::Unexpected(p.error());
  if (id == call.ctx.project_id) {
    return core::Fail(ErrorCode::kConflict,
                      "cannot delete the project of the key making this request; use a key of "
                      "another project with account:admin",
                      "project_id");
  }
  auto deleted = s_.db->DeleteProject(call.ctx.account_id, id, Now());
  if (!deleted) return core::Unexpected(deleted.error());
  if (s_.keys != nullptr) s_.keys->InvalidateProject(id);  // its keys are revoked
  return Reply{200, {{"deleted", true}, {"project_id", id}}};
}

// ---- members -----------------------------------------------------------------

core::Result<Reply> AccountApi::ListMembers(const Call& call) {
  auto limit = QueryLimit(call.req, kDefaultPageLimit, kMaxPageLimit);
  if (!limit) return core::Unexpected(limit.error());
  auto page = s_.db->ListMembers(call.ctx.account_id, call.req.QueryParam("cursor"), *limit);
  if (!page) return core::Unexpected(page.error());
  return Reply{200, PageJson(*page, MemberJson)};
}

bool PlausibleEmail(const std::string& email) {
  const size_t at = email.find('@');
  if (at == std::string::npos || at == 0 || at != email.rfind('@')) return false;
  const std::string domain = email.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == std::string::npos || domain.front() == '.' ||
      domain.back() == '.') {
    return false;
  }
  return std::none_of(email.begin(), email.end(), [](unsigned char c) {
    return c <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == 0x7f;
  });
}

core::Result<Reply> AccountApi::InviteMember(const Call& call, const JsonBody& body) {
  auto email = body.String("email", 3, 254);
  if (!email) return core::Unexpected(email.error());
  if (!*email) return core::Fail(ErrorCode::kInvalidRequest, "email is required", "email");
  if (!PlausibleEmail(**email)) {
    return core::Fail(ErrorCode::kInvalidRequest, "email is not a valid address", "email");
  }
  auto role = body.String("role", 1, 32);
  if (!role) return core::Unexpected(role.error());
  if (!*role) return core::Fail(ErrorCode::kInvalidRequest, "role is required", "role");
  if (std::find(kMemberRoles.begin(), kMemberRoles.end(), **role) == kMemberRoles.end()) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "unknown role '" + **role +
                          "' (roles: admin, billing-ops, kyc-ops, member, viewer)",
                      "role");
  }
  auto account = s_.db->GetAccount(call.ctx.account_id);
  if (!account) return core::Unexpected(account.error());
  const config::TierLimits* tier = TierOf(account->tier);
  auto existing = s_.db->ListMembers(call.ctx.account_id, std::nullopt, 100000);
  if (!existing) return core::Unexpected(existing.error());
  for (const control::Member& m : existing->items) {
    if (m.email == **email) {
      return core::Fail(ErrorCode::kConflict, "a member with this email already exists", "email");
    }
  }
  if (tier != nullptr && tier->max_members > 0 &&
      static_cast<int64_t>(existing->items.size()) >= tier->max_members) {
    return core::Fail(ErrorCode::kForbidden,
                      "tier '" + account->tier + "' allows at most " +
                          std::to_string(tier->max_members) + " members",
                      "email");
  }
  auto token = core::RandomFromAlphabet(
      32, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
  if (!token) return core::Unexpected(token.error());
  const std::string invite_token = "inv_" + *token;
  control::Member m;
  m.account_id = call.ctx.account_id;
  m.email = **email;
  m.role = **role;
  m.status = "invited";
  m.invite_token_hash = core::Sha256Hex(invite_token);
  auto created = s_.db->AddMember(m, Now());
  if (!created) return core::Unexpected(created.error());
  json j = MemberJson(*created);
  j["invite_token"] = invite_token;  // shown once; only its hash is stored
  return Reply{200, std::move(j)};
}

core::Result<Reply> AccountApi::RemoveMember(const Call& call) {
  const std::string& id = call.path_params.at("id");
  auto removed = s_.db->RemoveMember(call.ctx.account_id, id);
  if (!removed) {
    if (removed.error().code == ErrorCode::kNotFound) return NotFound("member", "member_id");
    return core::Unexpected(removed.error());
  }
  return Reply{200, {{"removed", true}, {"member_id", id}}};
}

// ---- tier, usage, bandwidth ------------------------------------------------------

core::Result<Reply> AccountApi::Tier(const Call& call) {
  auto account = s_.db->GetAccount(call.ctx.account_id);
  if (!account) return core::Unexpected(account.error());
  const config::TierLimits* tier = TierOf(account->tier);
  return Reply{200,
               {{"tier", account->tier},
                {"limits", tier != nullptr ? TierJson(*tier) : json(nullptr)},
                {"billing_period", Period(Now())}}};
}

core::Result<Reply> AccountApi::UsageSummary(const Call& call) {
  const int64_t now = Now();
  auto rows = Usage(call.ctx.account_id, MonthStart(now), NextMonthStart(now));
  if (!rows) return core::Unexpected(rows.error());
  int64_t requests = 0;
  std::map<std::string, int64_t> by_capability;
  for (const control::UsageRow& r : *rows) {
    requests += r.requests;
    by_capability[r.capability] += r.requests;
  }
  json caps = json::object();
  for (const auto& [capability, n] : by_capability) {
    // Spend per capability joins in when LLM events are priced (events issue).
    caps[capability] = {{"requests", n}, {"spend_usd", 0.0}};
  }
  return Reply{200,
               {{"period", Period(now)},
                {"spend_usd", 0.0},
                {"requests", requests},
                {"by_capability", std::move(caps)}}};
}

core::Result<Reply> AccountApi::UsageTimeseries(const Call& call) {
  const int64_t now = Now();
  const std::string granularity = call.req.QueryParam("granularity").value_or("day");
  if (granularity != "hour" && granularity != "day" && granularity != "month") {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "granularity must be one of hour, day, month (got '" + granularity + "')",
                      "granularity");
  }
  auto start = TimeParam(call.req, "start", now);
  if (!start) return core::Unexpected(start.error());
  auto end = TimeParam(call.req, "end", now);
  if (!end) return core::Unexpected(end.error());
  const int64_t start_ms = start->value_or(MonthStart(now));
  const int64_t end_ms = end->value_or(now);
  if (start_ms > end_ms) {
    return core::Fail(ErrorCode::kInvalidRequest, "start must not be after end", "start");
  }
  auto bucket_of = [&](int64_t ms) {
    if (granularity == "hour") return ms - ((ms % kHourMs) + kHourMs) % kHourMs;
    if (granularity == "day") return DayStart(ms);
    return MonthStart(ms);
  };
  auto next_bucket = [&](int64_t b) {
    if (granularity == "hour") return b + kHourMs;
    if (granularity == "day") return b + kDayMs;
    return NextMonthStart(b);
  };
  std::vector<int64_t> buckets;
  for (int64_t b = bucket_of(start_ms); b <= end_ms; b = next_bucket(b)) {
    if (static_cast<int64_t>(buckets.size()) >= kMaxTimeseriesPoints) {
      return core::Fail(ErrorCode::kInvalidRequest,
                        "range has more than " + std::to_string(kMaxTimeseriesPoints) + " " +
                            granularity + " buckets; narrow it or use a coarser granularity",
                        "granularity");
    }
    buckets.push_back(b);
  }
  auto rows = Usage(call.ctx.account_id, bucket_of(start_ms), next_bucket(bucket_of(end_ms)));
  if (!rows) return core::Unexpected(rows.error());
  std::map<int64_t, int64_t> requests;
  for (const control::UsageRow& r : *rows) requests[bucket_of(r.hour_start_ms)] += r.requests;
  json points = json::array();
  for (int64_t b : buckets) {
    auto it = requests.find(b);
    points.push_back({{"ts", Iso(b)},
                      {"spend_usd", 0.0},
                      {"requests", it == requests.end() ? 0 : it->second}});
  }
  return Reply{200, {{"granularity", granularity}, {"points", std::move(points)}}};
}

core::Result<Reply> AccountApi::BandwidthQuota(const Call& call) {
  const int64_t now = Now();
  auto account = s_.db->GetAccount(call.ctx.account_id);
  if (!account) return core::Unexpected(account.error());
  auto rows = Usage(call.ctx.account_id, MonthStart(now), NextMonthStart(now));
  if (!rows) return core::Unexpected(rows.error());
  int64_t used = 0;
  for (const control::UsageRow& r : *rows) used += r.ingress_bytes + r.egress_bytes;
  const config::TierLimits* tier = TierOf(account->tier);
  const int64_t limit = tier != nullptr ? tier->bandwidth_bytes_per_month : 0;
  return Reply{200,
               {{"period", Period(now)},
                {"limit_bytes", limit > 0 ? json(limit) : json(nullptr)},
                {"used_bytes", used},
                {"remaining_bytes", limit > 0 ? json(std::max<int64_t>(0, limit - used))
                                              : json(nullptr)}}};
}

core::Result<Reply> AccountApi::BandwidthUsage(const Call& call) {
  const int64_t now = Now();
  auto start = TimeParam(call.req, "start", now);
  if (!start) return core::Unexpected(start.error());
  auto end = TimeParam(call.req, "end", now);
  if (!end) return core::Unexpected(end.error());
  const int64_t start_ms = start->value_or(MonthStart(now));
  const int64_t end_ms = end->value_or(now);
  if (start_ms > end_ms) {
    return core::Fail(ErrorCode::kInvalidRequest, "start must not be after end", "start");
  }
  // Counts are hourly: every hour that overlaps [start, end] is included.
  const int64_t first_hour = start_ms - ((start_ms % kHourMs) + kHourMs) % kHourMs;
  auto rows = Usage(call.ctx.account_id, first_hour, end_ms + 1);
  if (!rows) return core::Unexpected(rows.error());
  int64_t ingress = 0, egress = 0;
  for (const control::UsageRow& r : *rows) {
    ingress += r.ingress_bytes;
    egress += r.egress_bytes;
  }
  return Reply{200,
               {{"period", {{"start", Iso(first_hour)}, {"end", Iso(end_ms)}}},
                {"ingress_bytes", ingress},
                {"egress_bytes", egress}}};
}

core::Result<Reply> AccountApi::ListAlerts(const Call& call) {
  auto alerts = s_.db->ListBandwidthAlerts(call.ctx.account_id);
  if (!alerts) return core::Unexpected(alerts.error());
  json items = json::array();
  for (const control::BandwidthAlert& a : *alerts) items.push_back(AlertJson(a));
  return Reply{200, {{"items", std::move(items)}}};
}

core::Result<Reply> AccountApi::ConfigureAlert(const Call& call, const JsonBody& body) {
  auto threshold = body.Int("threshold_bytes", 1, INT64_MAX);
  if (!threshold) return core::Unexpected(threshold.error());
  if (!*threshold) {
    return core::Fail(ErrorCode::kInvalidRequest, "threshold_bytes is required", "threshold_bytes");
  }
  auto alert = s_.db->CreateBandwidthAlert(call.ctx.account_id, **threshold, Now());
  if (!alert) return core::Unexpected(alert.error());
  return Reply{200, AlertJson(*alert)};
}

core::Result<Reply> AccountApi::DeleteAlert(const Call& call) {
  const std::string& id = call.path_params.at("id");
  auto deleted = s_.db->DeleteBandwidthAlert(call.ctx.account_id, id);
  if (!deleted) {
    if (deleted.error().code == ErrorCode::kNotFound) return NotFound("bandwidth alert", "alert_id");
    return core::Unexpected(deleted.error());
  }
  return Reply{200, {{"deleted", true}, {"alert_id", id}}};
}

// ---- registration --------------------------------------------------------------

void AccountApi::Register(Router& router) {
  constexpr const char* kRead = "account:read";
  constexpr const char* kAdmin = "account:admin";
  auto on = [this](auto method) {
    return [this, method](const Call& call) { return (this->*method)(call); };
  };
  auto on_body = [this](auto method) {
    return [this, method](const Call& call, const JsonBody& body) {
      return (this->*method)(call, body);
    };
  };

  Add(router, "GET", "/v1/account/whoami", "account.whoami", kRead, on(&AccountApi::Whoami));
  Add(router, "GET", "/v1/me", "me", kRead, on(&AccountApi::Me));

  Add(router, "GET", "/v1/account/keys/list", "account.keys.list", kRead,
      [this](const Call& call) { return ListKeys(call, false); });
  AddMutating(router, "POST", "/v1/account/keys/create", "account.keys.create", kAdmin,
              {"project_id", "name", "scopes"},
              [this](const Call& call, const JsonBody& body) { return CreateKey(call, body, false); });
  AddMutating(router, "PATCH", "/v1/account/keys/update/{id}", "account.keys.update", kAdmin,
              {"key_id", "name", "scopes"}, on_body(&AccountApi::UpdateKey));
  AddMutating(router, "POST", "/v1/account/keys/rotate/{id}", "account.keys.rotate", kAdmin,
              {"key_id", "grace_hours"}, on_body(&AccountApi::RotateKey));
  AddMutating(router, "DELETE", "/v1/account/keys/revoke/{id}", "account.keys.revoke", kAdmin,
              {"key_id"},
              [this](const Call& call, const JsonBody&) { return RevokeKey(call, false); });
  AddMutating(router, "POST", "/v1/account/keys/suspected_compromise/{id}",
              "account.keys.suspected_compromise", kAdmin,
              {"key_id", "confirmed_leak", "auto_rotate"}, on_body(&AccountApi::CompromisedKey));
  // Seed 003 aliases: one implementation, the REST shapes.
  Add(router, "GET", "/v1/api-keys", "api_keys.list", kRead,
      [this](const Call& call) { return ListKeys(call, true); });
  AddMutating(router, "POST", "/v1/api-keys", "api_keys.create", kAdmin,
              {"project_id", "name", "scopes"},
              [this](const Call& call, const JsonBody& body) { return CreateKey(call, body, true); });
  AddMutating(router, "DELETE", "/v1/api-keys/{id}", "api_keys.delete", kAdmin, {"key_id"},
              [this](const Call& call, const JsonBody&) { return RevokeKey(call, true); });

  Add(router, "GET", "/v1/account/projects/list", "account.projects.list", kRead,
      on(&AccountApi::ListProjects));
  AddMutating(router, "POST", "/v1/account/projects/create", "account.projects.create", kAdmin,
              {"name", "scopes", "metadata", "rate_limit_rpm"}, on_body(&AccountApi::CreateProject));
  Add(router, "GET", "/v1/account/projects/get/{id}", "account.projects.get", kRead,
      on(&AccountApi::GetProject));
  AddMutating(router, "PATCH", "/v1/account/projects/update/{id}", "account.projects.update",
              kAdmin, {"project_id", "name", "scopes", "metadata", "rate_limit_rpm"},
              on_body(&AccountApi::UpdateProject));
  AddMutating(router, "DELETE", "/v1/account/projects/delete/{id}", "account.projects.delete",
              kAdmin, {"project_id"},
              [this](const Call& call, const JsonBody&) { return DeleteProject(call); });

  Add(router, "GET", "/v1/account/members/list", "account.members.list", kRead,
      on(&AccountApi::ListMembers));
  AddMutating(router, "POST", "/v1/account/members/invite", "account.members.invite", kAdmin,
              {"email", "role"}, on_body(&AccountApi::InviteMember));
  AddMutating(router, "DELETE", "/v1/account/members/remove/{id}", "account.members.remove",
              kAdmin, {"member_id"},
              [this](const Call& call, const JsonBody&) { return RemoveMember(call); });

  Add(router, "GET", "/v1/account/tier", "account.tier", kRead, on(&AccountApi::Tier));
  Add(router, "GET", "/v1/account/usage", "account.usage", kRead, on(&AccountApi::UsageSummary));
  Add(router, "GET", "/v1/account/usage/timeseries", "account.usage.timeseries", kRead,
      on(&AccountApi::UsageTimeseries));

  Add(router, "GET", "/v1/account/bandwidth/quota", "account.bandwidth.quota", kRead,
      on(&AccountApi::BandwidthQuota));
  Add(router, "GET", "/v1/account/bandwidth/usage", "account.bandwidth.usage", kRead,
      on(&AccountApi::BandwidthUsage));
  Add(router, "GET", "/v1/account/bandwidth/alerts/list", "account.bandwidth.alerts.list", kRead,
      on(&AccountApi::ListAlerts));
  AddMutating(router, "POST", "/v1/account/bandwidth/alerts/configure",
              "account.bandwidth.alerts.configure", kAdmin, {"threshold_bytes"},
              on_body(&AccountApi::ConfigureAlert));
  AddMutating(router, "DELETE", "/v1/account/bandwidth/alerts/delete/{id}",
              "account.bandwidth.alerts.delete", kAdmin, {"alert_id"},
              [this](const Call& call, const JsonBody&) { return DeleteAlert(call); });
}

}  // namespace

void AddAccountRoutes(Router& router, const AccountServices& services) {
  // The route handlers hold this object; the router keeps it alive.
  auto api = std::make_shared<AccountApi>(services);
  api->Register(router);
  router.Keep(api);
}

}  // namespace rest

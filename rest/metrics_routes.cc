#include "rest/metrics_routes.h"

#include <memory>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "rest/error_response.h"
#include "rest/idempotent.h"

namespace rest {
namespace {

using nlohmann::json;

json ErrorsJson(const std::vector<exporter::PointError>& errors) {
  json out = json::array();
  for (const auto& e : errors) {
    json item = {{"index", e.index},
                 {"code", core::ErrorCodeName(e.error.code)},
                 {"message", e.error.message}};
    if (!e.error.param.empty()) item["param"] = e.error.param;  // same shape as single errors
    out.push_back(std::move(item));
  }
  return out;
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

enum class Kind { kReport, kBatch };

void Ingest(Kind kind, exporter::IngestService& ingest, exporter::IdempotencyCache& idempotency,
            const core::Clock& clock, const std::atomic<bool>* ready, const Call& call,
            core::HttpResponse& resp) {
  if (ready != nullptr && !ready->load()) {
    WriteError(resp, core::MakeError(core::ErrorCode::kUnavailable,
                                     "not ready: replaying the write-ahead log; retry shortly"));
    resp.SetHeader("Retry-After", "1");
    return;
  }
  auto decoder = ingest.AcquireDecoder();
  const exporter::DecodeContext dctx = ingest.MakeDecodeContext();
  auto decoded = kind == Kind::kReport ? decoder->DecodeReport(call.req.body, dctx)
                                       : decoder->DecodeBatch(call.req.body, dctx);
  if (!decoded) {
    ingest.CountRejectedRequest(decoded.error(), 1);
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
  auto respond = [kind](const exporter::IngestOutcome& outcome) {
    if (kind == Kind::kReport) {
      if (!outcome.errors.empty()) {
        const core::Error& e = outcome.errors.front().error;
        return exporter::StoredResponse{HttpStatusFor(e.code), ErrorBody(e)};
      }
      return exporter::StoredResponse{200, R"({"ok":true})"};
    }
    return exporter::StoredResponse{
        200, Dump(json{{"accepted", outcome.accepted},
                       {"rejected", outcome.errors.size()},
                       {"errors", ErrorsJson(outcome.errors)}})};
  };
  RunIdempotent(
      idempotency, clock, call.ctx.project_id, *key, call.req.body, resp,
      [&](core::HttpResponse& r) {
        auto stored = ingest.Store(call.ctx.project_id, *decoded, respond,
                                   intent ? &*intent : nullptr);
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

void Query(const MetricsQueryServices& s, const Call& call, core::HttpResponse& resp) {
  auto query = ParseMetricsQuery(call.req.QueryParams(), s.clock->NowMs(), s.limits);
  if (!query) return WriteError(resp, query.error());
  std::string project = call.ctx.project_id;
  if (query->project_id && *query->project_id != project) {
    const core::Error not_found = core::MakeError(
        core::ErrorCode::kNotFound, "project '" + *query->project_id + "' not found",
        "project_id");
    if (s.control == nullptr || !call.ctx.Allows("account:admin")) {
      return WriteError(resp, not_found);
    }
    auto found = s.control->GetProject(call.ctx.account_id, *query->project_id);
    if (!found) {
      return WriteError(resp, found.error().code == core::ErrorCode::kNotFound ? not_found
                                                                                : found.error());
    }
    project = found->id;
  }
  auto result = RunMetricsQuery(*s.store, project, *query, s.limits);
  if (!result) {
    // Not an input error but a limit of execution (like Prometheus' 422
    // "execution"); the error body keeps tally's shape.
    resp.status = 422;
    resp.content_type = "application/json";
    resp.body = Dump(json{{"error", {{"code", "execution"}, {"message", result.error().Message()}}}});
    return;
  }
  resp.status = 200;
  resp.content_type = "application/json";
  resp.body = MetricsQueryJson(*query, *result);
}

}  // namespace

void AddMetricsQueryRoute(Router& router, const MetricsQueryServices& services) {
  auto s = std::make_shared<MetricsQueryServices>(services);
  router.Keep(s);
  router.Add(Route{"GET", "/v1/metrics/query", "metrics.query", false, false, "metrics:read",
                   [s = s.get()](const Call& call, core::HttpResponse& resp) { Query(*s, call, resp); }});
}

void AddMetricsRoutes(Router& router, exporter::IngestService& ingest,
                      exporter::IdempotencyCache& idempotency, const core::Clock& clock,
                      const std::atomic<bool>* ready) {
  Route report{"POST", "/v1/metrics/report", "metrics.report", false, true, "metrics:write",
               [&ingest, &idempotency, &clock, ready](const Call& call, core::HttpResponse& resp) {
                 Ingest(Kind::kReport, ingest, idempotency, clock, ready, call, resp);
               }};
  report.ingest = true;
  router.Add(std::move(report));
  Route batch{"POST", "/v1/metrics/batch", "metrics.batch", false, true, "metrics:write",
              [&ingest, &idempotency, &clock, ready](const Call& call, core::HttpResponse& resp) {
                Ingest(Kind::kBatch, ingest, idempotency, clock, ready, call, resp);
              }};
  batch.ingest = true;
  router.Add(std::move(batch));
}

}  // namespace rest

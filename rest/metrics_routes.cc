#include "rest/metrics_routes.h"

#include <nlohmann/json.hpp>

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
            const core::Clock& clock, const Call& call, core::HttpResponse& resp) {
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
  RunIdempotent(idempotency, clock, call.ctx.project_id, *key, call.req.body, resp,
                [&](core::HttpResponse& r) {
                  auto outcome = ingest.Store(call.ctx.project_id, *decoded);
                  if (!outcome) {
                    WriteError(r, outcome.error());
                    return;
                  }
                  if (kind == Kind::kReport) {
                    if (!outcome->errors.empty()) {
                      WriteError(r, outcome->errors.front().error);
                      return;
                    }
                    r.status = 200;
                    r.body = R"({"ok":true})";
                    return;
                  }
                  r.status = 200;
                  r.body = Dump(json{{"accepted", outcome->accepted},
                                     {"rejected", outcome->errors.size()},
                                     {"errors", ErrorsJson(outcome->errors)}});
                });
}

}  // namespace

void AddMetricsRoutes(Router& router, exporter::IngestService& ingest,
                      exporter::IdempotencyCache& idempotency, const core::Clock& clock) {
  router.Add(Route{"POST", "/v1/metrics/report", "metrics.report", false, true, "metrics:write",
                   [&](const Call& call, core::HttpResponse& resp) {
                     Ingest(Kind::kReport, ingest, idempotency, clock, call, resp);
                   }});
  router.Add(Route{"POST", "/v1/metrics/batch", "metrics.batch", false, true, "metrics:write",
                   [&](const Call& call, core::HttpResponse& resp) {
                     Ingest(Kind::kBatch, ingest, idempotency, clock, call, resp);
                   }});
}

}  // namespace rest

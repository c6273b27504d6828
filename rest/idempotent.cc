#include "rest/idempotent.h"

#include "core/digest.h"
#include "rest/error_response.h"

namespace rest {

core::Result<std::optional<std::string>> ResolveIdempotencyKey(
    const core::HttpRequest& req, const std::optional<std::string>& body_key) {
  const std::string* header = req.Header("idempotency-key");
  if (header != nullptr) {
    if (header->empty() || header->size() > 255) {
      return core::Fail(core::ErrorCode::kInvalidRequest,
                        "Idempotency-Key header must be 1..255 characters", "Idempotency-Key");
    }
    if (body_key && *body_key != *header) {
      return core::Fail(core::ErrorCode::kInvalidRequest,
                        "idempotency_key in the body differs from the Idempotency-Key header",
                        "idempotency_key");
    }
    return std::optional<std::string>(*header);
  }
  return body_key;
}

void RunIdempotent(exporter::IdempotencyStore& cache, const core::Clock& clock,
                   const std::string& project, const std::optional<std::string>& key,
                   const std::string& body, core::HttpResponse& resp,
                   const std::function<void(core::HttpResponse&)>& work,
                   const std::string* body_hash) {
  if (!key) {
    work(resp);
    return;
  }
  const std::string hash = body_hash != nullptr ? *body_hash : core::Sha256Hex(body);
  auto begin = cache.Begin(project, *key, hash, clock.NowMs());
  switch (begin.outcome) {
    case exporter::IdempotencyStore::Outcome::kReused:
      WriteError(resp, core::MakeError(core::ErrorCode::kIdempotencyKeyReused,
                                       "idempotency key '" + *key +
                                           "' was already used with a different request body",
                                       "idempotency_key"));
      return;
    case exporter::IdempotencyStore::Outcome::kInFlight:
      WriteError(resp, core::MakeError(core::ErrorCode::kConflict,
                                       "a request with idempotency key '" + *key +
                                           "' is still being processed; retry later",
                                       "idempotency_key"));
      return;
    case exporter::IdempotencyStore::Outcome::kReplay:
      resp.status = begin.response.status;
      resp.content_type = "application/json";
      resp.body = std::move(begin.response.body);
      resp.SetHeader("Idempotent-Replayed", "true");
      return;
    case exporter::IdempotencyStore::Outcome::kNew:
      break;
  }
  try {
    work(resp);
  } catch (...) {
    cache.Abandon(project, *key);
    throw;
  }
  if (resp.status >= 500) {
    cache.Abandon(project, *key);
  } else {
    cache.Complete(project, *key, {resp.status, resp.body});
  }
}

}  // namespace rest

// Runs a mutating handler at most once per (project, idempotency key): a
// repeated request with the same body gets the first response again (header
// Idempotent-Replayed: true); another body gets 422; a request while the first
// is still running gets 409. 5xx responses are not stored, so a retry may succeed.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "core/http.h"
#include "exporter/idempotency.h"

namespace rest {

// `key` is the idempotency key from the body or header (nullopt: just run `work`).
void RunIdempotent(exporter::IdempotencyStore& cache, const core::Clock& clock,
                   const std::string& project, const std::optional<std::string>& key,
                   const std::string& body, core::HttpResponse& resp,
                   const std::function<void(core::HttpResponse&)>& work,
                   const std::string* body_hash = nullptr);

// The key from the `Idempotency-Key` header and/or the body's `idempotency_key`.
// Both present and different -> error naming `idempotency_key`.
core::Result<std::optional<std::string>> ResolveIdempotencyKey(
    const core::HttpRequest& req, const std::optional<std::string>& body_key);

}  // namespace rest

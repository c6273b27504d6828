// Routes of the metrics family: POST /v1/metrics/report, POST /v1/metrics/batch.
#pragma once

#include <atomic>

#include "core/clock.h"
#include "exporter/idempotency.h"
#include "exporter/ingest_service.h"
#include "rest/router.h"

namespace rest {

// The services must outlive the router.
// While `ready` is false (start-up WAL replay) ingest answers 503.
void AddMetricsRoutes(Router& router, exporter::IngestService& ingest,
                      exporter::IdempotencyCache& idempotency, const core::Clock& clock,
                      const std::atomic<bool>* ready = nullptr);

}  // namespace rest

// Routes of the events family (API.md section 3, docs/api.md):
//   POST /v1/events               (events.ingest, scope events:write, ingest rate limit)
//   GET  /v1/events               (events.list,   scope analytics:read)
//   GET  /v1/events/{event_id}    (events.get,    scope analytics:read)
//   POST /v1/events/reprice       (events.reprice, scope account:admin)
// Thin handlers over exporter::EventService (ingest) and store::EventStore
// (reads); the list logic is the plain function ListEvents, which tests call
// without a socket.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "exporter/event_service.h"
#include "exporter/idempotency.h"
#include "rest/router.h"
#include "store/control/control_plane.h"
#include "store/event_store.h"

namespace rest {

// Everything must outlive the router. While `ready` is false (start-up WAL
// replay) ingest answers 503. `control` resolves `project_id` for keys with
// account:admin (nullptr: only the key's own project).
struct EventRoutesServices {
  exporter::EventService* ingest = nullptr;
  exporter::IdempotencyCache* idempotency = nullptr;
  const store::EventStore* store = nullptr;
  const core::Clock* clock = nullptr;
  control::ControlPlane* control = nullptr;
  const std::atomic<bool>* ready = nullptr;
};

void AddEventRoutes(Router& router, const EventRoutesServices& services);

// GET /v1/events parameters, validated.
struct EventListQuery {
  int64_t from_ms = INT64_MIN;  // inclusive
  int64_t to_ms = INT64_MAX;    // exclusive (a plain end_date includes its whole day)
  std::vector<std::pair<store::EventField, std::string>> equals;  // field filters
  std::vector<std::pair<std::string, std::string>> tags;           // AND
  size_t limit = 100;
  size_t offset = 0;
  bool csv = false;
  std::optional<std::string> project_id;
};

// Validates the query string; errors name the parameter.
core::Result<EventListQuery> ParseEventListQuery(
    const std::vector<std::pair<std::string, std::string>>& params, int64_t now_ms);

struct EventListPage {
  std::vector<store::Event> events;  // newest first (ties: id descending)
  size_t total = 0;                  // events matching the filters
};

// The page of `project`'s events that `query` asks for.
EventListPage ListEvents(const store::EventStore& store, const std::string& project,
                         const EventListQuery& query);

// The JSON object of one event (seed 003 field names; cost as USD).
std::string EventJson(const store::Event& event);

}  // namespace rest

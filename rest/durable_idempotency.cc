#include "rest/durable_idempotency.h"

namespace rest {

using Outcome = exporter::IdempotencyStore::Outcome;

exporter::IdempotencyStore::BeginResult DurableIdempotency::Begin(const std::string& project,
                                                                  const std::string& key,
                                                                  const std::string& body_hash,
                                                                  int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto flight = in_flight_.find({project, key});
  if (flight != in_flight_.end()) {
    return {flight->second.body_hash == body_hash ? Outcome::kInFlight : Outcome::kReused, {}};
  }
  auto record = db_.GetIdempotency(project, key);
  // A read failure must not run the request twice: answer "in flight" so the
  // client retries (409) rather than risk a duplicate.
  if (!record) return {Outcome::kInFlight, {}};
  if (*record && (*record)->created_at_ms > now_ms - ttl_ms_) {
    const control::IdempotencyRecord& r = **record;
    if (r.body_hash != body_hash) return {Outcome::kReused, {}};
    return {Outcome::kReplay, exporter::StoredResponse{r.status, r.response_body}};
  }
  in_flight_[{project, key}] = InFlight{body_hash, now_ms};
  return {Outcome::kNew, {}};
}

void DurableIdempotency::Complete(const std::string& project, const std::string& key,
                                  exporter::StoredResponse response) {
  std::lock_guard lock(mu_);
  auto flight = in_flight_.find({project, key});
  if (flight == in_flight_.end()) return;
  // If the record cannot be written the response still goes out; a retry then
  // runs again, which is the best available without the table.
  (void)db_.PutIdempotency(control::IdempotencyRecord{project, key, flight->second.body_hash,
                                                      response.status, std::move(response.body),
                                                      flight->second.started_ms});
  in_flight_.erase(flight);
}

void DurableIdempotency::Abandon(const std::string& project, const std::string& key) {
  std::lock_guard lock(mu_);
  in_flight_.erase({project, key});
}

}  // namespace rest

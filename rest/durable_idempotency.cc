#include "rest/durable_idempotency.h"

#include <nlohmann/json.hpp>

namespace rest {
namespace {

using Outcome = exporter::IdempotencyStore::Outcome;

// Response fields that carry a secret shown exactly once.
constexpr const char* kSecretFields[] = {"key_secret", "key", "invite_token"};

}  // namespace

std::string DurableIdempotency::RedactSecrets(const std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return body;
  bool redacted = false;
  for (const char* field : kSecretFields) {
    auto it = doc.find(field);
    if (it != doc.end() && it->is_string()) {
      *it = nullptr;
      redacted = true;
    }
  }
  if (!redacted) return body;
  doc["secret_redacted"] = true;
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

exporter::IdempotencyStore::BeginResult DurableIdempotency::Begin(const std::string& project,
                                                                  const std::string& key,
                                                                  const std::string& body_hash,
                                                                  int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto flight = in_flight_.find({project, key});
  if (flight != in_flight_.end()) {
    return {flight->second.body_hash == body_hash ? Outcome::kInFlight : Outcome::kReused, {}};
  }
  auto recent = recent_.find({project, key});
  if (recent != recent_.end() && now_ms - recent->second.completed_ms < secret_replay_ms_) {
    if (recent->second.body_hash != body_hash) return {Outcome::kReused, {}};
    return {Outcome::kReplay, recent->second.response};
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
  std::string stored = RedactSecrets(response.body);
  if (stored != response.body) {
    recent_[{project, key}] = Recent{flight->second.body_hash, response, flight->second.started_ms};
  }
  // If the record cannot be written the response still goes out; a retry then
  // runs again, which is the best available without the table.
  (void)db_.PutIdempotency(control::IdempotencyRecord{project, key, flight->second.body_hash,
                                                      response.status, std::move(stored),
                                                      flight->second.started_ms});
  in_flight_.erase(flight);
}

void DurableIdempotency::Abandon(const std::string& project, const std::string& key) {
  std::lock_guard lock(mu_);
  in_flight_.erase({project, key});
}

core::Result<int64_t> DurableIdempotency::Purge(int64_t now_ms) {
  {
    std::lock_guard lock(mu_);
    std::erase_if(recent_, [&](const auto& kv) {
      return now_ms - kv.second.completed_ms >= secret_replay_ms_;
    });
  }
  return db_.PurgeIdempotency(now_ms - ttl_ms_);
}

}  // namespace rest

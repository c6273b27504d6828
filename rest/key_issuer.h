// Issuing API keys: the one place a new key secret is generated and stored
// (account routes, the operator CLI and the first-start bootstrap use it).
// Only the SHA-256 of the secret is stored; the caller shows `secret` once.
#pragma once

#include <string>
#include <vector>

#include "store/control/control_plane.h"

namespace rest {

struct IssuedKey {
  control::ApiKey key;
  std::string secret;  // tly_<prefix>_<...>: shown once, never stored
};

// A new key of `project_id` in `account_id` with `scopes` (empty = all).
core::Result<IssuedKey> IssueKey(control::ControlPlane& db, const std::string& account_id,
                                 const std::string& project_id, const std::string& name,
                                 const std::vector<std::string>& scopes, int64_t now_ms);

// A new secret for an existing key; older secrets expire at `old_expires_at_ms`.
core::Result<IssuedKey> IssueSecret(control::ControlPlane& db, const std::string& account_id,
                                    const std::string& key_id, int64_t old_expires_at_ms,
                                    int64_t now_ms);

}  // namespace rest

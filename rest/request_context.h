// RequestContext: who is calling, resolved once per request by an Authenticator
// before any handler runs. Handlers read the project from here and never from
// the request, so the accounts issue can replace the authenticator without
// touching handlers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/http.h"
#include "core/status.h"

namespace rest {

struct RequestContext {
  std::string account_id;
  std::string project_id;
  std::string key_id;               // empty when no key was used
  std::vector<std::string> scopes;  // key scopes; empty = all scopes
  std::vector<std::string> project_scopes;  // the project's cap; empty = all
  // Requests per minute for this project (0 = unlimited), from the project's
  // rate_limit_rpm or the account's tier; ingest routes use the second.
  int64_t rate_limit_rpm = 0;
  int64_t ingest_rate_limit_rpm = 0;
  std::string tier;

  // True when both the key and its project grant `scope`.
  bool Allows(std::string_view scope) const;
};

// The scopes of API.md section 1.
inline constexpr std::string_view kAllScopes[] = {
    "metrics:write", "metrics:read",  "events:write",  "analytics:read",
    "account:read",  "account:admin", "billing:admin",
};
bool IsKnownScope(std::string_view scope);
// True when the granted list (empty = all) covers `scope`; account:admin and
// billing:admin imply account:read.
bool ScopeListAllows(const std::vector<std::string>& granted, std::string_view scope);

// Thread-safe implementations only: called concurrently.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Resolves the caller, or fails with kUnauthorized (kForbidden for a
  // suspended account). Scopes are checked by the router against the context,
  // after the rate limit, so a 403 carries rate-limit headers too.
  virtual core::Result<RequestContext> Authenticate(const core::HttpRequest& req) const = 0;
};

// Until accounts exist: every request belongs to account and project "default".
class DefaultProjectAuthenticator final : public Authenticator {
 public:
  core::Result<RequestContext> Authenticate(const core::HttpRequest&) const override {
    return RequestContext{"default", "default", "", {}};
  }
};

}  // namespace rest

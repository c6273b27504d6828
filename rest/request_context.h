// RequestContext: who is calling, resolved once per request by an Authenticator
// before any handler runs. Handlers read the project from here and never from
// the request, so the accounts issue can replace the authenticator without
// touching handlers.
#pragma once

#include <string>
#include <vector>

#include "core/http.h"
#include "core/status.h"

namespace rest {

struct RequestContext {
  std::string account_id;
  std::string project_id;
  std::string key_id;              // empty when no key was used
  std::vector<std::string> scopes; // empty = all scopes
};

// Thread-safe implementations only: called concurrently.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Resolves the caller, or fails with kUnauthorized / kForbidden.
  // `scope` is the scope the route requires ("" for none).
  virtual core::Result<RequestContext> Authenticate(const core::HttpRequest& req,
                                                    const std::string& scope) const = 0;
};

// Until accounts exist: every request belongs to account and project "default".
class DefaultProjectAuthenticator final : public Authenticator {
 public:
  core::Result<RequestContext> Authenticate(const core::HttpRequest&,
                                            const std::string&) const override {
    return RequestContext{"default", "default", "", {}};
  }
};

}  // namespace rest

// Account routes (API.md section 4, seeds 001 and 003): whoami/me, API keys
// (+ /v1/api-keys aliases), projects, members, tier, usage and bandwidth.
// Handlers are thin: they read the request, call the ControlPlane, and shape
// the JSON. Tenancy: every id is looked up within the caller's account; an
// object of another project is visible only to keys with account:admin.
#pragma once

#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "exporter/idempotency.h"
#include "rest/key_authenticator.h"
#include "rest/router.h"
#include "rest/usage_meter.h"
#include "store/control/control_plane.h"

namespace rest {

// What the account routes use. Everything must outlive the router.
struct AccountServices {
  control::ControlPlane* db = nullptr;
  const core::Clock* clock = nullptr;
  KeyAuthenticator* keys = nullptr;  // cache to invalidate on change; may be null
  UsageMeter* usage = nullptr;       // may be null (usage then reads only stored counts)
  exporter::IdempotencyStore* idempotency = nullptr;
  std::vector<config::TierLimits> tiers;
};

void AddAccountRoutes(Router& router, const AccountServices& services);

}  // namespace rest

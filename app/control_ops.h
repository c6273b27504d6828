// Operator actions on the control plane, shared by `tally serve` (first-start
// bootstrap) and the operator CLI (`tally accounts|projects|keys ...`). The CLI
// works on the database file directly; SQLite's WAL journal and busy timeout
// let it run next to a live server, which sees changes within
// auth.key_cache_ttl.
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/status.h"
#include "store/control/control_plane.h"

namespace app {

// <storage.dir>/tally.db (the directory is created if needed).
std::string ControlPlanePath(const config::Config& cfg);
core::Result<std::unique_ptr<control::ControlPlane>> OpenControlPlane(const config::Config& cfg);

struct BootstrapResult {
  std::string account_id;
  std::string project_id;
  std::string key_id;
  std::string secret;        // printed once
  std::string key_file;      // where the secret was written (mode 0600)
};

// With an empty database: creates an account and project named "default" and an
// admin key with every scope, and writes the key to <storage.dir>/admin.key.
// Returns nullopt when the database already has accounts.
core::Result<std::optional<BootstrapResult>> BootstrapIfEmpty(control::ControlPlane& db,
                                                               const config::Config& cfg,
                                                               int64_t now_ms);

// The operator CLI's commands. Each prints its result to `out` (errors to
// `err`) and returns the process exit code.
struct CliCommand {
  std::string verb;    // "accounts create", "keys revoke", ...
  std::vector<std::string> args;  // positional arguments
  std::string account;            // --account
  std::string project;            // --project
  std::string tier;               // --tier
  std::string name;               // --name
  std::string email;              // --admin-email
  std::vector<std::string> scopes;  // --scopes
  bool json = false;              // --json: machine-readable output
};
int RunControlCommand(const config::Config& cfg, const CliCommand& cmd, std::ostream& out,
                      std::ostream& err);

}  // namespace app

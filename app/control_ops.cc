#include "app/control_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <ostream>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/time_parse.h"
#include "rest/key_issuer.h"
#include "rest/request_context.h"
#include "store/control/sqlite_control_plane.h"

namespace app {
namespace {

using nlohmann::json;

// Writes `text` to `path` readable by the owner only, durably.
core::Status WriteSecretFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Fail(core::ErrorCode::kInternal,
                      "cannot create " + tmp + ": " + std::strerror(errno));
  }
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return core::Fail(core::ErrorCode::kInternal, "cannot write " + path + ": " + std::strerror(errno));
  }
  return {};
}

// Finds the account owning `project_id` (operator view: every account).
core::Result<control::Project> FindProject(control::ControlPlane& db, const std::string& project_id) {
  auto accounts = db.ListAccounts();
  if (!accounts) return core::Unexpected(accounts.error());
  for (const control::Account& a : *accounts) {
    auto p = db.GetProject(a.id, project_id);
    if (p) return p;
    if (p.error().code != core::ErrorCode::kNotFound) return p;
  }
  return core::Fail(core::ErrorCode::kNotFound, "no project " + project_id, "project");
}

core::Result<control::ApiKey> FindKey(control::ControlPlane& db, const std::string& key_id) {
  auto accounts = db.ListAccounts();
  if (!accounts) return core::Unexpected(accounts.error());
  for (const control::Account& a : *accounts) {
    auto k = db.GetKey(a.id, key_id);
    if (k) return k;
    if (k.error().code != core::ErrorCode::kNotFound) return k;
  }
  return core::Fail(core::ErrorCode::kNotFound, "no key " + key_id, "key");
}

template <typename T>
core::Result<std::vector<T>> AllPages(
    const std::function<core::Result<control::Page<T>>(const std::optional<std::string>&)>& page) {
  std::vector<T> out;
  std::optional<std::string> cursor;
  do {
    auto p = page(cursor);
    if (!p) return core::Unexpected(p.error());
    for (T& item : p->items) out.push_back(std::move(item));
    cursor = p->next_cursor;
  } while (cursor);
  return out;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "all" : out;
}

}  // namespace

std::string ControlPlanePath(const config::Config& cfg) { return cfg.storage.dir + "/tally.db"; }

core::Result<std::unique_ptr<control::ControlPlane>> OpenControlPlane(const config::Config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.storage.dir, ec);
  if (ec) {
    return core::Fail(core::ErrorCode::kInternal,
                      "cannot create data directory " + cfg.storage.dir + ": " + ec.message());
  }
  auto db = control::SqliteControlPlane::Open(ControlPlanePath(cfg));
  if (!db) return core::Unexpected(db.error());
  return std::unique_ptr<control::ControlPlane>(std::move(*db));
}

core::Result<std::optional<BootstrapResult>> BootstrapIfEmpty(control::ControlPlane& db,
                                                               const config::Config& cfg,
                                                               int64_t now_ms) {
  auto empty = db.IsEmpty();
  if (!empty) return core::Unexpected(empty.error());
  if (!*empty) return std::optional<BootstrapResult>();
  auto account = db.CreateAccount("default", cfg.auth.bootstrap_tier, now_ms);
  if (!account) return core::Unexpected(account.error());
  control::Project project;
  // Id "default": the project that requests without keys used before accounts
  // existed (and still use with auth.enabled: false), so data lands in one place.
  project.id = "default";
  project.account_id = account->id;
  project.name = "default";
  auto created = db.CreateProject(project, now_ms);
  if (!created) return core::Unexpected(created.error());
  auto key = rest::IssueKey(db, account->id, created->id, "bootstrap admin", {}, now_ms);
  if (!key) return core::Unexpected(key.error());
  BootstrapResult result{account->id, created->id, key->key.id, key->secret,
                         cfg.storage.dir + "/admin.key"};
  if (auto st = WriteSecretFile(result.key_file, key->secret + "\n"); !st) {
    return core::Unexpected(st.error());
  }
  return std::optional<BootstrapResult>(std::move(result));
}

int RunControlCommand(const config::Config& cfg, const CliCommand& cmd, std::ostream& out,
                      std::ostream& err) {
  auto opened = OpenControlPlane(cfg);
  if (!opened) {
    err << "error: " << opened.error().message << "\n";
    return 1;
  }
  control::ControlPlane& db = **opened;
  core::SystemClock clock;
  const int64_t now = clock.NowMs();
  auto fail = [&](const core::Error& e) {
    err << "error: " << e.message << "\n";
    return 1;
  };

  if (cmd.verb == "accounts create") {
    const std::string tier = cmd.tier.empty() ? cfg.billing.default_tier : cmd.tier;
    if (config::FindTier(cfg.billing.tiers, tier) == nullptr) {
      err << "error: unknown tier '" << tier << "'\n";
      return 1;
    }
    auto account = db.CreateAccount(cmd.args.at(0), tier, now);
    if (!account) return fail(account.error());
    if (!cmd.email.empty()) {
      control::Member admin;
      admin.account_id = account->id;
      admin.email = cmd.email;
      admin.role = "admin";
      admin.status = "active";
      if (auto m = db.AddMember(admin, now); !m) return fail(m.error());
    }
    if (cmd.json) {
      out << json{{"account_id", account->id}, {"name", account->name}, {"tier", account->tier}}.dump()
          << "\n";
    } else {
      out << account->id << "\n";
    }
    return 0;
  }
  if (cmd.verb == "accounts list") {
    auto accounts = db.ListAccounts();
    if (!accounts) return fail(accounts.error());
    json list = json::array();
    for (const control::Account& a : *accounts) {
      if (cmd.json) {
        list.push_back({{"account_id", a.id}, {"name", a.name}, {"tier", a.tier}, {"status", a.status}});
      } else {
        out << a.id << "  " << a.name << "  tier=" << a.tier << "  " << a.status << "\n";
      }
    }
    if (cmd.json) out << list.dump() << "\n";
    return 0;
  }
  if (cmd.verb == "projects create") {
    if (cmd.account.empty()) {
      err << "error: --account is required\n";
      return 1;
    }
    auto account = db.GetAccount(cmd.account);
    if (!account) return fail(account.error());
    control::Project p;
    p.account_id = account->id;
    p.name = cmd.args.at(0);
    auto created = db.CreateProject(p, now);
    if (!created) return fail(created.error());
    if (cmd.json) {
      out << json{{"project_id", created->id}, {"account_id", created->account_id}, {"name", created->name}}.dump()
          << "\n";
    } else {
      out << created->id << "\n";
    }
    return 0;
  }
  if (cmd.verb == "projects list") {
    if (cmd.account.empty()) {
      err << "error: --account is required\n";
      return 1;
    }
    auto all = AllPages<control::Project>([&](const std::optional<std::string>& c) {
      return db.ListProjects(cmd.account, c, 1000);
    });
    if (!all) return fail(all.error());
    for (const control::Project& p : *all) out << p.id << "  " << p.name << "\n";
    return 0;
  }
  if (cmd.verb == "keys create") {
    if (cmd.project.empty()) {
      err << "error: --project is required\n";
      return 1;
    }
    for (const std::string& s : cmd.scopes) {
      if (!rest::IsKnownScope(s)) {
        err << "error: unknown scope '" << s << "'\n";
        return 1;
      }
    }
    auto project = FindProject(db, cmd.project);
    if (!project) return fail(project.error());
    auto issued = rest::IssueKey(db, project->account_id, project->id, cmd.name, cmd.scopes, now);
    if (!issued) return fail(issued.error());
    if (cmd.json) {
      out << json{{"key_id", issued->key.id}, {"project_id", project->id},
                  {"account_id", project->account_id}, {"scopes", issued->key.scopes},
                  {"key_secret", issued->secret}}.dump()
          << "\n";
    } else {
      out << issued->secret << "\n";
      err << "key " << issued->key.id << " for project " << project->id
          << " (scopes: " << Joined(issued->key.scopes)
          << "). The secret above is shown only once; store it now.\n";
    }
    return 0;
  }
  if (cmd.verb == "keys list") {
    auto accounts = db.ListAccounts();
    if (!accounts) return fail(accounts.error());
    for (const control::Account& a : *accounts) {
      if (!cmd.account.empty() && a.id != cmd.account) continue;
      auto keys = AllPages<control::ApiKey>([&](const std::optional<std::string>& c) {
        return db.ListKeys(a.id, cmd.project, c, 1000);
      });
      if (!keys) return fail(keys.error());
      for (const control::ApiKey& k : *keys) {
        out << k.id << "  tly_" << (k.secrets.empty() ? "?" : k.secrets.front().prefix) << "_…  "
            << "project=" << k.project_id << "  " << k.status << "  scopes=" << Joined(k.scopes)
            << "  last_used="
            << (k.last_used_at_ms ? core::FormatIso8601(*k.last_used_at_ms) : std::string("never"))
            << (k.name.empty() ? "" : "  name=" + k.name) << "\n";
      }
    }
    return 0;
  }
  if (cmd.verb == "keys revoke") {
    auto key = FindKey(db, cmd.args.at(0));
    if (!key) return fail(key.error());
    auto revoked = db.SetKeyStatus(key->account_id, key->id, "revoked", now);
    if (!revoked) return fail(revoked.error());
    out << "revoked " << key->id << "\n";
    return 0;
  }
  err << "error: unknown command '" << cmd.verb << "'\n";
  return 2;
}

}  // namespace app

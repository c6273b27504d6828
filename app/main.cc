// The tally binary: `tally serve`, `tally check-config FILE`, `tally version`,
// `tally promql-test FILE...`, `tally check-rules FILE...`, `tally test-rules FILE...`,
// `tally backfill-rules --start T FILE...`,
// and the operator CLI (`tally accounts|projects|keys ...`).
// main() only parses the command line and wires objects together.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/aggregator_runtime.h"
#include "app/control_ops.h"
#include "app/offset_clock.h"
#include "app/promql_test_command.h"
#include "app/rules_commands.h"
#include "app/server.h"
#include "app/version.h"
#include "config/loader.h"
#include "core/clock.h"

namespace {

int CheckConfig(const std::string& path) {
  config::LoadResult result = config::LoadConfigFile(path);
  if (!result.ok()) {
    for (const auto& e : result.errors) std::cerr << e.ToString() << "\n";
    return 1;
  }
  // Rule files too, like the aggregator loads them at start and on reload.
  auto aggregator = app::LoadAggregatorConfig(result.config);
  if (!aggregator) {
    std::cerr << aggregator.error().message << "\n";
    return 1;
  }
  size_t num_rules = 0;
  for (const auto& g : aggregator->groups) num_rules += g.rules.size();
  std::cout << path << ": ok (" << aggregator->scrape_configs.size() << " scrape configs, "
            << aggregator->groups.size() << " rule groups, " << num_rules << " rules)\n";
  return 0;
}

// The config from `config_path` (built-in defaults when empty), or nullopt
// after logging every error.
std::optional<config::Config> LoadConfig(const std::string& config_path, const std::string& data_dir) {
  config::Config cfg;
  if (!config_path.empty()) {
    config::LoadResult result = config::LoadConfigFile(config_path);
    if (!result.ok()) {
      for (const auto& e : result.errors) spdlog::error("{}", e.ToString());
      return std::nullopt;
    }
    cfg = std::move(result.config);
  }
  if (!data_dir.empty()) cfg.storage.dir = data_dir;
  return cfg;
}

struct ServeFlags {
  std::string config_path, listen, data_dir, port_file, routes_file, clock_offset_file;
  bool wal_repair = false;
  app::Server::Role role = app::Server::Role::kAll;
};

void WriteRoutesFile(const std::string& path, const std::vector<app::RouteInfo>& routes) {
  nlohmann::json list = nlohmann::json::array();
  for (const app::RouteInfo& r : routes) {
    list.push_back({{"method", r.method}, {"pattern", r.pattern}, {"name", r.name},
                    {"scope", r.scope}, {"public", r.is_public}, {"ingest", r.ingest}});
  }
  std::ofstream(path) << list.dump(1) << "\n";
}

int Serve(const ServeFlags& flags) {
  std::optional<config::Config> loaded = LoadConfig(flags.config_path, flags.data_dir);
  if (!loaded) return 1;
  config::Config cfg = std::move(*loaded);
  if (!flags.listen.empty()) cfg.server.listen = flags.listen;

  // Block the stop signals in every thread; this one waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  core::SystemClock system_clock;
  std::unique_ptr<app::OffsetClock> offset_clock;
  std::atomic<bool> polling{true};
  std::thread poller;
  if (!flags.clock_offset_file.empty()) {
    spdlog::warn("test clock: time is shifted by the milliseconds in {}", flags.clock_offset_file);
    offset_clock = std::make_unique<app::OffsetClock>(flags.clock_offset_file);
    poller = std::thread([&] {
      while (polling.load()) {
        offset_clock->Poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  const core::Clock& clock = offset_clock ? static_cast<const core::Clock&>(*offset_clock)
                                          : static_cast<const core::Clock&>(system_clock);
  auto stop_poller = [&] {
    polling.store(false);
    if (poller.joinable()) poller.join();
  };
  app::Server server(cfg, clock,
                     app::Server::Flags{flags.wal_repair, flags.role, flags.config_path});
  if (auto st = server.Start(); !st) {
    spdlog::error("{}", st.error().message);
    stop_poller();
    return 1;
  }
  if (!flags.routes_file.empty()) WriteRoutesFile(flags.routes_file, server.Routes());
  const std::string host = cfg.server.listen.substr(0, cfg.server.listen.rfind(':'));
  spdlog::info("tally {} listening on http://{}:{}", app::kVersion, host, server.port());
  if (!flags.port_file.empty()) {
    std::ofstream(flags.port_file) << server.port() << "\n";
  }
  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      if (auto st = server.Reload(); !st) {
        spdlog::error("SIGHUP: {}", st.error().message);
      } else {
        spdlog::info("SIGHUP: reloaded {}", flags.config_path);
      }
      continue;
    }
    spdlog::info("signal {}: shutting down, letting in-flight requests finish", sig);
    break;
  }
  server.Stop();
  stop_poller();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"tally: a self-hosted metrics and LLM-cost server"};
  cli.require_subcommand(1);

  ServeFlags serve_flags;
  auto* serve = cli.add_subcommand("serve", "run every role in one process (the default deployment)");
  serve->add_option("-c,--config", serve_flags.config_path, "YAML config file (default: built-in defaults)");
  serve->add_option("--listen", serve_flags.listen, "host:port to listen on (overrides server.listen)");
  serve->add_option("--data-dir", serve_flags.data_dir, "data directory (overrides storage.dir)");
  serve->add_option("--port-file", serve_flags.port_file, "write the bound port to this file once listening");
  serve->add_option("--routes-file", serve_flags.routes_file,
                    "write the route table (JSON) to this file once listening");
  serve->add_option("--clock-offset-file", serve_flags.clock_offset_file,
                    "testing only: shift the clock by the milliseconds written in this file");
  serve->add_flag("--wal-repair", serve_flags.wal_repair,
                  "if the WAL is damaged before its last segment, keep every record before the "
                  "damage and drop the rest (default: refuse to start)");

  // Operator CLI over <storage.dir>/tally.db.
  ServeFlags aggregator_flags;
  aggregator_flags.role = app::Server::Role::kAggregator;
  auto* aggregator = cli.add_subcommand(
      "aggregator", "run only scraping, rule evaluation and the read API (no ingest routes)");
  aggregator->add_option("-c,--config", aggregator_flags.config_path, "YAML config file");
  aggregator->add_option("--listen", aggregator_flags.listen, "host:port to listen on");
  aggregator->add_option("--data-dir", aggregator_flags.data_dir, "data directory");
  aggregator->add_option("--port-file", aggregator_flags.port_file,
                         "write the bound port to this file once listening");
  aggregator->add_option("--routes-file", aggregator_flags.routes_file,
                         "write the route table (JSON) to this file once listening");
  aggregator->add_option("--clock-offset-file", aggregator_flags.clock_offset_file,
                         "testing only: shift the clock by the milliseconds written in this file");

  std::string op_config, op_data_dir;
  app::CliCommand op;
  auto add_common = [&](CLI::App* c) {
    c->add_option("-c,--config", op_config, "YAML config file (for storage.dir and tiers)");
    c->add_option("--data-dir", op_data_dir, "data directory (overrides storage.dir)");
    c->add_flag("--json", op.json, "print JSON");
  };
  auto* accounts = cli.add_subcommand("accounts", "manage accounts")->require_subcommand(1);
  auto* accounts_create = accounts->add_subcommand("create", "create an account; prints its id");
  add_common(accounts_create);
  accounts_create->add_option("name", op.name, "account name")->required();
  accounts_create->add_option("--tier", op.tier, "tier (default: billing.default_tier)");
  accounts_create->add_option("--admin-email", op.email, "email of the account's first admin member");
  auto* accounts_list = accounts->add_subcommand("list", "list accounts");
  add_common(accounts_list);

  auto* projects = cli.add_subcommand("projects", "manage projects")->require_subcommand(1);
  auto* projects_create = projects->add_subcommand("create", "create a project; prints its id");
  add_common(projects_create);
  projects_create->add_option("name", op.name, "project name")->required();
  projects_create->add_option("--account", op.account, "account id")->required();
  auto* projects_list = projects->add_subcommand("list", "list the projects of an account");
  add_common(projects_list);
  projects_list->add_option("--account", op.account, "account id")->required();

  auto* keys = cli.add_subcommand("keys", "manage API keys")->require_subcommand(1);
  auto* keys_create = keys->add_subcommand("create", "create an API key; prints the secret once");
  add_common(keys_create);
  keys_create->add_option("--project", op.project, "project id")->required();
  keys_create->add_option("--name", op.name, "a label for the key");
  keys_create->add_option("--scopes", op.scopes, "scopes (comma-separated; default: all)")
      ->delimiter(',');
  auto* keys_list = keys->add_subcommand("list", "list API keys (never their secrets)");
  add_common(keys_list);
  keys_list->add_option("--account", op.account, "only this account");
  keys_list->add_option("--project", op.project, "only this project");
  std::string revoke_id;
  auto* keys_revoke = keys->add_subcommand("revoke", "revoke an API key at once");
  add_common(keys_revoke);
  keys_revoke->add_option("key_id", revoke_id, "key id (key_...)")->required();

  std::string check_path;
  auto* check = cli.add_subcommand("check-config", "validate a config file; exit 0 if valid, 1 if not");
  check->add_option("file", check_path, "the YAML file")->required();

  auto* version = cli.add_subcommand("version", "print the version");

  std::vector<std::string> promql_test_files;
  bool promql_test_verbose = false;
  auto* promql_test = cli.add_subcommand(
      "promql-test", "run Prometheus PromQL test files against the engine; exit 1 on any failure");
  promql_test->add_option("files", promql_test_files, "the .test files")->required();
  promql_test->add_flag("-v,--verbose", promql_test_verbose, "list every failure and skip");

  std::vector<std::string> check_rules_files, test_rules_files;
  auto* check_rules = cli.add_subcommand(
      "check-rules", "validate Prometheus rule files like promtool check rules; exit 1 on any error");
  check_rules->add_option("files", check_rules_files, "the rule files")->required();
  auto* test_rules = cli.add_subcommand(
      "test-rules", "run promtool rule unit-test files against tally's rule evaluation; exit 1 on any failure");
  test_rules->add_option("files", test_rules_files, "the unit-test files")->required();

  app::BackfillRulesFlags backfill_flags;
  auto* backfill_rules = cli.add_subcommand(
      "backfill-rules",
      "evaluate rule files over a past range of stored samples on a running server and store "
      "their output (POST /api/v1/admin/backfill)");
  backfill_rules->add_option("--url", backfill_flags.url, "the running tally serve / aggregator")
      ->capture_default_str();
  backfill_rules->add_option("--key", backfill_flags.key,
                             "API key with account:admin (default: $TALLY_API_KEY)");
  backfill_rules->add_option("--start", backfill_flags.start,
                             "first time: RFC 3339, unix seconds, or -2h before now")
      ->required();
  backfill_rules->add_option("--end", backfill_flags.end, "last time (default: now)");
  backfill_rules->add_option("--group", backfill_flags.groups,
                             "only this group (repeatable; default: every group)");
  backfill_rules->add_option("--timeout", backfill_flags.timeout_seconds,
                             "give up after this many seconds (default: wait)");
  backfill_rules->add_option("files", backfill_flags.files, "the rule files")->required();

  CLI11_PARSE(cli, argc, argv);
  if (*serve) return Serve(serve_flags);
  if (*aggregator) return Serve(aggregator_flags);
  const std::vector<std::pair<CLI::App*, const char*>> ops = {
      {accounts_create, "accounts create"}, {accounts_list, "accounts list"},
      {projects_create, "projects create"}, {projects_list, "projects list"},
      {keys_create, "keys create"},         {keys_list, "keys list"},
      {keys_revoke, "keys revoke"}};
  for (const auto& [sub, verb] : ops) {
    if (!*sub) continue;
    std::optional<config::Config> cfg = LoadConfig(op_config, op_data_dir);
    if (!cfg) return 1;
    op.verb = verb;
    if (op.verb == "accounts create" || op.verb == "projects create") op.args = {op.name};
    if (op.verb == "projects create" || op.verb == "accounts create") op.name.clear();
    if (op.verb == "keys revoke") op.args = {revoke_id};
    return app::RunControlCommand(*cfg, op, std::cout, std::cerr);
  }
  if (*check) return CheckConfig(check_path);
  if (*check_rules) return app::RunCheckRules(check_rules_files, std::cout, std::cerr);
  if (*test_rules) return app::RunTestRules(test_rules_files, std::cout, std::cerr);
  if (*backfill_rules) return app::RunBackfillRules(backfill_flags, std::cout, std::cerr);
  if (*promql_test) return app::RunPromqlTest(promql_test_files, promql_test_verbose, std::cout);
  if (*version) {
    std::cout << "tally " << app::kVersion << "\n";
    return 0;
  }
  return 2;
}

// The tally binary: `tally serve`, `tally check-config FILE`, `tally version`.
// main() only parses the command line and wires objects together.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

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
  std::cout << path << ": ok\n";
  return 0;
}

int Serve(const std::string& config_path, const std::string& listen, const std::string& data_dir,
          const std::string& port_file, bool wal_repair) {
  config::Config cfg;
  if (!config_path.empty()) {
    config::LoadResult result = config::LoadConfigFile(config_path);
    if (!result.ok()) {
      for (const auto& e : result.errors) spdlog::error("{}", e.ToString());
      return 1;
    }
    cfg = std::move(result.config);
  }
  if (!listen.empty()) cfg.server.listen = listen;
  if (!data_dir.empty()) cfg.storage.dir = data_dir;

  // Block the stop signals in every thread; this one waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  core::SystemClock clock;
  app::Server server(cfg, clock, app::Server::Flags{wal_repair});
  if (auto st = server.Start(); !st) {
    spdlog::error("{}", st.error().message);
    return 1;
  }
  const std::string host = cfg.server.listen.substr(0, cfg.server.listen.rfind(':'));
  spdlog::info("tally {} listening on http://{}:{}", app::kVersion, host, server.port());
  if (!port_file.empty()) {
    std::ofstream(port_file) << server.port() << "\n";
  }
  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: nothing to reload yet (rules and scrape configs come with the aggregator)");
      continue;
    }
    spdlog::info("signal {}: shutting down, letting in-flight requests finish", sig);
    break;
  }
  server.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"tally: a self-hosted metrics and LLM-cost server"};
  cli.require_subcommand(1);

  std::string config_path, listen, data_dir, port_file;
  auto* serve = cli.add_subcommand("serve", "run every role in one process (the default deployment)");
  serve->add_option("-c,--config", config_path, "YAML config file (default: built-in defaults)");
  serve->add_option("--listen", listen, "host:port to listen on (overrides server.listen)");
  serve->add_option("--data-dir", data_dir, "data directory (overrides storage.dir)");
  serve->add_option("--port-file", port_file, "write the bound port to this file once listening");
  bool wal_repair = false;
  serve->add_flag("--wal-repair", wal_repair,
                  "if the WAL is damaged before its last segment, keep every record before the "
                  "damage and drop the rest (default: refuse to start)");

  std::string check_path;
  auto* check = cli.add_subcommand("check-config", "validate a config file; exit 0 if valid, 1 if not");
  check->add_option("file", check_path, "the YAML file")->required();

  auto* version = cli.add_subcommand("version", "print the version");

  CLI11_PARSE(cli, argc, argv);
  if (*serve) return Serve(config_path, listen, data_dir, port_file, wal_repair);
  if (*check) return CheckConfig(check_path);
  if (*version) {
    std::cout << "tally " << app::kVersion << "\n";
    return 0;
  }
  return 2;
}

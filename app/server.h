// Server: wires the modules of `tally serve` together from a Config and runs
// them until asked to stop. Owns every long-lived object and the runner threads
// (the domain objects own none).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/status.h"

namespace app {

// One route of the table, for `--routes-file` (the auth-matrix test reads it).
struct RouteInfo {
  std::string method;
  std::string pattern;
  std::string name;
  std::string scope;
  bool is_public = false;
  bool ingest = false;
};

class Server {
 public:
  // `serve` runs every role; `aggregator` only scraping, rules and the read API
  // (no /v1/metrics ingest routes; ingest routes that exist answer 503).
  enum class Role { kAll, kAggregator };
  struct Flags {
    bool wal_repair = false;  // keep the records before mid-log WAL damage, drop the rest
    Role role = Role::kAll;
    // The file the config came from: Reload() re-reads it. Empty: no reload.
    std::string config_path;
  };
  Server(config::Config config, const core::Clock& clock);
  Server(config::Config config, const core::Clock& clock, Flags flags);
  ~Server();

  // Builds the modules and starts listening. Fails when the port is busy.
  core::Status Start();
  // The bound port (after Start).
  int port() const;
  // Graceful stop: readiness off, in-flight requests finish, runners stop.
  void Stop();
  // The route table (after Start).
  std::vector<RouteInfo> Routes() const;
  // Re-reads the config file and applies its scrape configs, rule files and
  // price table (SIGHUP, POST /-/reload). An invalid file changes nothing: the
  // error lists every problem. Other sections need a restart. Thread-safe.
  core::Status Reload();

 private:
  struct Parts;
  void RetentionLoop();
  void WalSyncLoop();
  void SnapshotLoop();
  core::Status WriteSnapshot();
  core::Status OpenWal();
  core::Status OpenControlPlane();
  // Writes usage counters and key last-used times to the control plane.
  core::Status FlushControl();
  void ControlLoop();
  std::mutex reload_mu_;  // one reload at a time

  config::Config config_;
  const core::Clock& clock_;
  const Flags flags_;
  std::unique_ptr<Parts> parts_;

  std::mutex runner_mu_;
  std::condition_variable runner_cv_;
  bool stopping_ = false;  // guarded by runner_mu_
  std::thread retention_thread_;
  std::thread wal_sync_thread_;
  std::thread snapshot_thread_;
  std::thread control_thread_;
};

}  // namespace app

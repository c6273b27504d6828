// AnomalyService: runs the anomaly detector (rest/anomaly_detector.h) for a
// project and keeps its outcome in the control plane: new anomalies are
// stored (once per bucket: the control plane's key), active ones whose
// series is back in range are resolved, dismissed ones are never touched
// again, and every new anomaly is handed once to an AnomalyNotifier (the
// webhooks issue delivers `anomaly.detected` through it).
//
// Owns no thread: `tally serve` calls DetectAll(now) every
// `anomalies.interval` on its own thread (app/server.cc), and POST
// /v1/analytics/anomalies/detect calls DetectProject on demand.
//
// Thread-safe: runs are serialized by one mutex (the scheduled and the
// on-demand run never interleave); reads go straight to the control plane.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "core/status.h"
#include "rest/anomaly_detector.h"
#include "store/control/control_plane.h"
#include "store/event_store.h"

namespace rest {

// Receives each new anomaly once, after it is stored. Called on the thread of
// the run; implementations must not block for long (queue the delivery).
class AnomalyNotifier {
 public:
  virtual ~AnomalyNotifier() = default;
  virtual void OnAnomalyDetected(const control::Anomaly& anomaly) = 0;
};

class NoopAnomalyNotifier final : public AnomalyNotifier {
 public:
  void OnAnomalyDetected(const control::Anomaly&) override {}
};

// What one run did for one project.
struct AnomalyRunReport {
  std::string project;
  std::vector<control::Anomaly> detected;  // new this run
  std::vector<control::Anomaly> updated;   // already active; values refreshed
  std::vector<std::string> resolved;       // ids resolved this run
  uint64_t events = 0;                     // events scanned
  uint64_t entities = 0;
};

class AnomalyService {
 public:
  // `store` and `control` must outlive the service. `notifier` may be null
  // (no notifications).
  AnomalyService(const store::EventStore& store, control::ControlPlane& control,
                 config::AnomaliesConfig config, AnomalyNotifier* notifier);

  // One pass over `project` at `now_ms`.
  core::Result<AnomalyRunReport> DetectProject(const std::string& project, int64_t now_ms);
  // One pass over every project that has events; a failing project is
  // reported (the others still run).
  core::Result<std::vector<AnomalyRunReport>> DetectAll(int64_t now_ms);

  // Stored anomalies of `project` (control::AnomalyFilter).
  core::Result<std::vector<control::Anomaly>> List(const std::string& project,
                                                   const control::AnomalyFilter& filter);
  // Marks one anomaly dismissed (final; repeating it is a no-op). kNotFound
  // for an id of another project.
  core::Result<control::Anomaly> Dismiss(const std::string& project, const std::string& id,
                                         int64_t now_ms);

  const config::AnomaliesConfig& config() const { return config_; }

 private:
  core::Result<AnomalyRunReport> DetectLocked(const std::string& project, int64_t now_ms);

  const store::EventStore& store_;
  control::ControlPlane& control_;
  const config::AnomaliesConfig config_;
  AnomalyNotifier* const notifier_;
  std::mutex run_mu_;  // one run at a time
};

// The anomaly as the API shows it: {id, detected_at, entity_type, entity_id,
// type, severity, description, expected_value, actual_value, status,
// granularity, period_start, ratio, resolved_at, dismissed_at}.
nlohmann::json AnomalyJson(const control::Anomaly& a);
// Column order of the CSV rendering of AnomalyJson rows.
const std::vector<std::string>& AnomalyCsvColumns();

}  // namespace rest

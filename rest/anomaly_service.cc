#include "rest/anomaly_service.h"

#include <cmath>
#include <utility>

#include "core/time_parse.h"

namespace rest {

AnomalyService::AnomalyService(const store::EventStore& store, control::ControlPlane& control,
                               config::AnomaliesConfig config, AnomalyNotifier* notifier)
    : store_(store), control_(control), config_(std::move(config)), notifier_(notifier) {}

core::Result<AnomalyRunReport> AnomalyService::DetectProject(const std::string& project,
                                                             int64_t now_ms) {
  std::lock_guard lock(run_mu_);
  return DetectLocked(project, now_ms);
}

core::Result<std::vector<AnomalyRunReport>> AnomalyService::DetectAll(int64_t now_ms) {
  std::lock_guard lock(run_mu_);
  std::vector<AnomalyRunReport> reports;
  core::Status first_error;
  for (const std::string& project : store_.Projects()) {
    auto report = DetectLocked(project, now_ms);
    if (!report) {
      if (first_error) first_error = core::Unexpected(report.error());
      continue;
    }
    reports.push_back(std::move(*report));
  }
  if (!first_error) return core::Unexpected(first_error.error());
  return reports;
}

core::Result<std::vector<control::Anomaly>> AnomalyService::List(
    const std::string& project, const control::AnomalyFilter& filter) {
  return control_.ListAnomalies(project, filter);
}

core::Result<control::Anomaly> AnomalyService::Dismiss(const std::string& project,
                                                       const std::string& id, int64_t now_ms) {
  return control_.SetAnomalyStatus(project, id, "dismissed", now_ms);
}

namespace {

std::optional<AnomalyType> TypeFromName(const std::string& name) {
  for (AnomalyType t : kAnomalyTypes) {
    if (AnomalyTypeName(t) == name) return t;
  }
  return std::nullopt;
}

}  // namespace

core::Result<AnomalyRunReport> AnomalyService::DetectLocked(const std::string& project,
                                                            int64_t now_ms) {
  AnomalyRunReport report;
  report.project = project;
  control::AnomalyFilter active_filter;
  active_filter.status = "active";
  active_filter.limit = 1'000'000;
  auto active = control_.ListAnomalies(project, active_filter);
  if (!active) return core::Unexpected(active.error());
  std::vector<WatchedAnomaly> watch;
  std::vector<std::string> watch_ids;
  for (const control::Anomaly& a : *active) {
    std::optional<AnomalyType> type = TypeFromName(a.type);
    if (!type) continue;
    watch.push_back({{a.entity_type, a.entity_id, *type, a.granularity == "hour"},
                     a.period_start_ms});
    watch_ids.push_back(a.id);
  }
  DetectionResult result = DetectAnomalies(store_, project, now_ms, config_, watch);
  report.events = result.events;
  report.entities = result.entities;
  for (size_t i = 0; i < watch.size(); ++i) {
    if (result.back_in_range[i]) report.resolved.push_back(watch_ids[i]);
  }
  if (auto st = control_.ResolveAnomalies(project, report.resolved, now_ms); !st) {
    return core::Unexpected(st.error());
  }
  for (const AnomalyFinding& f : result.anomalies) {
    control::Anomaly a;
    a.project_id = project;
    a.entity_type = f.key.entity_type;
    a.entity_id = f.key.entity_id;
    a.type = std::string(AnomalyTypeName(f.key.type));
    a.granularity = f.key.hourly ? "hour" : "day";
    a.period_start_ms = f.period_start_ms;
    a.severity = f.severity;
    a.description = f.description;
    a.expected_value = f.expected;
    a.actual_value = f.actual;
    a.ratio = f.ratio;
    auto stored = control_.RecordAnomaly(a, now_ms);
    if (!stored) return core::Unexpected(stored.error());
    if (stored->second) {
      if (notifier_ != nullptr) notifier_->OnAnomalyDetected(stored->first);
      report.detected.push_back(std::move(stored->first));
    } else if (stored->first.status == "active") {
      report.updated.push_back(std::move(stored->first));
    }
  }
  return report;
}

nlohmann::json AnomalyJson(const control::Anomaly& a) {
  using nlohmann::json;
  auto time_or_null = [](const std::optional<int64_t>& ms) {
    return ms ? json(core::FormatIso8601(*ms)) : json();
  };
  auto number = [](double v) { return std::isfinite(v) ? json(v) : json(); };
  return {{"id", a.id},
          {"detected_at", core::FormatIso8601(a.detected_at_ms)},
          {"entity_type", a.entity_type},
          {"entity_id", a.entity_id},
          {"type", a.type},
          {"severity", a.severity},
          {"description", a.description},
          {"expected_value", number(a.expected_value)},
          {"actual_value", number(a.actual_value)},
          {"status", a.status},
          {"granularity", a.granularity},
          {"period_start", core::FormatIso8601(a.period_start_ms)},
          {"ratio", number(a.ratio)},
          {"resolved_at", time_or_null(a.resolved_at_ms)},
          {"dismissed_at", time_or_null(a.dismissed_at_ms)}};
}

const std::vector<std::string>& AnomalyCsvColumns() {
  static const std::vector<std::string> kColumns = {
      "id",          "detected_at",    "entity_type",  "entity_id", "type",
      "severity",    "description",    "expected_value", "actual_value", "status",
      "granularity", "period_start",   "ratio",        "resolved_at", "dismissed_at"};
  return kColumns;
}

}  // namespace rest

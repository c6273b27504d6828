// The anomalies table of the SQLite control plane: one row per bucket, active
// rows take new values, resolved and dismissed rows are left alone, dismissed
// is final, tenancy by project, filters, and survival across a reopen.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/status.h"
#include "store/control/sqlite_control_plane.h"
#include "tests/temp_dir.h"

namespace control {
namespace {

template <typename R>
std::string Code(const R& r) {
  return r ? "ok" : std::string(core::ErrorCodeName(r.error().code));
}

Anomaly Make(const std::string& project, const std::string& entity, int64_t period_start_ms,
             const std::string& type = "cost_spike", double actual = 55) {
  Anomaly a;
  a.project_id = project;
  a.entity_type = "customer";
  a.entity_id = entity;
  a.type = type;
  a.granularity = "day";
  a.period_start_ms = period_start_ms;
  a.severity = "high";
  a.description = "Cost increased 340% compared to 7-day average";
  a.expected_value = 12.5;
  a.actual_value = actual;
  a.ratio = actual / 12.5;
  return a;
}

class AnomalyControlTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    cp_.reset();
    auto cp = SqliteControlPlane::Open(dir_.Sub("tally.db"));
    ASSERT_TRUE(cp) << cp.error().message;
    cp_ = std::move(*cp);
  }
  tally_test::TempDir dir_;
  std::unique_ptr<SqliteControlPlane> cp_;
};

TEST_F(AnomalyControlTest, RecordsOncePerBucketAndUpdatesWhileActive) {
  auto first = cp_->RecordAnomaly(Make("p1", "acme", 1000), 5000);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->second);
  const Anomaly& a = first->first;
  EXPECT_EQ(a.id.rfind("anomaly_", 0), 0u) << a.id;
  EXPECT_EQ(a.id.size(), 8u + 16u);
  EXPECT_EQ(a.status, "active");
  EXPECT_EQ(a.detected_at_ms, 5000);
  EXPECT_DOUBLE_EQ(a.expected_value, 12.5);
  EXPECT_DOUBLE_EQ(a.actual_value, 55);
  EXPECT_FALSE(a.resolved_at_ms);

  // Same bucket again: not new, same id and detected_at, new values.
  auto again = cp_->RecordAnomaly(Make("p1", "acme", 1000, "cost_spike", 80), 9000);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->second);
  EXPECT_EQ(again->first.id, a.id);
  EXPECT_EQ(again->first.detected_at_ms, 5000);
  EXPECT_DOUBLE_EQ(again->first.actual_value, 80);

  // Another bucket, type, entity or project: new rows.
  for (const Anomaly& other : {Make("p1", "acme", 2000), Make("p1", "acme", 1000, "usage_spike"),
                               Make("p1", "globex", 1000), Make("p2", "acme", 1000)}) {
    auto r = cp_->RecordAnomaly(other, 6000);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->second);
    EXPECT_NE(r->first.id, a.id);
  }
  auto list = cp_->ListAnomalies("p1", {});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].period_start_ms, 2000);  // newest bucket first
}

TEST_F(AnomalyControlTest, ResolvedAndDismissedAreNotReopened) {
  auto a = cp_->RecordAnomaly(Make("p1", "acme", 1000), 5000);
  auto b = cp_->RecordAnomaly(Make("p1", "globex", 1000), 5000);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(cp_->ResolveAnomalies("p1", {a->first.id}, 7000));
  auto dismissed = cp_->SetAnomalyStatus("p1", b->first.id, "dismissed", 7500);
  ASSERT_TRUE(dismissed);
  EXPECT_EQ(dismissed->status, "dismissed");
  EXPECT_EQ(dismissed->dismissed_at_ms, 7500);

  // Re-detecting the same buckets changes nothing.
  auto a2 = cp_->RecordAnomaly(Make("p1", "acme", 1000, "cost_spike", 99), 8000);
  auto b2 = cp_->RecordAnomaly(Make("p1", "globex", 1000, "cost_spike", 99), 8000);
  ASSERT_TRUE(a2 && b2);
  EXPECT_FALSE(a2->second);
  EXPECT_FALSE(b2->second);
  EXPECT_EQ(a2->first.status, "resolved");
  EXPECT_EQ(a2->first.resolved_at_ms, 7000);
  EXPECT_DOUBLE_EQ(a2->first.actual_value, 55);
  EXPECT_EQ(b2->first.status, "dismissed");

  // Resolving a dismissed one leaves it dismissed; dismissed is final.
  ASSERT_TRUE(cp_->ResolveAnomalies("p1", {b->first.id}, 9000));
  auto list = cp_->ListAnomalies("p1", {.status = "dismissed"});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, b->first.id);
  EXPECT_EQ(Code(cp_->SetAnomalyStatus("p1", b->first.id, "active", 9000)), "conflict");
  // Dismissing twice is fine (idempotent).
  EXPECT_EQ(Code(cp_->SetAnomalyStatus("p1", b->first.id, "dismissed", 9500)), "ok");
}

TEST_F(AnomalyControlTest, TenancyFiltersAndBadStatus) {
  auto a = cp_->RecordAnomaly(Make("p1", "acme", 1000), 5000);
  ASSERT_TRUE(a);
  EXPECT_EQ(Code(cp_->SetAnomalyStatus("p2", a->first.id, "dismissed", 1)), "not_found");
  EXPECT_EQ(Code(cp_->SetAnomalyStatus("p1", "anomaly_nope", "dismissed", 1)), "not_found");
  auto bad = cp_->SetAnomalyStatus("p1", a->first.id, "closed", 1);
  EXPECT_EQ(Code(bad), "invalid_request");
  EXPECT_EQ(bad.error().param, "status");
  EXPECT_EQ(Code(cp_->ListAnomalies("p1", {.status = "open"})), "invalid_request");
  // Resolving through another project's id does nothing.
  ASSERT_TRUE(cp_->ResolveAnomalies("p2", {a->first.id}, 1));
  EXPECT_EQ(cp_->ListAnomalies("p1", {.status = "active"})->size(), 1u);
  EXPECT_TRUE(cp_->ListAnomalies("p2", {})->empty());

  Anomaly team = Make("p1", "core", 3000);
  team.entity_type = "team";
  ASSERT_TRUE(cp_->RecordAnomaly(team, 5000));
  EXPECT_EQ(cp_->ListAnomalies("p1", {.entity_type = "team"})->size(), 1u);
  EXPECT_EQ(cp_->ListAnomalies("p1", {.start_ms = 1000, .end_ms = 3000})->size(), 1u);
  EXPECT_EQ(cp_->ListAnomalies("p1", {.start_ms = 1001, .end_ms = 3001})->size(), 1u);
  EXPECT_EQ(cp_->ListAnomalies("p1", {.limit = 1})->size(), 1u);
}

TEST_F(AnomalyControlTest, SurvivesReopen) {
  auto a = cp_->RecordAnomaly(Make("p1", "acme", 1000), 5000);
  ASSERT_TRUE(a);
  Reopen();
  auto list = cp_->ListAnomalies("p1", {});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, a->first.id);
  EXPECT_EQ((*list)[0].description, a->first.description);
  EXPECT_DOUBLE_EQ((*list)[0].ratio, 55 / 12.5);
  EXPECT_EQ(SqliteControlPlane::SchemaVersion(), 2);
}

}  // namespace
}  // namespace control

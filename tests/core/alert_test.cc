#include "core/alert.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace burnrate {
namespace {

TEST(AlertTest, JsonCarriesTheContractFields) {
  Alert a;
  a.alert_id = MakeAlertId(AlertKind::kSpike, "acme/summarize/prod", 1'700'000'000'000);
  a.kind = AlertKind::kSpike;
  a.severity = Severity::kCritical;
  a.tenant = "acme \"corp\"";
  a.feature = "summarize";
  a.environment = "prod";
  a.window_start_ms = 1'700'000'000'000;
  a.window_size_ms = 60'000;
  a.observed = 41.2;
  a.baseline = 2.3;
  a.ratio = 41.2 / 2.3;
  a.started_at_ms = 1'700'000'000'000;
  a.summary = "acme spent $41.20";
  a.details = {{"short_window", "5m"}};

  const auto j = nlohmann::json::parse(AlertToJson(a));
  EXPECT_EQ(j["alert_id"], a.alert_id);
  EXPECT_EQ(j["kind"], "spike");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["severity"], "critical");
  EXPECT_EQ(j["tenant"], "acme \"corp\"");
  EXPECT_EQ(j["window_start"], "2023-11-14T22:13:20.000Z");
  EXPECT_DOUBLE_EQ(j["observed"].get<double>(), 41.2);
  EXPECT_TRUE(j["resolved_at"].is_null());
  EXPECT_EQ(j["details"]["short_window"], "5m");
  EXPECT_EQ(a.TransitionKey(), a.alert_id + ":firing");

  a.status = AlertStatus::kResolved;
  a.resolved_at_ms = 1'700'000'600'000;
  a.ratio = 1.0 / 0.0;
  const auto r = nlohmann::json::parse(AlertToJson(a));
  EXPECT_EQ(r["status"], "resolved");
  EXPECT_EQ(r["resolved_at"], "2023-11-14T22:23:20.000Z");
  EXPECT_TRUE(r["ratio"].is_null());
}

TEST(AlertTest, IdsAreStableAndDistinguishIncidents) {
  const auto id = MakeAlertId(AlertKind::kRunaway, "run-1", 5);
  EXPECT_EQ(id, MakeAlertId(AlertKind::kRunaway, "run-1", 5));
  EXPECT_NE(id, MakeAlertId(AlertKind::kRunaway, "run-1", 6));
  EXPECT_NE(id, MakeAlertId(AlertKind::kSpike, "run-1", 5));
  EXPECT_EQ(id.size(), 16u);
}

TEST(AlertTest, NamesRoundTrip) {
  for (auto k : {AlertKind::kSpike, AlertKind::kUnitCostShift, AlertKind::kNewSpender, AlertKind::kRunaway,
                 AlertKind::kUnpriced, AlertKind::kBudgetThreshold, AlertKind::kBudgetBurnRate,
                 AlertKind::kBudgetForecast}) {
    EXPECT_EQ(ParseAlertKind(AlertKindName(k)), k);
  }
  EXPECT_EQ(ParseAlertKind("nope"), std::nullopt);
  EXPECT_EQ(ParseSeverity("critical"), Severity::kCritical);
}

}  // namespace
}  // namespace burnrate

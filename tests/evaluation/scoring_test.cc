// How `burnrate evaluate` scores alerts against labelled incidents: which
// alert belongs to which incident, precision, recall, delays and the delay
// targets.
#include "evaluation/scoring.h"

#include <gtest/gtest.h>

namespace burnrate {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kT0 = 1'773'000'000'000;

Incident Spike(std::string id, int64_t start, int64_t end, double magnitude = 20) {
  Incident i;
  i.id = std::move(id);
  i.kind = "retry_loop";
  i.expected_alerts = {"spike"};
  i.tenant = "acme";
  i.feature = "chat";
  i.environment = "prod";
  i.start_ms = start;
  i.end_ms = end;
  i.magnitude = magnitude;
  return i;
}

ScoredAlert Fired(std::string id, std::string kind, std::string tenant, std::string feature, int64_t at) {
  ScoredAlert a;
  a.alert_id = std::move(id);
  a.kind = std::move(kind);
  a.tenant = std::move(tenant);
  a.feature = std::move(feature);
  a.environment = a.feature.empty() ? "" : "prod";
  a.fired_ms = at;
  return a;
}

ScoringOptions Options() {
  ScoringOptions o;
  o.warmup_end_ms = kT0;
  o.end_ms = kT0 + 10 * 24 * 60 * kMin;
  o.key_count = 100;
  return o;
}

TEST(ScoringTest, AnAlertMatchesItsIncidentsKeyTimeAndKind) {
  const Incident inc = Spike("inc-1", kT0 + 60 * kMin, kT0 + 120 * kMin);
  const ScoringOptions o = Options();
  EXPECT_TRUE(Matches(Fired("a", "spike", "acme", "chat", kT0 + 62 * kMin), inc, o));
  EXPECT_TRUE(Matches(Fired("a", "spike", "acme", "", kT0 + 62 * kMin), inc, o)) << "tenant roll-up";
  EXPECT_FALSE(Matches(Fired("a", "spike", "acme", "search", kT0 + 62 * kMin), inc, o)) << "other feature";
  EXPECT_FALSE(Matches(Fired("a", "spike", "globex", "chat", kT0 + 62 * kMin), inc, o)) << "other tenant";
  EXPECT_FALSE(Matches(Fired("a", "new_spender", "acme", "chat", kT0 + 62 * kMin), inc, o)) << "unexpected kind";
  EXPECT_FALSE(Matches(Fired("a", "spike", "acme", "chat", kT0 + 59 * kMin), inc, o)) << "before the start";
  EXPECT_TRUE(Matches(Fired("a", "spike", "acme", "chat", kT0 + 150 * kMin), inc, o)) << "within the grace";
  EXPECT_FALSE(Matches(Fired("a", "spike", "acme", "chat", kT0 + 151 * kMin), inc, o)) << "after the grace";
  ScoringOptions any = o;
  any.match_any_kind = true;
  EXPECT_TRUE(Matches(Fired("a", "new_spender", "acme", "chat", kT0 + 62 * kMin), inc, any));
}

TEST(ScoringTest, PrecisionRecallDelaysAndFalseAlertsPerKeyDay) {
  const std::vector<Incident> incidents = {Spike("inc-1", kT0 + 60 * kMin, kT0 + 120 * kMin),
                                           Spike("inc-2", kT0 + 600 * kMin, kT0 + 660 * kMin),
                                           Spike("warm-up", kT0 - 600 * kMin, kT0 - 500 * kMin)};
  const std::vector<ScoredAlert> alerts = {
      Fired("first", "spike", "acme", "chat", kT0 + 62 * kMin),
      Fired("runaway-too", "runaway", "acme", "chat", kT0 + 64 * kMin),  // true, though not the expected kind
      Fired("false", "spike", "globex", "chat", kT0 + 64 * kMin),
      Fired("in-warm-up", "spike", "globex", "chat", kT0 - 64 * kMin),  // not scored
  };
  const Score s = ScoreAlerts(incidents, alerts, Options());
  EXPECT_EQ(s.alerts, 3);
  EXPECT_EQ(s.true_alerts, 2);
  EXPECT_DOUBLE_EQ(s.precision, 2.0 / 3);
  EXPECT_EQ(s.incidents, 2);
  EXPECT_EQ(s.detected, 1);
  EXPECT_DOUBLE_EQ(s.recall, 0.5);
  EXPECT_EQ(s.missed, std::vector<std::string>{"inc-2"});
  EXPECT_EQ(s.false_alert_ids, std::vector<std::string>{"false"});
  ASSERT_EQ(s.by_kind.at("retry_loop").delays_s.size(), 1u);
  EXPECT_DOUBLE_EQ(s.by_kind.at("retry_loop").delays_s[0], 120);
  EXPECT_DOUBLE_EQ(s.key_days, 1000);
  EXPECT_DOUBLE_EQ(s.false_alerts_per_1000_key_days, 1);
}

TEST(ScoringTest, DelayTargetsFollowTheIncidentsShape) {
  Incident big = Spike("big", kT0, kT0 + kMin, 12);
  ASSERT_TRUE(DelayTargetOf(big, kMin).has_value());
  EXPECT_EQ(DelayTargetOf(big, kMin)->max_median_s, 120) << "two 1-minute windows";
  EXPECT_EQ(DelayTargetOf(big, 10'000)->max_median_s, 20) << "two 10-second windows";
  big.magnitude = 8;
  EXPECT_FALSE(DelayTargetOf(big, kMin).has_value()) << "below 10x: no spike target";
  Incident plateau = big;
  plateau.kind = "tenant_scripting";
  EXPECT_EQ(DelayTargetOf(plateau, kMin)->max_median_s, 15 * 60);
  Incident shift = big;
  shift.kind = "premium_routing";
  EXPECT_EQ(DelayTargetOf(shift, kMin)->max_median_s, 60 * 60);
  Incident fresh = big;
  fresh.kind = "new_feature";
  EXPECT_EQ(DelayTargetOf(fresh, kMin)->max_median_s, 5 * 60);
  Incident runaway = big;
  runaway.kind = "runaway_agent";
  EXPECT_FALSE(DelayTargetOf(runaway, kMin).has_value());

  const Score s = ScoreAlerts({Spike("inc-1", kT0 + 60 * kMin, kT0 + 120 * kMin)},
                              {Fired("a", "spike", "acme", "chat", kT0 + 63 * kMin)}, Options());
  const KindFigures& f = s.by_delay_target.at("spike >= 10x (2 windows)");
  EXPECT_EQ(f.incidents, 1);
  EXPECT_EQ(f.detected, 1);
  EXPECT_DOUBLE_EQ(f.delays_s.at(0), 180);
}

}  // namespace
}  // namespace burnrate

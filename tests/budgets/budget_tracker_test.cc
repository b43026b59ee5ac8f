// Budget logic on the memory stores: periods, thresholds, burn rates,
// forecasts, rollover, idempotent re-application, the quota state machine
// and the overshoot bound.
#include "budgets/budget_tracker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "budgets/budgets_runtime.h"
#include "budgets/period.h"
#include "budgets/quota.h"
#include "budgets/quota_http.h"
#include "config/config.h"
#include "core/time_format.h"
#include "tests/budgets/window_feed.h"

namespace burnrate {
namespace {

using testing::CountKind;
using testing::FeedWindow;
using testing::Spend;

constexpr int64_t kMinute = 60'000;

int64_t T(const char* rfc3339) { return *ParseRfc3339Ms(rfc3339); }

TEST(PeriodCalendarTest, MonthWeekDayInUtc) {
  auto cal = PeriodCalendar::Create("UTC");
  ASSERT_TRUE(cal.ok());
  auto m = cal->PeriodOf(BudgetPeriod::kMonth, T("2026-11-22T16:30:00Z"));
  EXPECT_EQ(m.start_ms, T("2026-11-01T00:00:00Z"));
  EXPECT_EQ(m.end_ms, T("2026-12-01T00:00:00Z"));
  EXPECT_EQ(m.id, "2026-11");
  auto w = cal->PeriodOf(BudgetPeriod::kWeek, T("2026-11-22T16:30:00Z"));  // a Sunday
  EXPECT_EQ(w.start_ms, T("2026-11-16T00:00:00Z"));
  EXPECT_EQ(w.end_ms, T("2026-11-23T00:00:00Z"));
  auto d = cal->PeriodOf(BudgetPeriod::kDay, T("2026-11-22T00:00:00Z"));
  EXPECT_EQ(d.start_ms, T("2026-11-22T00:00:00Z"));
  EXPECT_EQ(d.id, "2026-11-22");
}

TEST(PeriodCalendarTest, LocalMidnightAcrossDaylightSaving) {
  auto cal = PeriodCalendar::Create("America/New_York");
  ASSERT_TRUE(cal.ok());
  // 2026-11-01 is the day US clocks go back: that day has 25 hours.
  auto d = cal->PeriodOf(BudgetPeriod::kDay, T("2026-11-01T12:00:00Z"));
  EXPECT_EQ(d.start_ms, T("2026-11-01T04:00:00Z"));
  EXPECT_EQ(d.end_ms, T("2026-11-02T05:00:00Z"));
  EXPECT_EQ(d.length_ms(), 25 * 3'600'000LL);
  auto m = cal->PeriodOf(BudgetPeriod::kMonth, T("2026-11-01T02:00:00Z"));  // still October locally
  EXPECT_EQ(m.id, "2026-10");
  EXPECT_FALSE(PeriodCalendar::Create("Mars/Olympus_Mons").ok());
}

struct Harness {
  explicit Harness(BudgetConfig budget, QuotaConfig quota = {}) {
    BudgetsConfig config;
    config.list.push_back(std::move(budget));
    store = std::make_shared<MemoryQuotaStore>();
    publisher = std::make_shared<QuotaPublisher>(store, nullptr, [this] { return now; });
    auto t = BudgetTracker::Create(config, quota, std::make_unique<MemoryBudgetStore>(), publisher);
    EXPECT_TRUE(t.ok()) << t.status();
    tracker = std::move(*t);
  }
  std::vector<Alert> Feed(int64_t start, double usd, const std::string& tenant = "acme") {
    now = start + kMinute;
    auto alerts = FeedWindow(*tracker, start, kMinute, {{tenant, "chat", usd}});
    EXPECT_TRUE(alerts.ok()) << alerts.status();
    return alerts.ok() ? *alerts : std::vector<Alert>{};
  }
  QuotaState State(const std::string& subject = "acme") {
    auto all = store->Effective();
    for (const auto& s : *all) {
      if (s.subject == subject) return s.state;
    }
    return QuotaState::kOk;
  }
  int64_t now = 0;
  std::shared_ptr<MemoryQuotaStore> store;
  std::shared_ptr<QuotaPublisher> publisher;
  std::unique_ptr<BudgetTracker> tracker;
};

// The tier of docs/configuration.md's example.
QuotaConfig FullTier() {
  QuotaConfig q;
  QuotaTierPolicy& t = q.tiers["default"];
  t.warn_at = 0.8;
  t.throttle_at = 0.9;
  t.throttle_rate_factor = 0.5;
  t.downgrade_at = 0.95;
  t.downgrade_model = "gpt-4o-mini";
  t.block_at = 1.0;
  return q;
}

BudgetConfig Monthly(double amount, bool hard = true) {
  BudgetConfig b;
  b.name = "acme-monthly";
  b.tenant = "acme";
  b.period = BudgetPeriod::kMonth;
  b.amount_usd = amount;
  b.thresholds = {0.5, 0.8, 1.0};
  b.hard = hard;
  return b;
}

TEST(BudgetTrackerTest, ThresholdsFireOncePerPeriodAndDriveTheQuotaState) {
  Harness h(Monthly(1000), FullTier());
  const int64_t t0 = T("2026-11-10T00:00:00Z");
  auto a = h.Feed(t0, 450);
  EXPECT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 0);
  a = h.Feed(t0 + kMinute, 100);  // 55%
  ASSERT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 1);
  a = h.Feed(t0 + 2 * kMinute, 1);
  EXPECT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 0);
  a = h.Feed(t0 + 3 * kMinute, 260);  // 81.1%
  ASSERT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 1);
  const Alert* th = nullptr;
  for (const auto& x : a) {
    if (x.kind == AlertKind::kBudgetThreshold) th = &x;
  }
  EXPECT_EQ(th->severity, Severity::kWarning);
  EXPECT_EQ(th->tenant, "acme");
  EXPECT_EQ(th->subject, "acme-monthly");
  EXPECT_NEAR(th->observed, 811, 1e-6);
  EXPECT_NEAR(th->ratio, 0.811, 1e-6);
  EXPECT_EQ(th->alert_id, MakeAlertId(AlertKind::kBudgetThreshold, "acme-monthly|0.8",
                                      T("2026-11-01T00:00:00Z")));
  EXPECT_NE(th->summary.find("81%"), std::string::npos) << th->summary;
  EXPECT_EQ(h.State(), QuotaState::kWarn);
  h.Feed(t0 + 4 * kMinute, 100);  // 91.1%: default tier throttles at 0.9
  EXPECT_EQ(h.State(), QuotaState::kThrottle);
  h.Feed(t0 + 5 * kMinute, 50);  // 96.1%
  EXPECT_EQ(h.State(), QuotaState::kDowngrade);
  a = h.Feed(t0 + 6 * kMinute, 50);  // 101.1%
  EXPECT_EQ(h.State(), QuotaState::kBlock);
  ASSERT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 1);
  for (const auto& x : a) {
    if (x.kind == AlertKind::kBudgetThreshold) {
      EXPECT_EQ(x.severity, Severity::kCritical);
    }
  }

  // Next period: ok again, and the period's threshold alerts resolve.
  a = h.Feed(T("2026-12-01T00:00:00Z"), 1);
  EXPECT_EQ(h.State(), QuotaState::kOk);
  EXPECT_EQ(CountKind(a, AlertKind::kBudgetThreshold, AlertStatus::kResolved), 3);
  EXPECT_NEAR(h.tracker->statuses()[0].spend_usd, 1, 1e-9);
  EXPECT_EQ(h.tracker->statuses()[0].period_id, "2026-12");
}

TEST(BudgetTrackerTest, AJumpOverSeveralThresholdsIsOneAlert) {
  Harness h(Monthly(1000));
  auto a = h.Feed(T("2026-11-10T00:00:00Z"), 850);
  ASSERT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 1);
  for (const auto& x : a) {
    if (x.kind == AlertKind::kBudgetThreshold) {
      EXPECT_EQ(x.alert_id, MakeAlertId(AlertKind::kBudgetThreshold, "acme-monthly|0.8",
                                        T("2026-11-01T00:00:00Z")));
    }
  }
  a = h.Feed(T("2026-11-10T00:01:00Z"), 10);
  EXPECT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 0);  // 50% is not fired late
}

TEST(BudgetTrackerTest, TwentyTimesBurnPagesOnTheOneHourRuleAndResolvesWithinFiveMinutes) {
  // $7200 over November (30 days): 1x = $10/h.
  Harness h(Monthly(7200, /*hard=*/false));
  const double one_x_per_min = 7200.0 / (30 * 24 * 60);
  const int64_t t0 = T("2026-11-09T00:00:00Z");
  for (int m = 0; m < 120; ++m) {
    auto a = h.Feed(t0 + m * kMinute, one_x_per_min);
    ASSERT_EQ(CountKind(a, AlertKind::kBudgetBurnRate), 0) << m;
  }
  const int64_t burn_start = t0 + 120 * kMinute;
  int paged_at = -1;
  for (int m = 0; m < 90 && paged_at < 0; ++m) {
    auto a = h.Feed(burn_start + m * kMinute, 20 * one_x_per_min);
    for (const auto& x : a) {
      if (x.kind == AlertKind::kBudgetBurnRate && x.status == AlertStatus::kFiring) {
        EXPECT_EQ(x.severity, Severity::kCritical);
        EXPECT_GE(x.ratio, 14.4);
        paged_at = m + 1;  // minutes of burn seen when it fired
      }
    }
  }
  // The 1h average reaches 14.4x after (14.4 - 1) / (20 - 1) h = 42.3 min;
  // the 5-minute window confirmed long before. It pages on the first window
  // where both hold.
  EXPECT_EQ(paged_at, 43);
  const auto& st = h.tracker->statuses()[0];
  EXPECT_GE(st.burn_rates_long[0], 14.4);
  EXPECT_NEAR(st.burn_rates_short[0], 20, 0.01);

  // When the burn stops, the 5-minute window lets go within 5 minutes.
  const int64_t stop = burn_start + paged_at * kMinute;
  int resolved_after = -1;
  for (int m = 0; m < 10 && resolved_after < 0; ++m) {
    auto a = h.Feed(stop + m * kMinute, one_x_per_min);
    for (const auto& x : a) {
      if (x.kind == AlertKind::kBudgetBurnRate && x.status == AlertStatus::kResolved &&
          x.details.size() > 0) {
        resolved_after = m + 1;
      }
    }
  }
  EXPECT_GE(resolved_after, 1);
  EXPECT_LE(resolved_after, 5);
}

TEST(BudgetTrackerTest, ForADailyBudgetATwentyTimesBurnPagesWithinFiveMinutes) {
  // The workbook's 1 h / 5 min pair scaled to one day is 2 min / 1 window,
  // so a 20x burn on a daily budget pages within the 5-minute confirmation.
  BudgetConfig daily = Monthly(240, /*hard=*/false);
  daily.name = "acme-daily";
  daily.period = BudgetPeriod::kDay;
  Harness h(daily);
  const double one_x_per_min = 240.0 / (24 * 60);
  const int64_t t0 = T("2026-11-09T00:00:00Z");
  for (int m = 0; m < 60; ++m) ASSERT_EQ(CountKind(h.Feed(t0 + m * kMinute, one_x_per_min), AlertKind::kBudgetBurnRate), 0);
  int paged_at = -1;
  for (int m = 0; m < 10 && paged_at < 0; ++m) {
    for (const auto& x : h.Feed(t0 + (60 + m) * kMinute, 20 * one_x_per_min)) {
      if (x.kind == AlertKind::kBudgetBurnRate && x.status == AlertStatus::kFiring) {
        EXPECT_EQ(x.severity, Severity::kCritical);
        paged_at = m + 1;
      }
    }
  }
  EXPECT_GE(paged_at, 1);
  EXPECT_LE(paged_at, 5);
}

TEST(BudgetTrackerTest, ForecastGivesTheProjectedExhaustionDate) {
  Harness h(Monthly(3000, false));
  const int64_t t0 = T("2026-11-10T00:00:00Z");
  // $10 per minute = $14,400 a day: at 9 days of November left the budget
  // is gone long before the month ends.
  std::vector<Alert> all;
  for (int m = 0; m < 30; ++m) {
    auto a = h.Feed(t0 + m * kMinute, 10);
    all.insert(all.end(), a.begin(), a.end());
  }
  ASSERT_EQ(CountKind(all, AlertKind::kBudgetForecast), 1);
  for (const auto& a : all) {
    if (a.kind != AlertKind::kBudgetForecast) continue;
    EXPECT_EQ(a.severity, Severity::kWarning);
    EXPECT_EQ(a.alert_id,
              MakeAlertId(AlertKind::kBudgetForecast, "acme-monthly", T("2026-11-01T00:00:00Z")));
    // Fired at the end of the k-th minute: $10k spent, and the 6-hour window
    // (6h of a 30-day month) says $10k per 360 minutes, so the remaining
    // $(3000 - 10k) lasts (3000 - 10k) * 36 / k minutes; the first k where
    // that ends before December.
    const int64_t end = a.window_start_ms + a.window_size_ms;
    const int k = static_cast<int>((end - t0) / kMinute);
    const int64_t expected = end + static_cast<int64_t>((3000.0 - 10 * k) * 36 / k * kMinute);
    EXPECT_LT(expected, T("2026-12-01T00:00:00Z"));
    const int64_t previous =
        end - kMinute + static_cast<int64_t>((3000.0 - 10 * (k - 1)) * 36 / (k - 1) * kMinute);
    EXPECT_GE(previous, T("2026-12-01T00:00:00Z"));
    bool has_date = false;
    for (const auto& [name, v] : a.details) {
      if (name == "projected_exhaustion") {
        has_date = true;
        EXPECT_EQ(v, FormatRfc3339Ms(expected));
      }
    }
    EXPECT_TRUE(has_date);
    EXPECT_NE(a.summary.find("will exhaust"), std::string::npos) << a.summary;
  }
}

TEST(BudgetTrackerTest, ReapplyingAWindowCountsNothingTwiceAndGivesTheSameAlerts) {
  BudgetsConfig config;
  config.list.push_back(Monthly(1000));
  auto store = std::make_shared<MemoryQuotaStore>();
  int64_t now = 0;
  auto publisher = std::make_shared<QuotaPublisher>(store, nullptr, [&] { return now; });
  auto budget_store = std::make_unique<MemoryBudgetStore>();
  MemoryBudgetStore* raw = budget_store.get();
  auto tracker = *BudgetTracker::Create(config, {}, std::move(budget_store), publisher);
  const int64_t t0 = T("2026-11-10T00:00:00Z");
  ASSERT_TRUE(FeedWindow(*tracker, t0, kMinute, {{"acme", "chat", 700}}).ok());
  auto first = FeedWindow(*tracker, t0 + kMinute, kMinute, {{"acme", "chat", 150}});
  ASSERT_TRUE(first.ok());
  // The same window again (a crash before its offsets were committed).
  auto again = FeedWindow(*tracker, t0 + kMinute, kMinute, {{"acme", "chat", 150}});
  ASSERT_TRUE(again.ok());
  EXPECT_NEAR(tracker->statuses()[0].spend_usd, 850, 1e-9);
  ASSERT_EQ(first->size(), again->size());
  for (size_t i = 0; i < first->size(); ++i)
    EXPECT_EQ((*first)[i].TransitionKey(), (*again)[i].TransitionKey());
  // An older window replayed after newer ones were evaluated is ignored.
  auto old = FeedWindow(*tracker, t0, kMinute, {{"acme", "chat", 700}});
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->empty());

  // A new tracker over the same store continues where the first stopped.
  (void)raw;
}

TEST(BudgetTrackerTest, FeatureAndTeamBudgetsSumTheirScope) {
  BudgetsConfig config;
  BudgetConfig feature;
  feature.name = "acme-summarize";
  feature.tenant = "acme";
  feature.feature = "summarize";
  feature.amount_usd = 100;
  feature.period = BudgetPeriod::kDay;
  feature.hard = true;
  BudgetConfig team;
  team.name = "team-growth";
  team.team = "growth";
  team.tenants = {"acme", "globex"};
  team.amount_usd = 1000;
  team.period = BudgetPeriod::kWeek;
  config.list = {feature, team};
  auto store = std::make_shared<MemoryQuotaStore>();
  auto publisher = std::make_shared<QuotaPublisher>(store, nullptr, [] { return 0; });
  auto tracker =
      *BudgetTracker::Create(config, {}, std::make_unique<MemoryBudgetStore>(), publisher);
  const int64_t t0 = T("2026-11-10T00:00:00Z");
  auto a = FeedWindow(*tracker, t0, kMinute,
                      {{"acme", "summarize", 85},
                       {"acme", "chat", 40},
                       {"globex", "chat", 5},
                       {"initech", "chat", 9}});
  ASSERT_TRUE(a.ok());
  EXPECT_NEAR(tracker->statuses()[0].spend_usd, 85, 1e-9);
  EXPECT_NEAR(tracker->statuses()[1].spend_usd, 130, 1e-9);
  // The feature budget drives the tenant+feature signal, not the tenant's.
  auto effective = *store->Effective();
  ASSERT_EQ(effective.size(), 1u);
  EXPECT_EQ(effective[0].subject, "acme/summarize");
  EXPECT_EQ(effective[0].state, QuotaState::kWarn);
}

TEST(QuotaMachineTest, EscalatesAtOnceAndRelaxesWithHysteresisAndHold) {
  QuotaTierPolicy p;
  p.warn_at = 0.8;
  p.throttle_at = 0.9;
  p.block_at = 1.0;
  p.hysteresis = 0.05;
  p.min_hold_ms = 10 * kMinute;
  QuotaMachine m;
  EXPECT_TRUE(m.Update(p, 0.91, 0));
  EXPECT_EQ(m.state, QuotaState::kThrottle);
  EXPECT_FALSE(m.Update(p, 0.88, 20 * kMinute));  // within the hysteresis band
  EXPECT_EQ(m.state, QuotaState::kThrottle);
  EXPECT_FALSE(m.Update(p, 0.70, 5 * kMinute));  // not held long enough
  EXPECT_TRUE(m.Update(p, 0.70, 20 * kMinute));
  EXPECT_EQ(m.state, QuotaState::kOk);
  EXPECT_TRUE(m.Update(p, 1.0, 21 * kMinute));
  EXPECT_EQ(m.state, QuotaState::kBlock);
}

TEST(QuotaTest, TiersDecideHowFarATenantIsTightened) {
  QuotaConfig config;
  QuotaTierPolicy enterprise;
  enterprise.warn_at = 0.8;
  enterprise.downgrade_at = 1.0;
  enterprise.downgrade_model = "claude-haiku-4-5";
  enterprise.block_at = 0;
  config.tiers["enterprise"] = enterprise;
  config.tiers["default"].block_at = 1.0;
  config.tenant_tiers["acme"] = "enterprise";
  EXPECT_EQ(StateForUsage(PolicyForTenant(config, "acme"), 5.0), QuotaState::kDowngrade);
  EXPECT_EQ(StateForUsage(PolicyForTenant(config, "free-user"), 1.0), QuotaState::kBlock);
}

TEST(QuotaTest, OverridePinsDetectorThrottlesExpire) {
  MemoryQuotaStore store;
  QuotaSignal budget{.subject = "acme", .state = QuotaState::kWarn, .source = "budget"};
  QuotaSignal alert{.subject = "acme",
                    .state = QuotaState::kThrottle,
                    .rate_factor = 0.25,
                    .source = "alert",
                    .expires_at_ms = 1000};
  ASSERT_TRUE(store.SetPart("acme", QuotaStore::Part::kBudget, budget, 0).ok());
  auto o = store.SetPart("acme", QuotaStore::Part::kAlert, alert, 10);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->effective.state, QuotaState::kThrottle);
  EXPECT_DOUBLE_EQ(o->effective.rate_factor, 0.25);
  QuotaSignal pin{.subject = "acme",
                  .state = QuotaState::kOk,
                  .reason = "customer call",
                  .source = "override",
                  .expires_at_ms = 500};
  o = store.SetPart("acme", QuotaStore::Part::kOverride, pin, 20);
  EXPECT_EQ(o->effective.state, QuotaState::kOk);
  EXPECT_EQ(o->effective.source, "override");
  o = store.Recompute("acme", 600);  // pin expired: the detector throttle is back
  EXPECT_EQ(o->effective.state, QuotaState::kThrottle);
  EXPECT_TRUE(o->changed);
  o = store.Recompute("acme", 1500);  // throttle ran out: the budget's warn
  EXPECT_EQ(o->effective.state, QuotaState::kWarn);
  o = store.Recompute("acme", 1600);
  EXPECT_FALSE(o->changed);
}

TEST(BudgetTrackerTest, RunawayAlertThrottlesItsTenantForAWhile) {
  QuotaConfig quota;
  quota.alert_throttle_ms = 15 * kMinute;
  quota.alert_throttle_rate_factor = 0.2;
  Harness h(Monthly(1000), quota);
  h.now = T("2026-11-10T00:00:00Z");
  Alert runaway;
  runaway.kind = AlertKind::kRunaway;
  runaway.tenant = "acme";
  runaway.alert_id = "r1";
  runaway.summary = "agent run stuck in a loop";
  ASSERT_TRUE(h.tracker->ApplyAlert(runaway).ok());
  EXPECT_EQ(h.State(), QuotaState::kThrottle);
  Alert warning_spike = runaway;
  warning_spike.kind = AlertKind::kSpike;
  warning_spike.tenant = "globex";
  warning_spike.severity = Severity::kWarning;
  ASSERT_TRUE(h.tracker->ApplyAlert(warning_spike).ok());
  EXPECT_EQ(h.State("globex"), QuotaState::kOk);
  h.now += 16 * kMinute;
  ASSERT_TRUE(h.publisher->RefreshExpired().ok());
  EXPECT_EQ(h.State(), QuotaState::kOk);
}

// docs/budgets.md: with enforcement acting on closed windows, a hard budget
// can be exceeded by at most
//   peak spend rate x (window size + allowed lateness + refresh interval).
// Simulated: a tenant spends at a random, bursty rate; every request is let
// through unless the decision the gateway last saw says block; decisions are
// only updated when a window closes (after its lateness) and reach the
// gateway one refresh interval later.
TEST(OvershootTest, SpendPastAHardBudgetStaysWithinTheDocumentedBound) {
  std::mt19937_64 rng(42);
  const int64_t window = kMinute;
  const int64_t lateness = kMinute;
  const int64_t refresh = 1000;
  for (int trial = 0; trial < 20; ++trial) {
    Harness h(Monthly(500));
    const int64_t t0 = T("2026-11-10T00:00:00Z");
    std::uniform_real_distribution<double> rate_dist(0.05, 2.0);  // $ per second
    double peak_rate = 0;
    double spent = 0;
    std::map<int64_t, double> open;  // window start -> spend
    int64_t blocked_seen_at = -1;    // when the gateway learned "block"
    int64_t pending_block_visible = -1;
    for (int64_t s = 0; s < 3 * 3600; ++s) {  // one-second steps
      const int64_t t = t0 + s * 1000;
      // Windows close at end + lateness; the decision is visible after refresh.
      for (auto it = open.begin(); it != open.end() && it->first + window + lateness <= t;) {
        h.Feed(it->first, it->second);
        if (h.State() == QuotaState::kBlock && pending_block_visible < 0)
          pending_block_visible = t + refresh;
        it = open.erase(it);
      }
      if (pending_block_visible >= 0 && t >= pending_block_visible && blocked_seen_at < 0)
        blocked_seen_at = t;
      if (blocked_seen_at >= 0) break;
      const double rate = rate_dist(rng) * (s % 600 < 60 ? 3 : 1);  // bursts
      peak_rate = std::max(peak_rate, rate);
      spent += rate;
      open[WindowStartFor(EventTimeMs(t), window).value()] += rate;
    }
    ASSERT_GE(blocked_seen_at, 0) << "trial " << trial << " never blocked";
    const double bound = peak_rate * static_cast<double>(window + lateness + refresh) / 1000.0;
    const double overshoot = spent - 500;
    EXPECT_GT(overshoot, 0);
    EXPECT_LE(overshoot, bound) << "trial " << trial;
  }
}

}  // namespace
}  // namespace burnrate

namespace burnrate {
namespace {

TEST(BudgetsRuntimeTest, MemoryRuntimeFromConfigServesDecisions) {
  auto config = ParseConfig(R"(
budgets:
  list:
    - {name: acme-daily, tenant: acme, period: day, amount_usd: 10, hard: true}
)",
                            "runtime.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  int64_t now = T("2026-11-10T00:01:00Z");
  auto rt = MakeMemoryBudgets(*config, [&] { return now; });
  ASSERT_TRUE(rt.ok()) << rt.status();
  auto alerts =
      FeedWindow(*rt->tracker, T("2026-11-10T00:00:00Z"), kMinute, {{"acme", "chat", 12}});
  ASSERT_TRUE(alerts.ok());
  ASSERT_TRUE(rt->refresher->RefreshOnce().ok());
  HttpHandler decide = MakeDecisionHandler(rt->snapshot, DecisionOptionsFrom(config->quota));
  HttpRequest request;
  request.method = "GET";
  request.path = "/v1/decision";
  request.headers = {{"x-tenant-id", "acme"}};
  EXPECT_EQ(decide(request).status, 429);
}

}  // namespace
}  // namespace burnrate

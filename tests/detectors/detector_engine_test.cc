#include "detectors/detector_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/concat.h"
#include "detectors/history_store.h"
#include "detectors/runaway/runaway_detector.h"
#include "tests/detectors/test_times.h"

namespace burnrate {
namespace {

using testing::kHour;
using testing::kMonday;

// Drives a DetectorEngine minute by minute with per-key spend, as closed
// windows would.
class EngineHarness {
 public:
  explicit EngineHarness(DetectorsConfig config = {})
      : config_(std::move(config)),
        engine_(config_, std::move(CreateKeyDetectors(config_)).value(), store_) {}

  // One window: spend and calls per (tenant, feature, environment).
  std::vector<Alert> Window(int64_t start_ms, const std::map<std::string, std::pair<double, int64_t>>& keys,
                            const std::map<std::string, int64_t>& unpriced_models = {}) {
    std::map<std::string, WindowTotals> tenants;
    for (const auto& [name, spend] : keys) {
      WindowTotals t;
      t.events = spend.second;
      t.cost = Money::FromDollars(spend.first);
      const auto slash = name.find('/');
      const auto slash2 = name.find('/', slash + 1);
      Row(WindowScope::kKey, start_ms, name.substr(0, slash), name.substr(slash + 1, slash2 - slash - 1),
          name.substr(slash2 + 1), "", t);
      tenants[name.substr(0, slash)].Merge(t);
    }
    for (const auto& [tenant, t] : tenants) Row(WindowScope::kTenant, start_ms, tenant, "", "", "", t);
    for (const auto& [model, n] : unpriced_models) {
      WindowTotals t;
      t.events = n;
      t.unpriced_events = n;
      Row(WindowScope::kModel, start_ms, "", "", "", model, t);
    }
    auto alerts = engine_.EndWindow(WindowStartMs(start_ms), 60'000);
    EXPECT_TRUE(alerts.ok());
    return alerts.ok() ? *alerts : std::vector<Alert>{};
  }

  DetectorEngine& engine() { return engine_; }

 private:
  void Row(WindowScope scope, int64_t start, const std::string& tenant, const std::string& feature,
           const std::string& environment, const std::string& model, const WindowTotals& totals) {
    WindowRecord r;
    r.scope = scope;
    r.start = WindowStartMs(start);
    r.size_ms = 60'000;
    r.tenant = tenant;
    r.feature = feature;
    r.environment = environment;
    r.model = model;
    r.totals = &totals;
    engine_.Observe(r);
  }

  DetectorsConfig config_;
  NoHistoryStore store_;
  DetectorEngine engine_;
};

// A steady key: $6/hour in 10 calls a minute, with mild deterministic
// ripple; `scale` multiplies the traffic (calls and spend together).
std::pair<double, int64_t> Steady(int64_t minute, double scale = 1.0) {
  const double ripple = 1.0 + 0.1 * std::sin(static_cast<double>(minute) * 0.7);
  return {0.1 * scale * ripple, static_cast<int64_t>(10 * scale)};
}

std::vector<Alert> RunWeek(EngineHarness& h, int64_t from, int64_t minutes) {
  std::vector<Alert> all;
  for (int64_t m = 0; m < minutes; ++m) {
    auto a = h.Window(from + m * 60'000, {{"acme/chat/prod", Steady(m)}});
    all.insert(all.end(), a.begin(), a.end());
  }
  return all;
}

TEST(DetectorEngineTest, SteadyTrafficRaisesNothing) {
  EngineHarness h;
  EXPECT_TRUE(RunWeek(h, kMonday, 8 * 24 * 60).empty());
}

// A rush every Monday 09:00-12:00 (3x the weekday level) is the key's
// weekly shape, not an incident; the same rise on a Wednesday, which never
// had one, is.
TEST(DetectorEngineTest, AWeeklyMondayRushIsNotASpikeButTheSameRiseMidweekIs) {
  EngineHarness h;
  const auto rush_hours = [](int64_t minute) {
    const int64_t hour_of_week = minute / 60 % (7 * 24);  // 0 = Monday 00:00
    return hour_of_week >= 9 && hour_of_week < 12;
  };
  std::vector<Alert> monday;
  const int64_t weeks = 3;
  for (int64_t m = 0; m < weeks * 7 * 24 * 60; ++m) {
    const bool rush = rush_hours(m);
    auto a = h.Window(kMonday + m * 60'000, {{"acme/chat/prod", Steady(m, rush ? 3.0 : 1.0)}});
    // Scored from the second week on: the first Monday has no week behind it.
    if (m >= 7 * 24 * 60) monday.insert(monday.end(), a.begin(), a.end());
  }
  EXPECT_TRUE(monday.empty()) << monday.size() << " alerts, first: " << monday.front().summary;
  // Wednesday of the fourth week, 09:00-12:00, at 3x for the first time.
  std::vector<Alert> wednesday;
  const int64_t start = weeks * 7 * 24 * 60;
  for (int64_t m = start; m < start + 3 * 24 * 60; ++m) {
    const int64_t hour_of_week = m / 60 % (7 * 24);
    const bool rise = rush_hours(m) || (hour_of_week >= 2 * 24 + 9 && hour_of_week < 2 * 24 + 12);
    auto a = h.Window(kMonday + m * 60'000, {{"acme/chat/prod", Steady(m, rise ? 3.0 : 1.0)}});
    for (auto& x : a) {
      if (x.status == AlertStatus::kFiring) wednesday.push_back(x);
    }
  }
  ASSERT_EQ(wednesday.size(), 1u);
  EXPECT_EQ(wednesday[0].kind, AlertKind::kSpike);
  EXPECT_EQ((wednesday[0].started_at_ms - kMonday) / kHour % (7 * 24) / 24, 2) << "on the Wednesday";
}

TEST(DetectorEngineTest, ATenfoldSpikeFiresOnceWithinTwoWindowsAndResolves) {
  EngineHarness h;
  ASSERT_TRUE(RunWeek(h, kMonday, 8 * 24 * 60).empty());
  const int64_t t0 = kMonday + 8 * 24 * kHour;
  std::vector<Alert> fired, resolved;
  int64_t fired_at = 0;
  for (int64_t m = 0; m < 90; ++m) {
    const double scale = m < 30 ? 10.0 : 1.0;  // 30 minutes at 10x, then back to normal
    for (auto& a : h.Window(t0 + m * 60'000, {{"acme/chat/prod", Steady(m, scale)}})) {
      if (a.status == AlertStatus::kFiring) {
        fired.push_back(a);
        if (!fired_at) fired_at = m + 1;
      } else {
        resolved.push_back(a);
      }
    }
  }
  ASSERT_EQ(fired.size(), 1u) << "one alert per incident";
  EXPECT_EQ(fired[0].kind, AlertKind::kSpike);
  EXPECT_EQ(fired[0].tenant, "acme");
  EXPECT_EQ(fired[0].feature, "chat");
  EXPECT_LE(fired_at, 2) << "windows from the start of the spike";
  EXPECT_GT(fired[0].ratio, 2.0);
  EXPECT_NE(fired[0].summary.find("acme/chat/prod spent"), std::string::npos);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].alert_id, fired[0].alert_id);
  EXPECT_GT(resolved[0].resolved_at_ms, t0 + 30 * 60'000);
}

// A quiet staging key: one call every 3 minutes ($0.60 an hour).
std::pair<double, int64_t> Quiet(int64_t minute) { return minute % 3 == 0 ? std::pair{0.03, int64_t{1}} : std::pair{0.0, int64_t{0}}; }

// Runs `minutes` windows of `traffic` from `from`, on top of a steady prod
// key; returns the firing alerts and, in `first`, the window (counted from
// 1) of the first one on the judged key, or -1. With `since_minute`, `first`
// counts from that minute of the run instead; `all` collects every alert.
template <typename Traffic>
std::vector<Alert> RunKey(EngineHarness& h, int64_t from, int64_t minutes, const std::string& key, Traffic traffic,
                          int64_t* first = nullptr, std::vector<Alert>* all = nullptr, int64_t since_minute = 0,
                          int64_t* first_since = nullptr) {
  std::vector<Alert> fired;
  if (first) *first = -1;
  if (first_since) *first_since = -1;
  const std::string feature = key.substr(key.find('/') + 1, key.rfind('/') - key.find('/') - 1);
  for (int64_t m = 0; m < minutes; ++m) {
    const int64_t minute = (from - kMonday) / 60'000 + m;
    std::map<std::string, std::pair<double, int64_t>> keys = {{"acme/chat/prod", Steady(minute)}};
    const auto t = traffic(minute, m);
    if (t.second > 0) keys[key] = t;
    for (auto& a : h.Window(from + m * 60'000, keys)) {
      if (all) all->push_back(a);
      if (a.status != AlertStatus::kFiring) continue;
      if (a.feature == feature) {
        if (first && *first < 0) *first = m + 1;
        if (first_since && *first_since < 0 && minute >= since_minute) *first_since = minute - since_minute + 1;
      }
      fired.push_back(a);
    }
  }
  return fired;
}

std::vector<Alert> RunQuietWeek(EngineHarness& h) {
  return RunKey(h, kMonday, 8 * 24 * 60, "acme/search/staging", [](int64_t minute, int64_t) { return Quiet(minute); });
}

// A leak on a quiet key is a handful of calls a minute: the spend of the
// long windows hardly moves in two minutes, the number of calls does.
TEST(DetectorEngineTest, AQuietStagingKeyLeakingTwentyfoldPagesWithinTwoWindows) {
  for (const bool calls_path : {true, false}) {
    DetectorsConfig config;
    if (!calls_path) config.spike.calls_windows_ms.clear();
    EngineHarness h(config);
    ASSERT_TRUE(RunQuietWeek(h).empty());
    int64_t first = -1;
    const auto fired = RunKey(h, kMonday + 8 * 24 * kHour, 60, "acme/search/staging",
                           [](int64_t, int64_t) { return std::pair{0.21, int64_t{7}}; }, &first);
    if (calls_path) {
      ASSERT_FALSE(fired.empty());
      EXPECT_EQ(fired[0].kind, AlertKind::kSpike);
      EXPECT_EQ(fired[0].environment, "staging");
      EXPECT_GE(first, 1);
      EXPECT_LE(first, 2) << "windows from the start of the leak";
      ASSERT_FALSE(fired[0].details.empty());
      EXPECT_EQ(fired[0].details[1].second.rfind("calls", 0), 0u) << fired[0].details[1].second;
    } else {
      EXPECT_TRUE(first < 0 || first > 2) << "without the calls path the leak takes longer (" << first << ")";
    }
  }
}

// Tenfold is harder to tell from chance on a key that small (three calls a
// minute where one in three minutes is usual); on a staging key of two
// calls a minute ($0.72 an hour) two windows are enough.
TEST(DetectorEngineTest, AStagingKeyLeakingTenfoldPagesWithinTwoWindows) {
  for (const bool calls_path : {true, false}) {
    DetectorsConfig config;
    if (!calls_path) config.spike.calls_windows_ms.clear();
    EngineHarness h(config);
    ASSERT_TRUE(RunKey(h, kMonday, 8 * 24 * 60, "acme/search/staging",
                       [](int64_t, int64_t) { return std::pair{0.012, int64_t{2}}; })
                    .empty());
    int64_t first = -1;
    RunKey(h, kMonday + 8 * 24 * kHour, 60, "acme/search/staging",
           [](int64_t, int64_t) { return std::pair{0.12, int64_t{20}}; }, &first);
    if (calls_path) {
      EXPECT_GE(first, 1);
      EXPECT_LE(first, 2) << "windows from the start of the leak";
    } else {
      EXPECT_TRUE(first < 0 || first > 2) << "without the calls path the leak takes longer (" << first << ")";
    }
  }
}

// A key that once a day runs a ten-minute batch at twice its level: its
// daily peak makes the sustained path wait, the plateau path does not.
std::pair<double, int64_t> WithDailyBatch(int64_t minute, double scale = 1.0) {
  const int64_t in_day = minute % (24 * 60);
  auto s = Steady(minute, scale);
  if (in_day >= 15 * 60 && in_day < 15 * 60 + 10) {
    s.first *= 2;
    s.second *= 2;
  }
  return s;
}

TEST(DetectorEngineTest, AThreefoldPlateauPagesWithinFifteenMinutes) {
  for (const bool plateau_path : {true, false}) {
    DetectorsConfig config;
    if (!plateau_path) config.spike.plateau_ratio = 1e6;
    EngineHarness h(config);
    ASSERT_TRUE(RunKey(h, kMonday, 8 * 24 * 60, "acme/search/prod",
                    [](int64_t minute, int64_t) { return WithDailyBatch(minute); })
                    .empty());
    int64_t first = -1;
    // Tuesday 10:00, for two hours at 3x.
    const auto fired = RunKey(h, kMonday + 8 * 24 * kHour + 10 * kHour, 120, "acme/search/prod",
                           [](int64_t minute, int64_t) { return WithDailyBatch(minute, 3.0); }, &first);
    if (plateau_path) {
      ASSERT_FALSE(fired.empty());
      EXPECT_EQ(fired[0].kind, AlertKind::kSpike);
      // Not a spike: the calls path leaves a 3x rise on a busy key to the plateau's quarter hour.
      EXPECT_GE(first, 10);
      EXPECT_LE(first, 15) << "minutes from the start of the plateau";
    } else {
      EXPECT_GT(first, 15) << "without the plateau path it waits for the hour-long window";
    }
  }
}

// Ordinary shapes the new paths must not page on, with the noise real
// traffic has: calls at random (Poisson), costs per call that vary, busy
// and quiet days (x0.86-1.16 typically) and hours (x0.8-1.2).
class NoisyTraffic {
 public:
  explicit NoisyTraffic(uint64_t seed) : state_(seed) {}
  // `level` is the expected calls per minute; each call costs about $0.01.
  std::pair<double, int64_t> Minute(int64_t minute, double level) {
    const double rate = level * Factor(minute / (24 * 60), 0.15, 1) * Factor(minute / 60, 0.2, 2);
    // Poisson by inversion.
    int64_t calls = 0;
    for (double p = Uniform(), limit = std::exp(-rate); p > limit; p *= Uniform()) ++calls;
    double cost = 0;
    for (int64_t i = 0; i < calls; ++i) cost += 0.01 * std::exp(0.6 * Normal(Next()) - 0.18);
    return {cost, calls};
  }

 private:
  static uint64_t Mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  static double ToUniform(uint64_t h) { return (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53; }
  static double Normal(uint64_t h) {
    return std::sqrt(-2.0 * std::log(ToUniform(h))) * std::cos(2 * M_PI * ToUniform(Mix(h)));
  }
  // A lognormal factor that stays the same through one day or one hour.
  static double Factor(int64_t period, double sigma, uint64_t salt) {
    return std::exp(sigma * Normal(Mix(static_cast<uint64_t>(period) * 31 + salt)));
  }
  uint64_t Next() { return state_ = Mix(state_); }
  double Uniform() { return ToUniform(Next()); }
  uint64_t state_;
};

// Business hours with a lunchtime dip and an afternoon peak, a Monday
// morning rush (x1.3), quiet weekends and steady growth (x1.5 over the
// run): calls per minute for `minute` (from Monday 00:00 UTC).
double BusinessLevel(int64_t minute, int64_t minutes_in_run) {
  static constexpr double kCurve[25] = {0.10, 0.08, 0.07, 0.07, 0.08, 0.12, 0.25, 0.50, 0.85, 1.00, 1.00, 0.95, 0.72,
                                        0.85, 1.00, 0.98, 0.90, 0.70, 0.45, 0.32, 0.25, 0.20, 0.15, 0.12, 0.10};
  const double hour = static_cast<double>(minute % (24 * 60)) / 60.0;
  const int h = static_cast<int>(hour);
  double level = kCurve[h] + (kCurve[h + 1] - kCurve[h]) * (hour - h);
  const int64_t day = minute / (24 * 60) % 7;  // 0 = Monday
  if (day >= 5) level *= 0.3;
  if (day == 0 && hour >= 7 && hour < 12) level *= 1.3;
  return 5.0 * level * (1.0 + 0.5 * static_cast<double>(minute) / static_cast<double>(minutes_in_run));
}

TEST(DetectorEngineTest, BusyDaysLunchtimeMondayRushAndGrowthStayQuiet) {
  EngineHarness h;
  NoisyTraffic noise(7);
  const int64_t minutes = 22 * 24 * 60;
  std::vector<Alert> spikes;
  RunKey(h, kMonday, minutes, "acme/search/prod", [&](int64_t minute, int64_t) {
    return noise.Minute(minute, BusinessLevel(minute, minutes));
  }, nullptr, &spikes);
  // Scored after the first week, as the evaluation does.
  std::erase_if(spikes, [](const Alert& a) {
    return a.kind != AlertKind::kSpike || a.started_at_ms < kMonday + 7 * 24 * kHour;
  });
  EXPECT_TRUE(spikes.empty()) << spikes.size() << " spike alerts, first: " << spikes.front().summary << " ("
                              << spikes.front().details[1].second << ")";
}

// The same key at 4x (the middle of the 3-5x plateaus a tenant's script
// makes) on a Wednesday afternoon: paged within 15 minutes. At 3x in an hour
// that is quiet anyway (x0.8) it can take the better part of an hour.
TEST(DetectorEngineTest, AFourfoldPlateauOnANoisyKeyPagesWithinFifteenMinutes) {
  EngineHarness h;
  NoisyTraffic noise(11);
  const int64_t minutes = 10 * 24 * 60;
  const int64_t from = (7 + 2) * 24 * 60 + 14 * 60;  // the second Wednesday, 14:00
  int64_t first = -1;
  RunKey(h, kMonday, minutes, "acme/search/prod", [&](int64_t minute, int64_t) {
    const double plateau = minute >= from && minute < from + 3 * 60 ? 4.0 : 1.0;
    return noise.Minute(minute, plateau * BusinessLevel(minute, minutes));
  }, nullptr, nullptr, from, &first);
  EXPECT_GE(first, 1);
  EXPECT_LE(first, 15) << "minutes from the start of the plateau";
}

TEST(DetectorEngineTest, TheSameWindowIsNeverLearntTwice) {
  EngineHarness h;
  h.Window(kMonday, {{"acme/chat/prod", {1.0, 1}}});
  h.Window(kMonday, {{"acme/chat/prod", {1.0, 1}}});
  EXPECT_EQ(h.engine().stats().windows_already_applied, 2u);  // the key row and its tenant roll-up
}

TEST(DetectorEngineTest, UnitCostShiftWhenCallsStaySteady) {
  EngineHarness h;
  ASSERT_TRUE(RunWeek(h, kMonday, 8 * 24 * 60).empty());
  const int64_t t0 = kMonday + 8 * 24 * kHour;
  std::vector<Alert> fired;
  int64_t first = -1;
  for (int64_t m = 0; m < 60; ++m) {
    auto s = Steady(m);
    s.first *= 8;  // every call now costs 8x: a premium model, same number of calls
    for (auto& a : h.Window(t0 + m * 60'000, {{"acme/chat/prod", s}})) {
      if (a.status == AlertStatus::kFiring) {
        fired.push_back(a);
        if (first < 0) first = m;
      }
    }
  }
  bool unit_cost = false;
  for (const auto& a : fired) unit_cost |= a.kind == AlertKind::kUnitCostShift;
  EXPECT_TRUE(unit_cost);
  EXPECT_LE(first, 30);
}

TEST(DetectorEngineTest, ANewSpenderAfterTheLearningPeriod) {
  EngineHarness h;
  ASSERT_TRUE(RunWeek(h, kMonday, 2 * 24 * 60).empty());
  const int64_t t0 = kMonday + 2 * 24 * kHour;
  std::vector<Alert> fired;
  for (int64_t m = 0; m < 10; ++m) {
    for (auto& a : h.Window(t0 + m * 60'000, {{"acme/chat/prod", Steady(m)}, {"acme/secret-feature/prod", {0.2, 5}}})) {
      fired.push_back(a);
    }
  }
  ASSERT_FALSE(fired.empty());
  EXPECT_EQ(fired[0].kind, AlertKind::kNewSpender);
  EXPECT_EQ(fired[0].feature, "secret-feature");
  EXPECT_LT(fired[0].started_at_ms - t0, 5 * 60'000);
  for (const auto& a : fired) EXPECT_NE(a.feature, "chat");
}

TEST(DetectorEngineTest, NothingIsNewBeforeTheLearningPeriod) {
  EngineHarness h;
  std::vector<Alert> fired;
  for (int64_t m = 0; m < 60; ++m) {
    auto a = h.Window(kMonday + m * 60'000, {{"acme/chat/prod", {0.5, 5}}});
    fired.insert(fired.end(), a.begin(), a.end());
  }
  EXPECT_TRUE(fired.empty());
}

TEST(DetectorEngineTest, UnpricedModelFiresAndResolves) {
  EngineHarness h;
  std::vector<Alert> alerts;
  for (int64_t m = 0; m < 60; ++m) {
    std::map<std::string, int64_t> unpriced;
    if (m < 5) unpriced["acme-internal-llm"] = 3;
    auto a = h.Window(kMonday + m * 60'000, {{"acme/chat/prod", {0.1, 10}}}, unpriced);
    alerts.insert(alerts.end(), a.begin(), a.end());
  }
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kUnpriced);
  EXPECT_EQ(alerts[0].model, "acme-internal-llm");
  EXPECT_EQ(alerts[1].status, AlertStatus::kResolved);
}

TEST(DetectorEngineTest, AWindowsAlertsComeOutInKeyOrder) {
  EngineHarness h;
  std::map<std::string, int64_t> unpriced;
  for (const char* model : {"zeta-1", "alpha-7", "mu-3", "beta-2", "omega-9", "kappa-4", "delta-5", "eta-6"})
    unpriced[model] = 2;
  const auto alerts = h.Window(kMonday, {{"acme/chat/prod", {0.1, 10}}}, unpriced);
  ASSERT_EQ(alerts.size(), unpriced.size());
  auto it = unpriced.begin();  // a std::map: in name order
  for (const Alert& a : alerts) EXPECT_EQ(a.model, (it++)->first);
}

TEST(DetectorEngineTest, UnknownDetectorNamesAreRefused) {
  DetectorsConfig c;
  c.enabled = {"spike", "crystal_ball"};
  EXPECT_FALSE(CreateKeyDetectors(c).ok());
}

CostEvent RunEvent(std::string_view run, int64_t t, int64_t tokens) {
  CostEvent e;
  e.event_id = "x";
  e.time = EventTimeMs(t);
  e.tenant = "acme";
  e.feature = "agent";
  e.environment = "prod";
  e.agent_run_id = run;
  e.tokens[TokenKind::kInput] = tokens;
  return e;
}

TEST(RunawayDetectorTest, FiresOncePastTheCallBoundAndResolvesWhenIdle) {
  RunawayConfig c;
  c.max_calls = 50;
  RunawayDetector d(c, 60'000);
  for (int i = 0; i < 200; ++i) d.OnCounted(RunEvent("run-1", kMonday + i * 1000, 100), Money::FromDollars(0.01), true);
  for (int i = 0; i < 10; ++i) d.OnCounted(RunEvent("run-2", kMonday + i * 1000, 100), Money::FromDollars(0.01), true);
  auto alerts = d.TakeAlerts(kMonday + 200'000);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kRunaway);
  EXPECT_EQ(alerts[0].subject, "agent_run_id=run-1");
  EXPECT_EQ(alerts[0].observed, 51);
  EXPECT_EQ(alerts[0].status, AlertStatus::kFiring);
  auto later = d.TakeAlerts(kMonday + 200'000 + c.idle_after_ms);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].status, AlertStatus::kResolved);
  EXPECT_EQ(later[0].alert_id, alerts[0].alert_id);
  EXPECT_EQ(d.tracked_runs(), 0u);
}

TEST(RunawayDetectorTest, TokenAndCostBoundsToo) {
  RunawayConfig c;
  c.max_tokens = 10'000;
  RunawayDetector d(c, 60'000);
  for (int i = 0; i < 3; ++i) d.OnCounted(RunEvent("big", kMonday + i, 5'000), Money::FromDollars(0.01), true);
  auto alerts = d.TakeAlerts(kMonday);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].unit, "tokens");
}

TEST(RunawayDetectorTest, MemoryStaysBounded) {
  RunawayConfig c;
  c.max_tracked_runs = 1000;
  RunawayDetector d(c, 60'000);
  for (int i = 0; i < 5000; ++i) {
    const std::string id = "run-" + std::to_string(i);
    d.OnCounted(RunEvent(id, kMonday + i, 10), Money::FromDollars(0.001), true);
  }
  EXPECT_LE(d.tracked_runs(), 1001u);
  EXPECT_GT(d.evicted_runs(), 0u);
}

// The transitions a detector hands out, keyed by (alert id, status), with
// what a receiver would see of them.
std::map<std::pair<std::string, int>, std::string> Transitions(const std::vector<Alert>& alerts) {
  std::map<std::pair<std::string, int>, std::string> out;
  for (const Alert& a : alerts) {
    const std::string seen = Concat(a.subject, " ", a.window_start_ms, " ", a.started_at_ms, " ", a.resolved_at_ms,
                                    " ", a.observed, " ", a.unit, " | ", a.summary);
    // A transition offered twice (after a restore) must be offered alike.
    auto [it, inserted] = out.emplace(std::pair(a.alert_id, static_cast<int>(a.status)), seen);
    if (!inserted) {
      EXPECT_EQ(it->second, seen);
    }
  }
  return out;
}

TEST(RunawayDetectorTest, SavedRunsCarryOnAfterARestoreAsIfNeverInterrupted) {
  RunawayConfig c;
  c.max_calls = 50;
  // run-1: 300 calls over 5 minutes, cut in the middle; run-2: fires and
  // goes quiet before the cut, resolves after it; run-3: 40 calls either
  // side of the cut, past the bound only counted whole.
  std::vector<CostEvent> events;
  for (int i = 0; i < 300; ++i) events.push_back(RunEvent("run-1", kMonday + i * 1000, 100));
  for (int i = 0; i < 60; ++i) events.push_back(RunEvent("run-2", kMonday + i * 100, 100));
  for (int i = 0; i < 80; ++i) events.push_back(RunEvent("run-3", kMonday + i * 3000, 100));
  std::stable_sort(events.begin(), events.end(),
                   [](const CostEvent& a, const CostEvent& b) { return a.time < b.time; });
  const size_t cut = events.size() / 2;
  const Money cost = Money::FromDollars(0.01);
  const auto drive = [&](RunawayDetector& d, size_t from, size_t to, std::vector<Alert>& alerts,
                         std::vector<std::string>* records) {
    for (size_t i = from; i < to; ++i) {
      d.OnCounted(events[i], cost, true);
      if (i % 37 == 0 || i + 1 == to) {  // a checkpoint
        for (Alert& a : d.TakeAlerts(events[i].time.value())) alerts.push_back(std::move(a));
        if (records) {
          std::string r;
          if (d.SaveState(false, r)) records->push_back(std::move(r));
        }
        d.ConfirmDelivery()();
      }
    }
  };
  const int64_t end = events.back().time.value() + c.idle_after_ms;

  RunawayDetector whole(c, 60'000);
  std::vector<Alert> expected;
  drive(whole, 0, events.size(), expected, nullptr);
  for (Alert& a : whole.TakeAlerts(end)) expected.push_back(std::move(a));
  ASSERT_EQ(expected.size(), 6u);  // three runs fire and resolve

  RunawayDetector first(c, 60'000);
  first.KeepStateForCheckpoints();
  std::vector<Alert> got;
  std::vector<std::string> records;
  drive(first, 0, cut, got, &records);
  RunawayDetector second(c, 60'000);  // the next life, from the saved records
  second.KeepStateForCheckpoints();
  ASSERT_TRUE(second.RestoreState(records));
  EXPECT_EQ(second.tracked_runs(), 3u);
  drive(second, cut, events.size(), got, &records);
  for (Alert& a : second.TakeAlerts(end)) got.push_back(std::move(a));
  EXPECT_EQ(Transitions(got), Transitions(expected));
}

TEST(RunawayDetectorTest, AResolveStaysSavedUntilConfirmedAndIsOfferedAgainAfterARestore) {
  RunawayConfig c;
  c.max_calls = 5;
  RunawayDetector d(c, 60'000);
  d.KeepStateForCheckpoints();
  for (int i = 0; i < 10; ++i) d.OnCounted(RunEvent("loop", kMonday + i * 1000, 100), Money::FromDollars(0.01), true);
  const std::vector<Alert> decided = d.TakeAlerts(kMonday + 20 * 60'000);  // fired, then idle
  ASSERT_EQ(decided.size(), 2u);
  std::vector<std::string> records(1);
  ASSERT_TRUE(d.SaveState(false, records[0]));

  // A crash before the resolve was handed on: the next life offers both
  // transitions again, exactly as decided (the outbox takes each once).
  RunawayDetector next(c, 60'000);
  next.KeepStateForCheckpoints();
  ASSERT_TRUE(next.RestoreState(records));
  EXPECT_EQ(Transitions(next.TakeAlerts(kMonday + 20 * 60'000)), Transitions(decided));

  // Handed on: the run is forgotten at the next round, and saved as such.
  d.ConfirmDelivery()();
  EXPECT_TRUE(d.TakeAlerts(kMonday + 21 * 60'000).empty());
  EXPECT_EQ(d.tracked_runs(), 0u);
  records.emplace_back();
  ASSERT_TRUE(d.SaveState(false, records[1]));
  RunawayDetector after(c, 60'000);
  ASSERT_TRUE(after.RestoreState(records));
  EXPECT_EQ(after.tracked_runs(), 0u);
  EXPECT_TRUE(after.TakeAlerts(kMonday + 21 * 60'000).empty());
}

TEST(RunawayDetectorTest, AFullRecordReplacesTheOnesBeforeIt) {
  RunawayConfig c;
  RunawayDetector d(c, 60'000);
  d.KeepStateForCheckpoints();
  std::vector<std::string> records(3);
  d.OnCounted(RunEvent("a", kMonday, 100), Money::FromDollars(0.01), true);
  ASSERT_TRUE(d.SaveState(false, records[0]));
  EXPECT_FALSE(d.SaveState(false, records[1]));  // nothing changed since
  d.OnCounted(RunEvent("b", kMonday + 1, 100), Money::FromDollars(0.01), true);
  ASSERT_TRUE(d.SaveState(/*full=*/true, records[1]));
  d.OnCounted(RunEvent("c", kMonday + 2, 100), Money::FromDollars(0.01), true);
  ASSERT_TRUE(d.SaveState(false, records[2]));
  RunawayDetector restored(c, 60'000);
  ASSERT_TRUE(restored.RestoreState(records));
  EXPECT_EQ(restored.tracked_runs(), 3u);
  // Only the full record and what followed it: the same state.
  RunawayDetector from_full(c, 60'000);
  ASSERT_TRUE(from_full.RestoreState({records[1], records[2]}));
  EXPECT_EQ(from_full.tracked_runs(), 3u);
}

TEST(RunawayDetectorTest, CorruptSavedStateIsRefusedAndLeavesTheDetectorAsItWas) {
  RunawayConfig c;
  c.max_calls = 5;
  RunawayDetector d(c, 60'000);
  d.KeepStateForCheckpoints();
  for (int i = 0; i < 10; ++i) d.OnCounted(RunEvent("loop", kMonday + i, 100), Money::FromDollars(0.01), true);
  std::string good;
  ASSERT_TRUE(d.SaveState(false, good));
  RunawayDetector target(c, 60'000);
  target.OnCounted(RunEvent("mine", kMonday, 100), Money::FromDollars(0.01), true);
  EXPECT_FALSE(target.RestoreState({"not a record"}));
  EXPECT_FALSE(target.RestoreState({good.substr(0, good.size() - 3)}));  // cut short
  EXPECT_FALSE(target.RestoreState({good + "X"}));                      // an unknown entry
  EXPECT_EQ(target.tracked_runs(), 1u);
  ASSERT_TRUE(target.RestoreState({good}));
  EXPECT_EQ(target.tracked_runs(), 1u);
  EXPECT_EQ(target.TakeAlerts(kMonday).size(), 1u);  // the restored run's firing, offered again
}

}  // namespace
}  // namespace burnrate

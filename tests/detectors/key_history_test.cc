#include "detectors/key_history.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/detectors/test_times.h"

namespace burnrate {
namespace {

using testing::kHour;
using testing::kMonday;

// A weekday/weekend daily shape: $6/hour from 08:00 to 18:00 on weekdays,
// $0.60/hour otherwise; spread evenly over each hour's minutes.
double HourlyCost(int64_t t) {
  const int how = KeyHistory::HourOfWeek(t / kHour);
  const bool weekday = how / 24 < 5;
  const int hour = how % 24;
  return weekday && hour >= 8 && hour < 18 ? 6.0 : 0.6;
}

void Feed(KeyHistory& h, int64_t from, int64_t to) {
  for (int64_t t = from; t < to; t += kMinuteMs) {
    ASSERT_TRUE(h.ApplyWindow(t, HourlyCost(t) / 60.0, 2));
  }
}

TEST(KeyHistoryTest, HourOfWeekStartsOnMonday) {
  EXPECT_EQ(KeyHistory::HourOfWeek(kMonday / kHour), 0);
  EXPECT_EQ(KeyHistory::HourOfWeek(kMonday / kHour + 24 * 5 + 3), 123);  // Saturday 03:00
}

TEST(KeyHistoryTest, ExpectsTheSeasonalLevelOfTheHour) {
  KeyHistory h;
  Feed(h, kMonday, kMonday + 8 * 24 * kHour + 9 * kHour);  // to the second Tuesday 09:00
  // Tuesday 09:00: a working hour.
  const Expectation e = h.Expect(15, 0);
  EXPECT_NEAR(e.cost_usd, 6.0 * 15 / 60, 0.01);
  EXPECT_NEAR(e.calls, 2.0 * 15, 0.5);
  EXPECT_GE(e.history_values, 5);
  EXPECT_NEAR(h.RecentCost(15), 6.0 * 15 / 60, 1e-3);
}

TEST(KeyHistoryTest, WeekendsAreJudgedAgainstWeekends) {
  KeyHistory h;
  // From Monday to the second Saturday 10:00.
  Feed(h, kMonday, kMonday + 12 * 24 * kHour + 10 * kHour);
  EXPECT_NEAR(h.Expect(60, 0).cost_usd, 0.6, 0.01);
}

TEST(KeyHistoryTest, AnomalousHoursAreLearntAsExpected) {
  KeyHistory h;
  const int64_t tuesday = kMonday + 8 * 24 * kHour;
  Feed(h, kMonday, tuesday + 10 * kHour);
  // An incident: 10x for the 10:00 hour, marked anomalous.
  for (int64_t t = tuesday + 10 * kHour; t < tuesday + 11 * kHour; t += kMinuteMs) {
    ASSERT_TRUE(h.ApplyWindow(t, 10 * HourlyCost(t) / 60.0, 20));
    h.MarkCurrentHourAnomalous();
  }
  Feed(h, tuesday + 11 * kHour, tuesday + 7 * 24 * kHour + 10 * kHour);
  // A week later, the same hour still expects the usual $6/hour.
  EXPECT_NEAR(h.Expect(60, 0).cost_usd, 6.0, 0.05);
}

TEST(KeyHistoryTest, AWindowIsAppliedOnce) {
  KeyHistory h;
  EXPECT_TRUE(h.ApplyWindow(kMonday, 1.0, 1));
  EXPECT_FALSE(h.ApplyWindow(kMonday, 1.0, 1));
  EXPECT_FALSE(h.ApplyWindow(kMonday - kMinuteMs, 1.0, 1));
  EXPECT_NEAR(h.RecentCost(1), 1.0, 1e-6);
  // Windows shorter than a minute share their minute.
  EXPECT_TRUE(h.ApplyWindow(kMonday + 30'000, 0.5, 1));
  EXPECT_NEAR(h.RecentCost(1), 1.5, 1e-6);
}

TEST(KeyHistoryTest, GapsCountAsZeros) {
  KeyHistory h;
  ASSERT_TRUE(h.ApplyWindow(kMonday, 5.0, 5));
  ASSERT_TRUE(h.ApplyWindow(kMonday + 30 * kMinuteMs, 1.0, 1));
  EXPECT_NEAR(h.RecentCost(30), 1.0, 1e-6);
  EXPECT_NEAR(h.RecentCost(31), 6.0, 1e-6);
  EXPECT_NEAR(h.RecentCalls(60), 6.0, 1e-6);
}

// What Redis holds is exactly what replay keeps in memory: a decoded history
// judges exactly as the one encoded (run and replay must agree).
TEST(KeyHistoryTest, EncodingRoundTripsExactly) {
  KeyHistory h;
  Feed(h, kMonday, kMonday + 9 * 24 * kHour + 30 * kMinuteMs);
  h.lifecycle(DetectorSlot::kSpike).started_ms = 123;
  const std::string bytes = h.Encode();
  EXPECT_LT(bytes.size(), 1300u);  // Redis adds its own per-key overhead; the budget is 2 KB
  auto back = KeyHistory::Decode(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->Encode(), bytes);
  EXPECT_EQ(back->first_minute(), h.first_minute());
  EXPECT_EQ(back->last_minute(), h.last_minute());
  EXPECT_EQ(back->lifecycle(DetectorSlot::kSpike).started_ms, 123);
  for (int minutes : {3, 15, 60}) {
    EXPECT_EQ(back->Expect(minutes, 0.5).cost_usd, h.Expect(minutes, 0.5).cost_usd) << minutes;
    EXPECT_EQ(back->Expect(minutes, 0.5).sigma_usd, h.Expect(minutes, 0.5).sigma_usd) << minutes;
    EXPECT_EQ(back->RecentCost(minutes), h.RecentCost(minutes)) << minutes;
    EXPECT_EQ(back->RecentCalls(minutes), h.RecentCalls(minutes)) << minutes;
  }
  // Going on from the decoded copy stays identical too.
  for (int64_t t = kMonday + 9 * 24 * kHour + 31 * kMinuteMs; t < kMonday + 9 * 24 * kHour + 200 * kMinuteMs;
       t += kMinuteMs) {
    h.ApplyWindow(t, 0.37, 7);
    back->ApplyWindow(t, 0.37, 7);
  }
  EXPECT_EQ(back->Encode(), h.Encode());
  EXPECT_FALSE(KeyHistory::Decode(bytes.substr(0, bytes.size() - 1)).has_value());
  EXPECT_FALSE(KeyHistory::Decode("").has_value());
}

TEST(KeyHistoryTest, UsualCostPerCall) {
  KeyHistory h;
  Feed(h, kMonday, kMonday + 2 * 24 * kHour);
  auto usual = h.UsualCostPerCall(3);
  ASSERT_TRUE(usual.has_value());
  // $6/hour over 120 calls in working hours; $0.6 over 120 calls otherwise:
  // most hours are the cheap ones.
  EXPECT_NEAR(usual->usual, 0.6 / 120, 1e-4);
}

}  // namespace
}  // namespace burnrate

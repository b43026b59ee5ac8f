#include "core/window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace burnrate {
namespace {

struct Row {
  WindowScope scope;
  int64_t start;
  std::string tenant, feature, environment, model;
  WindowTotals totals;
};

class WindowTest : public ::testing::Test {
 protected:
  CostEvent Event(int64_t t, std::string_view tenant, int64_t input = 10, std::string_view model = "m") {
    CostEvent e;
    e.time = EventTimeMs(t);
    e.tenant = tenant;
    e.feature = "f";
    e.environment = "prod";
    e.model = model;
    e.tokens[TokenKind::kInput] = input;
    return e;
  }
  WindowAggregator::RecordSink Collect() {
    return [this](const WindowRecord& r) {
      rows_.push_back({r.scope, r.start.value(), std::string(r.tenant), std::string(r.feature),
                       std::string(r.environment), std::string(r.model), *r.totals});
    };
  }
  std::vector<Row> rows_;
};

TEST(WindowStartFor, FloorsToTheGridAlsoBefore1970) {
  EXPECT_EQ(WindowStartFor(EventTimeMs(125'000), 60'000).value(), 120'000);
  EXPECT_EQ(WindowStartFor(EventTimeMs(120'000), 60'000).value(), 120'000);
  EXPECT_EQ(WindowStartFor(EventTimeMs(-1), 60'000).value(), -60'000);
}

// A flood of absurd costs (a producer reporting micro-dollars as dollars,
// with trust_reported_cost) pins a total at the largest amount; it never
// wraps to a negative spend.
TEST(WindowTotals, CostSaturatesInsteadOfWrapping) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  WindowTotals totals;
  CostEvent e;
  for (int i = 0; i < 3; ++i) totals.Add(e, Money::FromPicodollars(kMax / 2), true);
  EXPECT_EQ(totals.cost.picodollars(), kMax);
  EXPECT_EQ(totals.events, 3);
  WindowTotals other;
  other.Add(e, Money::FromPicodollars(1), true);
  other.Merge(totals);
  EXPECT_EQ(other.cost.picodollars(), kMax);
  // Below the bound nothing changes: sums stay exact.
  EXPECT_EQ((Money::FromPicodollars(kMax - 1) + Money::FromPicodollars(1)).picodollars(), kMax);
  EXPECT_EQ((Money::FromPicodollars(5) - Money::FromPicodollars(7)).picodollars(), -2);
  EXPECT_EQ((Money::FromPicodollars(-kMax) - Money::FromPicodollars(5)).picodollars(),
            std::numeric_limits<int64_t>::min());
}

TEST(PackKey, RoundTripsAndCannotBeConfused) {
  std::string a, b;
  PackKey("a\x1f", "b", "c", a);
  PackKey("a", "\x1f" "b", "c", b);
  EXPECT_NE(a, b);
  std::string_view t, f, e;
  ASSERT_TRUE(UnpackKey(a, t, f, e));
  EXPECT_EQ(t, "a\x1f");
  EXPECT_EQ(f, "b");
  EXPECT_EQ(e, "c");
  EXPECT_FALSE(UnpackKey("\x00", t, f, e));
}

TEST_F(WindowTest, SumsPerKeyAndClosesAfterLateness) {
  WindowAggregator agg({.size_ms = 60'000, .allowed_lateness_ms = 30'000, .max_keys_per_window = 100});
  agg.Add(Event(1'000, "acme", 10), Money::FromPicodollars(5), true);
  agg.Add(Event(59'999, "acme", 20), Money::FromPicodollars(7), true);
  agg.Add(Event(30'000, "beta", 1), Money(), false);
  agg.Add(Event(60'000, "acme", 100), Money::FromPicodollars(1), true);  // next window
  EXPECT_EQ(agg.CloseReady(Collect()), 0u);  // watermark 60s < 60s + 30s
  agg.Add(Event(90'000, "acme"), Money(), true);
  EXPECT_EQ(agg.CloseReady(Collect()), 1u);
  std::vector<Row> keys;
  for (const auto& r : rows_) if (r.scope == WindowScope::kKey) keys.push_back(r);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].tenant, "acme");
  EXPECT_EQ(keys[0].start, 0);
  EXPECT_EQ(keys[0].totals.events, 2);
  EXPECT_EQ(keys[0].totals.tokens[TokenKind::kInput], 30);
  EXPECT_EQ(keys[0].totals.cost.picodollars(), 12);
  EXPECT_EQ(keys[1].tenant, "beta");
  EXPECT_EQ(keys[1].totals.unpriced_events, 1);
}

TEST_F(WindowTest, RollupsAddUpToTheKeys) {
  WindowAggregator agg({.size_ms = 60'000, .allowed_lateness_ms = 0, .max_keys_per_window = 100});
  agg.Add(Event(1'000, "acme", 10, "m1"), Money::FromPicodollars(3), true);
  agg.Add(Event(2'000, "beta", 20, "m2"), Money::FromPicodollars(4), true);
  agg.Add(Event(3'000, "beta", 30, "m1"), Money::FromPicodollars(5), true);
  agg.CloseAll(Collect());
  int64_t tenant_cost = 0, model_cost = 0, env_events = 0;
  for (const auto& r : rows_) {
    if (r.scope == WindowScope::kTenant) tenant_cost += r.totals.cost.picodollars();
    if (r.scope == WindowScope::kModel) model_cost += r.totals.cost.picodollars();
    if (r.scope == WindowScope::kEnvironment) env_events += r.totals.events;
  }
  EXPECT_EQ(tenant_cost, 12);
  EXPECT_EQ(model_cost, 12);
  EXPECT_EQ(env_events, 3);
}

TEST_F(WindowTest, EventsForClosedWindowsAreLate) {
  WindowAggregator agg({.size_ms = 60'000, .allowed_lateness_ms = 10'000, .max_keys_per_window = 100});
  agg.Add(Event(5'000, "a"), Money(), true);
  agg.Add(Event(200'000, "a"), Money(), true);
  agg.CloseReady(Collect());
  EXPECT_EQ(agg.Add(Event(5'000, "a"), Money(), true), WindowAggregator::AddResult::kLate);
  // A window that never had an event closed all the same.
  EXPECT_EQ(agg.Add(Event(65'000, "a"), Money(), true), WindowAggregator::AddResult::kLate);
  // Within the lateness of the current window: still counted.
  EXPECT_EQ(agg.Add(Event(185'000, "a"), Money(), true), WindowAggregator::AddResult::kAdded);
}

TEST_F(WindowTest, LatenessDependsOnEventTimeNotOnWhenWindowsWereClosed) {
  WindowAggregator agg({.size_ms = 60'000, .allowed_lateness_ms = 60'000, .max_keys_per_window = 100});
  agg.Add(Event(0, "a"), Money(), true);
  agg.Add(Event(300'000, "a"), Money(), true);
  // No CloseReady() yet, but the first window ended 5 minutes before the watermark.
  EXPECT_EQ(agg.Add(Event(1'000, "a"), Money(), true), WindowAggregator::AddResult::kLate);
  // The window [240s, 300s) is open until the watermark reaches 360s; the one
  // before it closed when the watermark reached exactly 300s.
  EXPECT_EQ(agg.Add(Event(240'000, "a"), Money(), true), WindowAggregator::AddResult::kAdded);
  EXPECT_EQ(agg.Add(Event(239'999, "a"), Money(), true), WindowAggregator::AddResult::kLate);
}

TEST_F(WindowTest, KeysBeyondTheCapGoToOverflowWithoutLosingSpend) {
  WindowAggregator agg({.size_ms = 60'000, .allowed_lateness_ms = 0, .max_keys_per_window = 2});
  for (int i = 0; i < 5; ++i) agg.Add(Event(1'000, "t" + std::to_string(i)), Money::FromPicodollars(1), true);
  EXPECT_EQ(agg.overflowed_events(), 3u);
  agg.CloseAll(Collect());
  int64_t cost = 0;
  bool saw_overflow = false;
  for (const auto& r : rows_) {
    if (r.scope != WindowScope::kKey) continue;
    cost += r.totals.cost.picodollars();
    saw_overflow |= r.tenant == kOverflowDimension && r.totals.events == 3;
  }
  EXPECT_EQ(cost, 5);
  EXPECT_TRUE(saw_overflow);
}

TEST_F(WindowTest, KeysThatSplitTheSameBytesDifferentlyStayApart) {
  WindowAggregator agg({.size_ms = 60'000, .allowed_lateness_ms = 0, .max_keys_per_window = 100});
  CostEvent e = Event(1'000, "ab");
  e.feature = "c";
  agg.Add(e, Money::FromPicodollars(1), true);
  e.tenant = "a";
  e.feature = "bc";
  agg.Add(e, Money::FromPicodollars(2), true);
  e.feature = "b";
  e.environment = "cprod";
  agg.Add(e, Money::FromPicodollars(4), true);
  e.tenant = "ab";
  e.feature = "c";
  e.environment = "prod";
  agg.Add(e, Money::FromPicodollars(8), true);
  agg.CloseAll(Collect());
  std::vector<std::string> keys;
  std::vector<int64_t> costs;
  for (const auto& r : rows_) {
    if (r.scope != WindowScope::kKey) continue;
    keys.push_back(r.tenant + "|" + r.feature + "|" + r.environment);
    costs.push_back(r.totals.cost.picodollars());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"a|b|cprod", "a|bc|prod", "ab|c|prod"}));
  EXPECT_EQ(costs, (std::vector<int64_t>{4, 2, 9}));
}

// Thousands of keys from 1 to 40 bytes long, each added three times in an
// interleaved order while the map grows: each key's total must be exactly
// its own.
TEST_F(WindowTest, ManyKeysOfManyLengthsKeepExactTotals) {
  WindowAggregator agg({.size_ms = 60'000, .allowed_lateness_ms = 0, .max_keys_per_window = 100'000});
  constexpr int kKeys = 5'000;
  std::vector<std::string> tenants;
  for (int i = 0; i < kKeys; ++i) tenants.push_back(std::to_string(i) + std::string(i % 37, 'x'));
  for (int round = 1; round <= 3; ++round) {
    for (int i = 0; i < kKeys; ++i) {
      agg.Add(Event(1'000, tenants[i], /*input=*/i), Money::FromPicodollars(round), true);
    }
  }
  agg.CloseAll(Collect());
  int key_rows = 0;
  for (const auto& r : rows_) {
    if (r.scope != WindowScope::kKey) continue;
    ++key_rows;
    const int i = std::stoi(r.tenant);
    EXPECT_EQ(r.tenant, tenants[i]);
    EXPECT_EQ(r.totals.events, 3) << r.tenant;
    EXPECT_EQ(r.totals.tokens[TokenKind::kInput], 3 * i) << r.tenant;
    EXPECT_EQ(r.totals.cost.picodollars(), 6) << r.tenant;
  }
  EXPECT_EQ(key_rows, kKeys);
}

TEST_F(WindowTest, EventsAlternatingBetweenWindowsLandInTheirOwn) {
  WindowAggregator agg({.size_ms = 60'000, .allowed_lateness_ms = 60'000, .max_keys_per_window = 100});
  for (int i = 0; i < 6; ++i) agg.Add(Event(i % 2 ? 61'000 : 1'000, "a", 1), Money::FromPicodollars(1), true);
  // Closes [0, 60s) only; the next event opens a third window.
  agg.Add(Event(121'000, "a", 1), Money::FromPicodollars(1), true);
  EXPECT_EQ(agg.CloseReady(Collect()), 1u);
  agg.Add(Event(61'000, "a", 1), Money::FromPicodollars(1), true);
  agg.CloseAll(Collect());
  std::vector<std::pair<int64_t, int64_t>> starts_and_events;
  for (const auto& r : rows_) {
    if (r.scope == WindowScope::kKey) starts_and_events.emplace_back(r.start, r.totals.events);
  }
  EXPECT_EQ(starts_and_events,
            (std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {60'000, 4}, {120'000, 1}}));
}

// Rows come out in one order whatever order the events came in, so that a
// replay of shuffled input writes the same bytes: key rows by packed key
// (tenant, feature, environment, each after its length) in byte order, the
// roll-ups by name. Names here share long prefixes, differ in length only,
// and hold bytes at both ends of the range.
TEST_F(WindowTest, RowsComeOutInByteOrderOfTheirNames) {
  std::mt19937_64 rng(24112026);
  const std::string alphabet = std::string("\0\x01", 2) + "abz\x7f\x80\xff";
  std::vector<std::string> tenants;
  for (int i = 0; i < 300; ++i) {
    std::string name = i % 3 == 0 ? "tenant-acme-corp-" : "";  // a shared 17-byte prefix
    const size_t length = rng() % 12;
    for (size_t j = 0; j < length; ++j) name += alphabet[rng() % alphabet.size()];
    tenants.push_back(name.empty() ? "t" : name);
  }
  WindowAggregator windows(
      {.size_ms = 60'000, .allowed_lateness_ms = 0, .max_keys_per_window = 100'000});
  std::vector<std::string> features = {"f", "fe", "f\xff", std::string("f\0", 2)};
  for (int i = 0; i < 5000; ++i) {
    CostEvent e = Event(1'000, tenants[rng() % tenants.size()], 1, i % 2 ? "model-b" : "model-a");
    e.feature = features[rng() % features.size()];
    windows.Add(e, Money::FromPicodollars(1), true);
  }
  windows.CloseAll(Collect());
  std::vector<std::string> keys, tenant_rows;
  for (const Row& r : rows_) {
    if (r.scope == WindowScope::kKey) {
      std::string packed;
      PackKey(r.tenant, r.feature, r.environment, packed);
      keys.push_back(packed);
    } else if (r.scope == WindowScope::kTenant) {
      tenant_rows.push_back(r.tenant);
    }
  }
  ASSERT_GT(keys.size(), 500u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end()) << "a key came out twice";
  ASSERT_GT(tenant_rows.size(), 100u);
  EXPECT_TRUE(std::is_sorted(tenant_rows.begin(), tenant_rows.end()));
}

}  // namespace
}  // namespace burnrate

// The detector baselines in a real Redis: a restarted engine continues where
// the last one stopped, a replayed window is never learnt twice, and each
// key's history costs at most 2 KB of Redis memory.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cmath>

#include "detectors/detector_engine.h"
#include "detectors/history_store.h"
#include "tests/detectors/test_times.h"
#include "tests/support/redis.h"
#include "tests/support/stack.h"

namespace burnrate {
namespace {

using testing::kMonday;

class RedisHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& stack = testing::Stack();
    options_.host = stack.redis_host;
    options_.port = stack.redis_port;
    prefix_ = testing::UniqueRedisPrefix();
    options_.key_prefix = prefix_;
  }
  void TearDown() override { redis_.DeleteKeysWithPrefix(prefix_); }

  // One window's rows (acme/<feature>/prod, each with this spend), not yet ended.
  static void Observe(DetectorEngine& engine, int64_t start, double cost, int64_t calls,
                      const std::vector<std::string>& features = {"chat"}) {
    WindowTotals t;
    t.events = calls;
    t.cost = Money::FromDollars(cost);
    for (const std::string& feature : features) {
      WindowRecord r;
      r.scope = WindowScope::kKey;
      r.start = WindowStartMs(start);
      r.size_ms = 60'000;
      r.tenant = "acme";
      r.feature = feature;
      r.environment = "prod";
      r.totals = &t;
      engine.Observe(r);
    }
  }

  std::vector<Alert> Window(DetectorEngine& engine, int64_t start, double cost, int64_t calls,
                            const std::vector<std::string>& features = {"chat"}) {
    Observe(engine, start, cost, calls, features);
    auto alerts = engine.EndWindow(WindowStartMs(start), 60'000);
    EXPECT_TRUE(alerts.ok()) << alerts.status();
    return alerts.ok() ? *alerts : std::vector<Alert>{};
  }

  std::unique_ptr<DetectorEngine> NewEngine(HistoryStore& store) {
    return std::make_unique<DetectorEngine>(config_, std::move(CreateKeyDetectors(config_)).value(), store);
  }

  RedisConfig options_;
  std::string prefix_;
  DetectorsConfig config_;
  testing::RedisClient redis_;
};

TEST_F(RedisHistoryTest, ARestartedEngineKeepsTheBaselineAndTheFiringAlert) {
  RedisHistoryStore store(options_);
  int64_t t = kMonday;
  {
    auto engine = NewEngine(store);
    // Eight days of a steady $6/hour.
    for (int m = 0; m < 8 * 24 * 60; ++m, t += 60'000) {
      ASSERT_TRUE(Window(*engine, t, 0.1 * (1 + 0.1 * std::sin(m * 0.7)), 10).empty());
    }
    // A 10x spike starts; the first replica fires.
    std::vector<Alert> fired;
    for (int m = 0; m < 3; ++m, t += 60'000) {
      auto a = Window(*engine, t, 1.0, 100);
      fired.insert(fired.end(), a.begin(), a.end());
    }
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].kind, AlertKind::kSpike);
  }
  // Another replica (a new engine, a new connection) takes over: the
  // incident does not fire again, and resolves when spend is back to normal.
  RedisHistoryStore other(options_);
  auto engine = NewEngine(other);
  std::vector<Alert> later;
  for (int m = 0; m < 60; ++m, t += 60'000) {
    auto a = Window(*engine, t, m < 10 ? 1.0 : 0.1, m < 10 ? 100 : 10);
    later.insert(later.end(), a.begin(), a.end());
  }
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].status, AlertStatus::kResolved);
}

TEST_F(RedisHistoryTest, AReplayedWindowIsNotLearntTwice) {
  RedisHistoryStore store(options_);
  auto engine = NewEngine(store);
  Window(*engine, kMonday, 1.0, 1);
  auto again = NewEngine(store);
  Window(*again, kMonday, 1.0, 1);
  EXPECT_EQ(again->stats().windows_already_applied, 1u);
  auto loaded = store.Load({KeyIdentity{WindowScope::kKey, "acme", "chat", "prod", ""}.StoreKey()});
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE((*loaded)[0].has_value());
  auto history = KeyHistory::Decode(*(*loaded)[0]);
  ASSERT_TRUE(history.has_value());
  EXPECT_NEAR(history->RecentCost(1), 1.0, 1e-6);
}

// Alerts reach the outbox before the histories that record them are saved:
// an outbox that fails leaves the window to be judged again, whole, and the
// same transitions are offered again instead of being lost.
TEST_F(RedisHistoryTest, AnAlertTheOutboxRefusedIsDecidedAgainNotLost) {
  RedisHistoryStore store(options_);
  auto engine = NewEngine(store);
  int64_t t = kMonday;
  for (int m = 0; m < 8 * 24 * 60; ++m, t += 60'000) {
    ASSERT_TRUE(Window(*engine, t, 0.1 * (1 + 0.1 * std::sin(m * 0.7)), 10).empty());
  }
  // A 10x spike; feed windows until the detectors decide to fire.
  std::vector<Alert> offered;
  const auto refuse = [&](const std::vector<Alert>& a) {
    offered = a;
    return a.empty() ? absl::OkStatus() : absl::UnavailableError("outbox down");
  };
  absl::StatusOr<std::vector<Alert>> judged;
  for (int m = 0; m < 5; ++m, t += 60'000) {
    Observe(*engine, t, 1.0, 100);
    judged = engine->EndWindow(WindowStartMs(t), 60'000, refuse);
    if (!judged.ok()) break;
  }
  ASSERT_FALSE(judged.ok()) << "the spike never fired";
  ASSERT_EQ(offered.size(), 1u);
  const Alert first_offer = offered.front();
  // The same window again (its rows were kept): the same transition, and
  // this time it is taken and the history saved.
  std::vector<Alert> taken;
  auto again = engine->EndWindow(WindowStartMs(t), 60'000, [&](const std::vector<Alert>& a) {
    taken = a;
    return absl::OkStatus();
  });
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].alert_id, first_offer.alert_id);
  EXPECT_EQ(taken[0].status, AlertStatus::kFiring);
  EXPECT_EQ(engine->stats().windows_already_applied, 0u);
  EXPECT_EQ(engine->stats().alerts_fired, 1u) << "judged twice, counted once";
}

// The peer priors a young key leans on are learnt from the windows, so a
// replica that takes over (or a restarted one) goes on with exactly the
// priors replay would have: run and replay judge young keys alike.
TEST_F(RedisHistoryTest, PeerPriorsAfterATakeoverEqualReplays) {
  NoHistoryStore memory;
  auto replay = NewEngine(memory);
  RedisHistoryStore store(options_);
  auto first = NewEngine(store);
  const std::vector<std::string> features = {"chat", "search", "summarize"};
  int64_t t = kMonday;
  // Four days, so the keys count as established for the last one; the
  // first replica hands over after two and a half.
  for (int m = 0; m < 4 * 24 * 60; ++m, t += 60'000) {
    const double cost = 0.05 * (1 + m % 5);
    Window(*replay, t, cost, 5, features);
    if (m == 60 * 60) first.reset();
    if (!first) first = NewEngine(store);
    Window(*first, t, cost, 5, features);
  }
  ASSERT_GT(replay->peer_priors().Get("env:prod"), 0);
  auto saved = store.LoadPeerPriors();
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_TRUE(saved->has_value());
  EXPECT_EQ(**saved, replay->peer_priors().Encode());
}

TEST_F(RedisHistoryTest, AKeyCostsAtMostTwoKilobytesOfRedisMemory) {
  RedisHistoryStore store(options_);
  auto engine = NewEngine(store);
  int64_t t = kMonday;
  for (int m = 0; m < 8 * 24 * 60; m += 7, t += 7 * 60'000) Window(*engine, t, 0.1 + m % 13, 10 + m % 7);
  const std::string key = store.HistoryKey(KeyIdentity{WindowScope::kKey, "acme", "chat", "prod", ""}.StoreKey());
  auto reply = redis_.CommandArgv({"MEMORY", "USAGE", key, "SAMPLES", "0"});
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER);
  RecordProperty("redis_bytes_per_key", static_cast<int>(reply->integer));
  std::printf("redis memory per key history: %lld bytes\n", static_cast<long long>(reply->integer));
  EXPECT_LE(reply->integer, 2048);
}

}  // namespace
}  // namespace burnrate

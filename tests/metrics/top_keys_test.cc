#include "metrics/top_keys.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace burnrate {
namespace {

std::vector<std::string> PromoteAll(TopKeyTracker& t) {
  std::vector<std::string> promoted;
  t.Promote([&](const std::string& k) { promoted.push_back(k); });
  return promoted;
}

TEST(TopKeyTracker, PromotesKeysWithAShareOfSpendHeaviestFirst) {
  TopKeyTracker t(/*slots=*/3, /*candidates=*/12, /*half_life_ms=*/0);
  t.Add("small", 1);
  t.Add("big", 40);
  t.Add("bigger", 50);
  // A slot needs at least total/candidates = 7.6.
  EXPECT_EQ(PromoteAll(t), (std::vector<std::string>{"bigger", "big"}));
  EXPECT_TRUE(t.HasSlot("big"));
  EXPECT_FALSE(t.HasSlot("small"));
  t.Add("huge", 1000);
  EXPECT_EQ(PromoteAll(t), std::vector<std::string>{"huge"});
  // Slots are full: nobody else gets one, however heavy, and nobody loses one.
  t.Add("enormous", 100000);
  EXPECT_TRUE(PromoteAll(t).empty());
  EXPECT_EQ(t.slots_used(), 3u);
  EXPECT_TRUE(t.HasSlot("big"));
}

TEST(TopKeyTracker, ManyEqualSmallKeysPromoteNobody) {
  TopKeyTracker t(200, 800, 3'600'000);
  for (int i = 0; i < 100'000; ++i) t.Add("tenant-" + std::to_string(i), 0.5);
  EXPECT_TRUE(PromoteAll(t).empty());
  EXPECT_LE(t.candidates(), 800u);
}

TEST(TopKeyTracker, FindsHeavyHittersAmongManyKeysInBoundedMemory) {
  TopKeyTracker t(10, 40, 0);
  std::mt19937 rng(7);
  // 5 heavy keys (each ~8% of spend) hidden in 50,000 light ones.
  for (int round = 0; round < 50'000; ++round) {
    t.Add("light-" + std::to_string(rng() % 50'000), 1);
    if (round % 10 == 0) {
      for (int h = 0; h < 5; ++h) t.Add("heavy-" + std::to_string(h), 8);
    }
  }
  const auto promoted = PromoteAll(t);
  ASSERT_EQ(promoted.size(), 5u);
  for (int h = 0; h < 5; ++h) EXPECT_TRUE(t.HasSlot("heavy-" + std::to_string(h)));
  EXPECT_LE(t.candidates(), 40u);
}

TEST(TopKeyTracker, DecayLetsANewHeavySpenderQualify) {
  // Without decay a newcomer would need 1/candidates of everything ever spent.
  TopKeyTracker t(2, 8, /*half_life_ms=*/60'000);
  t.AdvanceTo(0);
  t.Add("old", 1000);
  ASSERT_EQ(PromoteAll(t), std::vector<std::string>{"old"});
  t.AdvanceTo(600'000);  // ten half-lives: "old" now weighs about 1
  t.Add("new", 5);
  EXPECT_EQ(PromoteAll(t), std::vector<std::string>{"new"});
}

}  // namespace
}  // namespace burnrate

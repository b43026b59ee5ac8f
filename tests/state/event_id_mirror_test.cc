#include "state/event_id_mirror.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "state/redis_state_store.h"

namespace burnrate {
namespace {

// Ids as the store's log holds them: 8 raw bytes each.
std::string Log(const std::vector<uint64_t>& ids) {
  std::string out(ids.size() * sizeof(uint64_t), '\0');
  std::memcpy(out.data(), ids.data(), out.size());
  return out;
}

TEST(EventIdMirror, GrowsWithTheLogItIsHandedInOrder) {
  EventIdMirror mirror;
  EXPECT_EQ(mirror.SyncedBytes(60'000), 0u);
  ASSERT_TRUE(mirror.Apply(60'000, 0, Log({1, 2})));
  ASSERT_TRUE(mirror.Apply(60'000, 16, Log({3})));
  EXPECT_EQ(mirror.SyncedBytes(60'000), 24u);
  for (uint64_t id : {1, 2, 3}) EXPECT_TRUE(mirror.Contains(60'000, id)) << id;
  EXPECT_FALSE(mirror.Contains(60'000, 4));
  EXPECT_FALSE(mirror.Contains(120'000, 1)) << "minutes are kept apart";
  EXPECT_EQ(mirror.ids(), 3u);
}

TEST(EventIdMirror, RefusesBytesThatWouldLeaveAGapOrSplitAnId) {
  EventIdMirror mirror;
  ASSERT_TRUE(mirror.Apply(0, 0, Log({1})));
  EXPECT_FALSE(mirror.Apply(0, 16, Log({2}))) << "bytes 8..16 were never seen";
  EXPECT_FALSE(mirror.Apply(0, 8, "seven b")) << "not a whole id";
  EXPECT_EQ(mirror.SyncedBytes(0), 8u);
  EXPECT_FALSE(mirror.Contains(0, 2));
}

TEST(EventIdMirror, ALogThatShrankIsCopiedAgainFromTheStart) {
  // The store forgot the minute (it expired, or Redis lost its last
  // writes): ids it no longer holds must not stay in the copy.
  EventIdMirror mirror;
  ASSERT_TRUE(mirror.Apply(0, 0, Log({1, 2, 3})));
  ASSERT_TRUE(mirror.Apply(0, 0, Log({1})));
  EXPECT_EQ(mirror.SyncedBytes(0), 8u);
  EXPECT_TRUE(mirror.Contains(0, 1));
  EXPECT_FALSE(mirror.Contains(0, 2));
  ASSERT_TRUE(mirror.Apply(0, 0, ""));
  EXPECT_EQ(mirror.SyncedBytes(0), 0u);
  EXPECT_FALSE(mirror.Contains(0, 1));
}

TEST(EventIdMirror, MinutesNoCheckpointUsedLatelyAreForgotten) {
  EventIdMirror mirror;
  const auto t0 = EventIdMirror::Clock::now();
  ASSERT_TRUE(mirror.Apply(0, 0, Log({1})));
  ASSERT_TRUE(mirror.Apply(60'000, 0, Log({2})));
  mirror.Touch(0, t0);
  mirror.Touch(60'000, t0 + std::chrono::seconds(90));
  mirror.ForgetUnusedSince(t0 + std::chrono::seconds(60));
  EXPECT_EQ(mirror.minutes(), 1u);
  EXPECT_EQ(mirror.SyncedBytes(0), 0u) << "forgotten: the next use fetches it whole";
  EXPECT_FALSE(mirror.Contains(0, 1));
  EXPECT_TRUE(mirror.Contains(60'000, 2));
}

TEST(EventIdMirror, TheStoreKeepsAMinutesCopyForAFewCheckpointIntervalsAtLeast) {
  Config config;
  EXPECT_EQ(RedisStoreOptionsFrom(config).id_log_copy_unused_ms, 20'000);
  config.checkpoint_interval_ms = 60'000;  // the longest allowed
  EXPECT_EQ(RedisStoreOptionsFrom(config).id_log_copy_unused_ms, 180'000)
      << "a copy must outlive the gap between two checkpoints that use it";
}

}  // namespace
}  // namespace burnrate

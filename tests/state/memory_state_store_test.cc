// The StateStore contract, on the in-memory store (the Redis store is held
// to the same contract by the run integration tests).
#include "state/memory_state_store.h"

#include <gtest/gtest.h>

namespace burnrate {
namespace {

PartitionCheckpoint Checkpoint(std::optional<int64_t> from, int64_t next, std::vector<uint64_t> ids) {
  PartitionCheckpoint c;
  c.partition = 0;
  c.from = from;
  c.next = next;
  c.watermark = EventTimeMs(1000);
  WindowDelta d;
  d.start = WindowStartMs(0);
  d.key = "k";
  d.totals.events = static_cast<int64_t>(ids.size());
  c.deltas.push_back(d);
  for (uint64_t id : ids) c.event_ids.emplace_back(0, id);
  return c;
}

TEST(MemoryStateStore, AppliesOnceAndRefusesReplaysAndDuplicates) {
  MemoryStateStore store;
  ASSERT_EQ(store.Commit("t", Checkpoint(std::nullopt, 10, {1, 2}))->kind, CheckpointOutcome::Kind::kApplied);
  // The same offsets again (a crash after the commit, a zombie): refused.
  EXPECT_EQ(store.Commit("t", Checkpoint(std::nullopt, 10, {1, 2}))->kind,
            CheckpointOutcome::Kind::kStalePosition);
  EXPECT_EQ(store.Commit("t", Checkpoint(5, 10, {3}))->kind, CheckpointOutcome::Kind::kStalePosition);
  // New offsets holding an id already counted: refused, and the id named.
  auto dup = store.Commit("t", Checkpoint(10, 20, {3, 2}));
  ASSERT_EQ(dup->kind, CheckpointOutcome::Kind::kDuplicateEvents);
  EXPECT_EQ(dup->duplicates, std::vector<uint64_t>{2});
  EXPECT_EQ(*store.Position("t", 0), 10);  // nothing changed
  ASSERT_EQ(store.Commit("t", Checkpoint(10, 20, {3}))->kind, CheckpointOutcome::Kind::kApplied);
  auto window = store.ReadWindow("t", WindowStartMs(0));
  ASSERT_EQ(window->keys.size(), 1u);
  EXPECT_EQ(window->keys[0].second.events, 3);
}

TEST(MemoryStateStore, RefusesDeltasForAWindowBeingClosedOrClosed) {
  MemoryStateStore store;
  ASSERT_EQ(store.Commit("t", Checkpoint(std::nullopt, 10, {1}))->kind, CheckpointOutcome::Kind::kApplied);
  ASSERT_TRUE(store.BeginClosing("t", WindowStartMs(0)).ok());
  EXPECT_EQ(**store.ClosedThrough("t"), WindowStartMs(0)) << "events for it are late from now on";
  // Checkpoint() adds to the window starting at 0.
  EXPECT_EQ(store.Commit("t", Checkpoint(10, 20, {2}))->kind, CheckpointOutcome::Kind::kWindowClosed);
  EXPECT_EQ(**store.Position("t", 0), 10) << "nothing applied";
  EXPECT_EQ(store.ReadWindow("t", WindowStartMs(0))->keys[0].second.events, 1);
  PartitionCheckpoint later = Checkpoint(10, 20, {2});
  later.deltas[0].start = WindowStartMs(60'000);
  EXPECT_EQ(store.Commit("t", later)->kind, CheckpointOutcome::Kind::kApplied);
  // Never moves back; a claim moves it on too.
  ASSERT_TRUE(store.BeginClosing("t", WindowStartMs(-60'000)).ok());
  EXPECT_EQ(**store.ClosedThrough("t"), WindowStartMs(0));
  ASSERT_TRUE(*store.ClaimClose("t", WindowStartMs(60'000)));
  EXPECT_EQ(**store.ClosedThrough("t"), WindowStartMs(60'000));
}

TEST(MemoryStateStore, OnlyOneReplicaClaimsAWindow) {
  MemoryStateStore store;
  EXPECT_TRUE(*store.ClaimClose("t", WindowStartMs(60'000)));
  EXPECT_FALSE(*store.ClaimClose("t", WindowStartMs(60'000)));
  EXPECT_FALSE(*store.ClaimClose("t", WindowStartMs(0)));  // windows close in order
  EXPECT_EQ(**store.ClosedThrough("t"), WindowStartMs(60'000));
}

}  // namespace
}  // namespace burnrate

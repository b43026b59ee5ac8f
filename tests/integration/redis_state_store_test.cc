// RedisStateStore's checkpoint script against the real Redis of the test
// stack, for what the engine tests (on the in-memory store) cannot show:
// the Lua script's own handling of held dead letters.
#include "state/redis_state_store.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/stack.h"

namespace burnrate::testing {
namespace {

class RedisStateStoreTest : public ::testing::Test {
 protected:
  RedisStateStoreTest() {
    RedisStoreOptions options;
    options.host = Stack().redis_host;
    options.port = Stack().redis_port;
    options.key_prefix = prefix_;
    store_ = std::make_unique<RedisStateStore>(options);
  }
  void TearDown() override { client_.DeleteKeysWithPrefix(prefix_); }

  PartitionCheckpoint Checkpoint(std::optional<int64_t> from, int64_t next) {
    PartitionCheckpoint c;
    c.partition = 3;
    c.from = from;
    c.next = next;
    return c;
  }

  const std::string prefix_ = UniqueRedisPrefix();
  RedisClient client_;
  std::unique_ptr<RedisStateStore> store_;
};

using Held = std::vector<std::pair<int64_t, std::string>>;

TEST_F(RedisStateStoreTest, HeldDeadLettersAreStoredWithTheCheckpointAndDroppedOncePublished) {
  PartitionCheckpoint first = Checkpoint(std::nullopt, 10);
  // Two copies of one message at different offsets stay two records.
  first.held_dead_letters = {{7, "7:-1:{\"same\":1}"}, {4, "4:-1:{\"same\":1}"}};
  ASSERT_EQ(store_->Commit("t", first)->kind, CheckpointOutcome::Kind::kApplied);
  EXPECT_EQ(*store_->HeldDeadLetters("t", 3),
            (Held{{4, "4:-1:{\"same\":1}"}, {7, "7:-1:{\"same\":1}"}}));

  // A refused checkpoint changes nothing.
  PartitionCheckpoint stale = Checkpoint(5, 12);
  stale.held_dead_letters_published_below = 10;
  ASSERT_EQ(store_->Commit("t", stale)->kind, CheckpointOutcome::Kind::kStalePosition);
  EXPECT_EQ(store_->HeldDeadLetters("t", 3)->size(), 2u);

  // Published below 5: the record at 4 goes, the one at 7 stays, a new one joins.
  PartitionCheckpoint second = Checkpoint(10, 20);
  second.held_dead_letters_published_below = 5;
  second.held_dead_letters = {{15, "15:2:otlp"}};
  ASSERT_EQ(store_->Commit("t", second)->kind, CheckpointOutcome::Kind::kApplied);
  EXPECT_EQ(*store_->HeldDeadLetters("t", 3), (Held{{7, "7:-1:{\"same\":1}"}, {15, "15:2:otlp"}}));

  PartitionCheckpoint third = Checkpoint(20, 20);
  third.held_dead_letters_published_below = 20;
  ASSERT_EQ(store_->Commit("t", third)->kind, CheckpointOutcome::Kind::kApplied);
  EXPECT_TRUE(store_->HeldDeadLetters("t", 3)->empty());
  EXPECT_TRUE(store_->HeldDeadLetters("t", 4)->empty()) << "another partition has none";
}

TEST_F(RedisStateStoreTest, ACheckpointWithThousandsOfHeldDeadLettersStoresEveryOne) {
  // More than one bulk call's worth (the script adds 500 per ZADD), and an
  // odd count so the last call is a partial one.
  PartitionCheckpoint c = Checkpoint(std::nullopt, 5000);
  Held expected;
  for (int64_t offset = 0; offset < 1201; ++offset) {
    expected.emplace_back(offset, std::to_string(offset) + ":-1:copy");
  }
  c.held_dead_letters = expected;
  ASSERT_EQ(store_->Commit("t", c)->kind, CheckpointOutcome::Kind::kApplied);
  EXPECT_EQ(*store_->HeldDeadLetters("t", 3), expected);
}

}  // namespace
}  // namespace burnrate::testing

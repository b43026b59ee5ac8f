// RedisStateStore's checkpoint script against the real Redis of the test
// stack, for what the engine tests (on the in-memory store) cannot show:
// the Lua script's own handling of held dead letters, and the event-id logs
// that several replicas (several stores) append to and check against.
#include "state/redis_state_store.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <hiredis/hiredis.h>

#include "gtest/gtest.h"
#include "tests/support/redis.h"
#include "tests/support/stack.h"

namespace burnrate::testing {
namespace {

class RedisStateStoreTest : public ::testing::Test {
 protected:
  RedisStateStoreTest() : store_(NewStore()) {}
  void TearDown() override { client_.DeleteKeysWithPrefix(prefix_); }

  // Another replica's store: its own connection and its own copy of the logs.
  std::unique_ptr<RedisStateStore> NewStore() {
    RedisStoreOptions options;
    options.redis.host = Stack().redis_host;
    options.redis.port = Stack().redis_port;
    options.redis.key_prefix = prefix_;
    options.client_name = "state-test-" + std::to_string(stores_++) + "-" + prefix_;
    return std::make_unique<RedisStateStore>(options);
  }

  PartitionCheckpoint Checkpoint(std::optional<int64_t> from, int64_t next, int32_t partition = 3) {
    PartitionCheckpoint c;
    c.partition = partition;
    c.from = from;
    c.next = next;
    return c;
  }

  // A checkpoint of `partition` counting `ids`, all in the minute kMinute.
  PartitionCheckpoint Counting(int32_t partition, std::optional<int64_t> from, int64_t next,
                               const std::vector<uint64_t>& ids) {
    PartitionCheckpoint c = Checkpoint(from, next, partition);
    for (uint64_t id : ids) c.event_ids.emplace_back(kMinute, id);
    return c;
  }

  std::string LogKey() const { return prefix_ + "t:idlog:" + std::to_string(kMinute); }

  // Cuts the connection of the store whose CLIENT SETNAME is `name` (and only
  // it: other tests may share this Redis).
  void KillConnectionNamed(const std::string& name) {
    RedisReplyPtr list = client_.Command("CLIENT LIST TYPE normal");
    ASSERT_EQ(list->type, REDIS_REPLY_STRING);
    const std::string text(list->str, list->len);
    const size_t at = text.find(" name=" + name + " ");
    ASSERT_NE(at, std::string::npos) << text;
    const size_t line = text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
    const size_t id_at = text.find("id=", line) + 3;
    const std::string id = text.substr(id_at, text.find(' ', id_at) - id_at);
    RedisReplyPtr killed = client_.Command("CLIENT KILL ID %s", id.c_str());
    ASSERT_EQ(killed->integer, 1) << "killing client " << id;
  }

  static constexpr int64_t kMinute = 1'793'577'600'000;
  int stores_ = 0;

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
  // About 3.6 MB of records: several chunks (of about 1 MiB each), the last
  // a partial one.
  PartitionCheckpoint c = Checkpoint(std::nullopt, 5000);
  Held expected;
  for (int64_t offset = 0; offset < 3001; ++offset) {
    expected.emplace_back(offset, std::to_string(offset) + ":-1,late,:" + std::string(1200, 'x'));
  }
  c.held_dead_letters = expected;
  ASSERT_EQ(store_->Commit("t", c)->kind, CheckpointOutcome::Kind::kApplied);
  EXPECT_EQ(*store_->HeldDeadLetters("t", 3), expected);
  const std::string key = prefix_ + "t:held:3";
  EXPECT_GT(client_.Command("ZCARD %s", key.c_str())->integer, 1) << "records are stored in chunks";
  EXPECT_LT(client_.Command("ZCARD %s", key.c_str())->integer, 10) << "not one member per record";

  // Published below a chunk's middle: the records below the bound are no
  // longer read, though their chunk stays until all of it is below.
  PartitionCheckpoint next = Checkpoint(5000, 5000);
  next.held_dead_letters_published_below = 1500;
  ASSERT_EQ(store_->Commit("t", next)->kind, CheckpointOutcome::Kind::kApplied);
  EXPECT_EQ(*store_->HeldDeadLetters("t", 3), Held(expected.begin() + 1500, expected.end()));

  PartitionCheckpoint last = Checkpoint(5000, 5000);
  last.held_dead_letters_published_below = 5000;
  ASSERT_EQ(store_->Commit("t", last)->kind, CheckpointOutcome::Kind::kApplied);
  EXPECT_TRUE(store_->HeldDeadLetters("t", 3)->empty());
  EXPECT_EQ(client_.Command("ZCARD %s", key.c_str())->integer, 0) << "every chunk is removed";
}

TEST_F(RedisStateStoreTest, HeldDeadLettersStoredOnePerMemberByAnEarlierVersionAreStillRead) {
  // The layout before chunks: one record per member, scored by its offset.
  const std::string key = prefix_ + "t:held:3";
  client_.Command("ZADD %s 3 %s", key.c_str(), "3:-1:{\"old\":1}");
  PartitionCheckpoint c = Checkpoint(std::nullopt, 10);
  c.held_dead_letters = {{6, "6:-1,late,:{\"new\":1}"}};
  ASSERT_EQ(store_->Commit("t", c)->kind, CheckpointOutcome::Kind::kApplied);
  EXPECT_EQ(*store_->HeldDeadLetters("t", 3),
            (Held{{3, "3:-1:{\"old\":1}"}, {6, "6:-1,late,:{\"new\":1}"}}));
}

TEST_F(RedisStateStoreTest, ACorruptHeldChunkIsAnErrorNotACrash) {
  const std::string key = prefix_ + "t:held:3";
  client_.Command("ZADD %s 9 %s", key.c_str(), "#9 500\ntoo short");
  auto held = store_->HeldDeadLetters("t", 3);
  ASSERT_FALSE(held.ok());
  EXPECT_NE(held.status().message().find("corrupt"), std::string::npos) << held.status();
}

using Kind = CheckpointOutcome::Kind;
using Ids = std::vector<uint64_t>;

TEST_F(RedisStateStoreTest, AnIdCountedByAnotherReplicaIsADuplicate) {
  const auto other = NewStore();
  ASSERT_EQ(store_->Commit("t", Counting(0, std::nullopt, 10, {1, 2}))->kind, Kind::kApplied);

  // The other replica has never seen the log: the script hands it the ids
  // it lacks, and it finds 2 among them. Nothing of its checkpoint is applied.
  auto outcome = other->Commit("t", Counting(1, std::nullopt, 10, {2, 3}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, Kind::kDuplicateEvents);
  EXPECT_EQ(outcome->duplicates, Ids{2});
  EXPECT_EQ(*other->Position("t", 1), std::nullopt);

  // Counted again without the duplicate, it applies.
  ASSERT_EQ(other->Commit("t", Counting(1, std::nullopt, 10, {3}))->kind, Kind::kApplied);
  EXPECT_EQ(*other->Position("t", 1), 10);

  // The first store's copy stops before 3: the script tells it so.
  outcome = store_->Commit("t", Counting(0, 10, 20, {3, 4}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, Kind::kDuplicateEvents);
  EXPECT_EQ(outcome->duplicates, Ids{3});
  EXPECT_EQ(*store_->Position("t", 0), 10);

  // The log holds each counted id once, 8 bytes each.
  RedisReplyPtr length = client_.Command("STRLEN %s", LogKey().c_str());
  EXPECT_EQ(length->integer, 24);
}

TEST_F(RedisStateStoreTest, AnIdInTheReplicasOwnCopyIsADuplicateUnlessThePositionMovedOn) {
  ASSERT_EQ(store_->Commit("t", Counting(0, std::nullopt, 10, {1}))->kind, Kind::kApplied);
  // Another partition of the same replica: found in the copy, no script run.
  auto outcome = store_->Commit("t", Counting(1, std::nullopt, 5, {1, 9}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, Kind::kDuplicateEvents);
  EXPECT_EQ(outcome->duplicates, Ids{1});
  // The same offsets offered again (a retry whose first reply was lost): the
  // ids are in the copy because this very checkpoint applied them, and the
  // answer must be the moved position, not duplicates.
  outcome = store_->Commit("t", Counting(0, std::nullopt, 10, {1}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, Kind::kStalePosition);
}

TEST_F(RedisStateStoreTest, ALogThatShrankIsReadAgainSoForgottenIdsCountOnceMore) {
  const auto other = NewStore();
  ASSERT_EQ(store_->Commit("t", Counting(0, std::nullopt, 10, {1, 2}))->kind, Kind::kApplied);
  // The minute's log expires, and another replica starts it again.
  client_.Command("DEL %s", LogKey().c_str());
  ASSERT_EQ(other->Commit("t", Counting(1, std::nullopt, 10, {5}))->kind, Kind::kApplied);

  // The first store expected 16 bytes and finds 8: it copies the log anew,
  // catches 5, and no longer holds 1 and 2.
  auto outcome = store_->Commit("t", Counting(0, 10, 20, {5, 6}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, Kind::kDuplicateEvents);
  EXPECT_EQ(outcome->duplicates, Ids{5});
  ASSERT_EQ(store_->Commit("t", Counting(0, 10, 20, {1, 6}))->kind, Kind::kApplied);
  RedisReplyPtr length = client_.Command("STRLEN %s", LogKey().c_str());
  EXPECT_EQ(length->integer, 24);
}

TEST_F(RedisStateStoreTest, IdsInTheSetsOfTheEarlierLayoutStillCountAsDuplicates) {
  // Written by a version that kept one set member per id, before an upgrade.
  const uint64_t earlier = 7;
  const std::string old_key = prefix_ + "t:ids:" + std::to_string(kMinute);
  client_.Command("SADD %s %b", old_key.c_str(), reinterpret_cast<const char*>(&earlier), sizeof earlier);

  Ids many;  // more than one SMISMEMBER batch of the script (1000)
  for (uint64_t id = 100; id < 2600; ++id) many.push_back(id);
  many.push_back(earlier);
  auto outcome = store_->Commit("t", Counting(0, std::nullopt, 10, many));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, Kind::kDuplicateEvents);
  EXPECT_EQ(outcome->duplicates, Ids{earlier});
  many.pop_back();
  ASSERT_EQ(store_->Commit("t", Counting(0, std::nullopt, 10, many))->kind, Kind::kApplied);
  RedisReplyPtr length = client_.Command("STRLEN %s", LogKey().c_str());
  EXPECT_EQ(length->integer, static_cast<long long>(many.size() * sizeof(uint64_t)));
}

TEST_F(RedisStateStoreTest, ACheckpointAddingToAWindowBeingClosedIsRefusedWithNothingChanged) {
  const auto closer = NewStore();  // the closer's own connection, as in `burnrate run`
  const auto adding_to = [this](int64_t start, std::optional<int64_t> from, int64_t next,
                                uint64_t id) {
    PartitionCheckpoint c = Counting(0, from, next, {id});
    WindowDelta d;
    d.start = WindowStartMs(start);
    d.key = "acme";
    d.totals.events = 1;
    c.deltas.push_back(d);
    return c;
  };
  ASSERT_EQ(store_->Commit("t", adding_to(kMinute, std::nullopt, 1, 1))->kind, Kind::kApplied);
  ASSERT_TRUE(closer->BeginClosing("t", WindowStartMs(kMinute)).ok());
  EXPECT_EQ(*store_->ClosedThrough("t"), std::optional<WindowStartMs>(WindowStartMs(kMinute)));
  auto refused = store_->Commit("t", adding_to(kMinute, 1, 2, 2));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->kind, Kind::kWindowClosed);
  EXPECT_EQ(*store_->Position("t", 0), std::optional<int64_t>(1));
  EXPECT_EQ(store_->ReadWindow("t", WindowStartMs(kMinute))->keys.at(0).second.events, 1);
  RedisReplyPtr length = client_.Command("STRLEN %s", LogKey().c_str());
  EXPECT_EQ(length->integer, 8) << "the refused checkpoint's id is not recorded";

  // The next window is open; the mark never moves back; a claim moves it on.
  EXPECT_EQ(store_->Commit("t", adding_to(kMinute + 60'000, 1, 2, 2))->kind, Kind::kApplied);
  ASSERT_TRUE(closer->BeginClosing("t", WindowStartMs(kMinute - 60'000)).ok());
  EXPECT_EQ(*store_->ClosedThrough("t"), std::optional<WindowStartMs>(WindowStartMs(kMinute)));
  ASSERT_TRUE(*closer->ClaimClose("t", WindowStartMs(kMinute + 60'000)));
  EXPECT_EQ(*store_->ClosedThrough("t"), std::optional<WindowStartMs>(WindowStartMs(kMinute + 60'000)));
  EXPECT_EQ(store_->Commit("t", adding_to(kMinute + 60'000, 2, 3, 3))->kind, Kind::kWindowClosed)
      << "'closed' alone refuses too (state written before 'closing' existed)";
}

TEST_F(RedisStateStoreTest, AMinutesIdLogLastsUntilAWindowAHorizonPastItIsClosed) {
  // A partition that lags (a stalled consumer, a replica counting a backlog
  // again and again) may offer a copy of an event long after its original
  // was counted: the minute's ids must still be there, however much wall
  // time passed. Only closing a window a dedup horizon past the minute (an
  // event of that minute is then late on every partition) drops them.
  const auto closer = NewStore();
  const auto other = NewStore();
  constexpr int64_t kHorizon = RedisStoreOptions{}.dedup_horizon_ms;
  ASSERT_EQ(store_->Commit("t", Counting(0, std::nullopt, 10, {1, 2}))->kind, Kind::kApplied);
  RedisReplyPtr ttl = client_.Command("PTTL %s", LogKey().c_str());
  EXPECT_GT(ttl->integer, 47LL * 3'600'000) << "the windows' retention, not the dedup horizon";

  // The window that starts a horizon after the minute began does not drop it.
  ASSERT_TRUE(*closer->ClaimClose("t", WindowStartMs(kMinute + kHorizon)));
  auto outcome = other->Commit("t", Counting(1, std::nullopt, 10, {2, 3}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, Kind::kDuplicateEvents);
  EXPECT_EQ(outcome->duplicates, Ids{2});

  // The one a horizon after the minute's end does.
  ASSERT_TRUE(*closer->ClaimClose("t", WindowStartMs(kMinute + 60'000 + kHorizon)));
  EXPECT_EQ(client_.Command("EXISTS %s", LogKey().c_str())->integer, 0);
  EXPECT_EQ(client_.Command("ZCARD %s", (prefix_ + "t:idlogs").c_str())->integer, 0);
}

TEST_F(RedisStateStoreTest, AReplicaThatReconnectsRebuildsItsCopyFromRedis) {
  ASSERT_EQ(store_->Commit("t", Counting(0, std::nullopt, 10, {1, 2}))->kind, Kind::kApplied);
  // Redis forgets the log while the connection is cut (a restart that lost
  // its last writes does both).
  client_.Command("DEL %s", LogKey().c_str());
  KillConnectionNamed("state-test-0-" + prefix_);
  // The first command after the cut fails and drops the connection.
  EXPECT_FALSE(store_->Ping().ok());
  auto outcome = store_->Commit("t", Counting(1, std::nullopt, 10, {1}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, Kind::kApplied) << "1 is no longer in Redis, so it is not a duplicate";
}

}  // namespace
}  // namespace burnrate::testing

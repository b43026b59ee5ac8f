// The Redis outbox's contract on the real Redis: Enqueue is idempotent per
// transition, a claimed delivery is not handed to a second claimer (another
// replica) until its lease runs out, a done delivery is never created again,
// and a replay after a restart finds everything where it was.
#include "alerting/redis_outbox.h"

#include <gtest/gtest.h>

#include "tests/alerting/test_alerts.h"
#include "tests/support/stack.h"

namespace burnrate {
namespace {

using testing::MakeTestAlert;

class RedisOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& stack = testing::Stack();
    options_.redis.host = stack.redis_host;
    options_.redis.port = stack.redis_port;
    options_.redis.key_prefix = testing::UniqueRedisPrefix();
  }
  void TearDown() override {
    testing::RedisClient().DeleteKeysWithPrefix(options_.redis.key_prefix);
  }
  std::unique_ptr<RedisAlertOutbox> Connect() {
    auto o = RedisAlertOutbox::Connect(options_, &clock_);
    EXPECT_TRUE(o.ok()) << o.status();
    return o.ok() ? std::move(*o) : nullptr;
  }

  ManualAlertClock clock_{1'795'000'000'000};
  AlertRedisOptions options_;
};

TEST_F(RedisOutboxTest, EnqueueIsIdempotentPerTransition) {
  auto outbox = Connect();
  ASSERT_TRUE(outbox);
  ASSERT_TRUE(outbox->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(outbox->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(outbox->Enqueue(MakeTestAlert("a1", AlertStatus::kResolved)).ok());
  auto incoming = outbox->PeekIncoming(10);
  ASSERT_TRUE(incoming.ok());
  ASSERT_EQ(incoming->size(), 2u);
  // Stored at full precision, not as rounded for humans.
  Alert precise = MakeTestAlert("p");
  precise.observed = 1.0 / 3.0;
  ASSERT_TRUE(outbox->Enqueue(precise).ok());
  incoming = outbox->PeekIncoming(10);
  ASSERT_TRUE(incoming.ok());
  EXPECT_EQ(incoming->back().first.observed, 1.0 / 3.0);
  EXPECT_EQ(incoming->back().second, clock_.NowMs());
}

TEST_F(RedisOutboxTest, AClaimIsExclusiveUntilItsLeaseEnds) {
  auto replica_a = Connect();
  auto replica_b = Connect();
  ASSERT_TRUE(replica_a && replica_b);
  ASSERT_TRUE(replica_a->Enqueue(MakeTestAlert("a1")).ok());
  const int64_t now = clock_.NowMs();
  ASSERT_TRUE(replica_a->Route("a1:firing", now, {{"r", now, 0}}).ok());
  auto a = replica_a->Claim("r", now, 30'000, 8);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ(a->front().id, "a1:firing|r");
  auto b = replica_b->Claim("r", now + 29'000, 30'000, 8);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->empty());
  // Replica A died mid-send: after the lease, B takes over.
  b = replica_b->Claim("r", now + 30'000, 30'000, 8);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);
  ASSERT_TRUE(replica_b->Complete(b->front(), -1).ok());
  // Routing the same transition again (a replay) creates nothing.
  ASSERT_TRUE(replica_a->Route("a1:firing", now, {{"r", now, 0}}).ok());
  auto again = replica_a->Claim("r", now + 1'000'000, 30'000, 8);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  auto counts = replica_a->Counts({"r"});
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->firing, 1);
}

TEST_F(RedisOutboxTest, FailedAttemptsAndDeadLettersSurviveAReconnect) {
  {
    auto outbox = Connect();
    ASSERT_TRUE(outbox);
    ASSERT_TRUE(outbox->Enqueue(MakeTestAlert("a1")).ok());
    ASSERT_TRUE(outbox->Route("a1:firing", clock_.NowMs(), {{"r", clock_.NowMs(), 0}}).ok());
    auto claimed = outbox->Claim("r", clock_.NowMs(), 1000, 8);
    ASSERT_TRUE(claimed.ok() && claimed->size() == 1);
    ASSERT_TRUE(outbox->Reschedule(claimed->front(), clock_.NowMs() + 5000, /*failed=*/true).ok());
  }
  auto outbox = Connect();  // "restarted"
  ASSERT_TRUE(outbox);
  auto claimed = outbox->Claim("r", clock_.NowMs() + 5000, 1000, 8);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().attempts, 1);
  EXPECT_EQ(claimed->front().alert.alert_id, "a1");
  ASSERT_TRUE(outbox->DeadLetter(claimed->front(), "HTTP 404", clock_.NowMs()).ok());
  auto dead = outbox->DeadLetters(10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_NE(dead->front().find("HTTP 404"), std::string::npos);
  auto counts = outbox->Counts({"r"});
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->dead_letters, 1);
}

TEST_F(RedisOutboxTest, UnreachableRedisIsAnErrorNotAHang) {
  AlertRedisOptions bad = options_;
  bad.redis.port = 1;  // nothing listens there
  bad.redis.timeout_ms = 500;
  auto o = RedisAlertOutbox::Connect(bad);
  ASSERT_FALSE(o.ok());
  EXPECT_TRUE(absl::IsUnavailable(o.status())) << o.status();
}

}  // namespace
}  // namespace burnrate

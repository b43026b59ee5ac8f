// Round trips against the real Redis of the test stack, through hiredis the
// way the state module talks to it: binary-safe values, pipelining and Lua.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/stack.h"

namespace burnrate::testing {
namespace {

class RedisRoundTripTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Leave nothing behind for tests sharing this Redis.
    client_.DeleteKeysWithPrefix(prefix_);
    RedisReplyPtr left =
        client_.CommandArgv({"SCAN", "0", "MATCH", prefix_ + "*", "COUNT", "1000"});
    ASSERT_EQ(left->type, REDIS_REPLY_ARRAY);
    EXPECT_EQ(left->element[1]->elements, 0u) << "keys left under " << prefix_;
  }

  std::string Key(const std::string& name) const { return prefix_ + name; }

  RedisClient client_;
  const std::string prefix_ = UniqueRedisPrefix();
};

TEST_F(RedisRoundTripTest, SetGetIsBinarySafe) {
  // NUL bytes, high bytes and CR/LF must survive: event payloads and encoded
  // state are stored as raw bytes.
  constexpr char kRaw[] = "head\0mid\r\n\xff\xfe tail\0";
  const std::string value(kRaw, sizeof kRaw - 1);
  const std::string key = Key("binary");

  RedisReplyPtr set =
      client_.Command("SET %b %b", key.data(), key.size(), value.data(), value.size());
  ASSERT_EQ(set->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(set->str, set->len), "OK");

  RedisReplyPtr get = client_.Command("GET %b", key.data(), key.size());
  ASSERT_EQ(get->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(get->str, get->len), value);

  RedisReplyPtr strlen = client_.CommandArgv({"STRLEN", key});
  ASSERT_EQ(strlen->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(strlen->integer, static_cast<long long>(value.size()));
}

TEST_F(RedisRoundTripTest, PipelinedHincrbyBatchSumsExactly) {
  constexpr int kCommands = 10'000;
  constexpr int kFields = 16;
  const std::string key = Key("counters");

  // All commands go out before any reply is read: one round trip's worth of
  // latency for the batch, as the state store flushes windows.
  for (int i = 1; i <= kCommands; ++i) {
    const std::string field = "f" + std::to_string(i % kFields);
    ASSERT_EQ(redisAppendCommand(client_.get(), "HINCRBY %b %b %d", key.data(), key.size(),
                                 field.data(), field.size(), i),
              REDIS_OK);
  }
  std::vector<int64_t> expected(kFields, 0);
  for (int i = 1; i <= kCommands; ++i) {
    void* raw = nullptr;
    ASSERT_EQ(redisGetReply(client_.get(), &raw), REDIS_OK) << client_.get()->errstr;
    RedisReplyPtr reply(static_cast<redisReply*>(raw));
    ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER) << "reply " << i;
    // Replies come back in order, each the field's running total.
    expected[i % kFields] += i;
    ASSERT_EQ(reply->integer, expected[i % kFields]) << "reply " << i;
  }

  RedisReplyPtr all = client_.Command("HGETALL %b", key.data(), key.size());
  ASSERT_EQ(all->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(all->elements, 2u * kFields);
  int64_t sum = 0;
  for (size_t i = 0; i < all->elements; i += 2) {
    sum += std::stoll(std::string(all->element[i + 1]->str, all->element[i + 1]->len));
  }
  EXPECT_EQ(sum, int64_t{kCommands} * (kCommands + 1) / 2);  // 50,005,000
}

TEST_F(RedisRoundTripTest, EvalRunsLuaAtomically) {
  // Check-and-add, the shape of an idempotent state write: the increment
  // applies only once per id, however often it is replayed.
  const char* script = R"lua(
    if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
      return {1, redis.call('INCRBY', KEYS[2], ARGV[2])}
    end
    return {0, tonumber(redis.call('GET', KEYS[2]))}
  )lua";
  const std::string seen = Key("seen");
  const std::string total = Key("total");

  auto apply = [&](const std::string& id, int amount) {
    return client_.CommandArgv({"EVAL", script, "2", seen, total, id, std::to_string(amount)});
  };
  struct Step {
    std::string id;
    int amount;
    int64_t applied;
    int64_t total;
  };
  const std::vector<Step> steps = {
      {"e-1", 5, 1, 5}, {"e-2", 7, 1, 12}, {"e-1", 5, 0, 12}, {"e-3", 1, 1, 13}};
  for (const Step& step : steps) {
    RedisReplyPtr reply = apply(step.id, step.amount);
    ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY)
        << (reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "");
    ASSERT_EQ(reply->elements, 2u);
    ASSERT_EQ(reply->element[0]->type, REDIS_REPLY_INTEGER);
    ASSERT_EQ(reply->element[1]->type, REDIS_REPLY_INTEGER);
    EXPECT_EQ(reply->element[0]->integer, step.applied) << step.id;
    EXPECT_EQ(reply->element[1]->integer, step.total) << step.id;
  }

  RedisReplyPtr error = client_.CommandArgv({"EVAL", "return redis.call('NOSUCHCOMMAND')", "0"});
  EXPECT_EQ(error->type, REDIS_REPLY_ERROR);
}

}  // namespace
}  // namespace burnrate::testing

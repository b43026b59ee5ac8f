// `burnrate run` when the state store falls behind: messages whose state is
// not durable are kept in memory, and at `max_pending_bytes` the replica
// pauses its partitions instead of growing. Redis's writes are held with
// CLIENT PAUSE ... WRITE (reads, and so the replica's start-up, go on), which
// affects every client of the stack's Redis: this test runs alone
// (RUN_ALONE in CMakeLists.txt).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/time_format.h"
#include "tests/integration/run_harness.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"
#include "tests/support/redis.h"
#include "tests/support/stack.h"
#include "tests/support/wait.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ChildProcessOptions;
using testing::HttpGet;
using testing::WaitFor;

constexpr char kBurnrate[] = BURNRATE_BIN;

// About 2 KB: one tenant, one window.
std::string Event(int i, int64_t ts_ms) {
  return testing::FlatEvent("bp-" + std::to_string(i), ts_ms, "\"note\":\"" + std::string(1800, 'n') + "\"");
}

double Consumed(int port) {
  const auto metrics = HttpGet(port, "/metrics");
  if (metrics.status != 200) return -1;
  return testing::MetricSum(metrics.body, "burnrate_messages_consumed_total").value_or(-1);
}

// Ends a CLIENT PAUSE even when an assertion returns early.
struct UnpauseOnExit {
  testing::RedisClient& redis;
  ~UnpauseOnExit() { redis.Command("CLIENT UNPAUSE"); }
};

TEST(RunBackPressureTest, PausesAtMaxPendingBytesWhileRedisWritesArePausedAndLosesNothing) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "backpressure");
  const std::string prefix = testing::UniqueRedisPrefix();
  const int64_t window_start = (WallClockMs() - 120'000) / 60'000 * 60'000;
  testing::Produce(topic, {Event(0, window_start + 1'000)});

  const int port = testing::FreeLoopbackPort();
  const std::string config = dir.File("replica.yaml");
  testing::WriteReplicaConfig(config, {topic, topic + "-group", prefix, port, "max_pending_bytes: 1048576\n"});
  ChildProcessOptions options;
  options.argv = {kBurnrate, "run", "--config", config};
  options.stderr_path = dir.File("replica.log");
  options.stdout_path = dir.File("replica.stdout");
  ChildProcess replica(std::move(options));
  ASSERT_TRUE(WaitFor([&] { return Consumed(port) == 1; }, 60s, "the first message consumed"))
      << replica.ReadStderr();

  // Redis takes no writes for up to 30 s: no checkpoint can be applied.
  testing::RedisClient redis;
  ASSERT_EQ(redis.Command("CLIENT PAUSE 30000 WRITE")->type, REDIS_REPLY_STATUS);
  UnpauseOnExit unpause{redis};
  constexpr int kEvents = 4000;  // about 8 MB, eight times the bound
  std::vector<std::string> events;
  for (int i = 1; i <= kEvents; ++i) events.push_back(Event(i, window_start + 2'000 + i));
  testing::Produce(topic, events);

  ASSERT_TRUE(WaitFor(
      [&] { return replica.ReadStderr().find("state store behind; pausing consumption") != std::string::npos; },
      20s, "consumption paused"))
      << replica.ReadStderr();
  // It stops near the bound (1 MiB is about 520 of these messages), well
  // short of the 4,000 waiting; and it stays there while Redis is paused.
  double consumed = 0;
  ASSERT_TRUE(WaitFor([&] { return (consumed = Consumed(port)) > 1; }, 5s, "the metrics published"));
  EXPECT_LT(consumed, 1500) << replica.ReadStderr();
  std::this_thread::sleep_for(2s);  // a span in which it must not move
  EXPECT_EQ(Consumed(port), consumed) << "consumption resumed while Redis was still paused";

  redis.Command("CLIENT UNPAUSE");
  ASSERT_TRUE(WaitFor([&] { return Consumed(port) == kEvents + 1; }, 60s, "every message consumed"))
      << replica.ReadStderr();
  EXPECT_NE(replica.ReadStderr().find("resuming consumption"), std::string::npos);

  // The window's row counts every event once: nothing was lost or counted
  // twice across the pause (the partition goes idle, and the group closes it).
  const std::vector<testing::KafkaRecord> rows = testing::WaitForKeyWindowRows(topic, replica);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].value.find("\"events\":" + std::to_string(kEvents + 1) + ","), std::string::npos)
      << rows[0].value;

  replica.Kill(SIGTERM);
  const auto stopped = replica.Wait(60s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_TRUE(stopped->ok()) << stopped->ToString() << "\n" << replica.ReadStderr();
}

}  // namespace
}  // namespace burnrate

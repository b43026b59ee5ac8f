// `burnrate run`'s dead letters against a real broker and Redis. When they
// cannot be delivered for good (a dead letter too large for the dead-letter
// topic, or a dead-letter topic that does not exist), the replica must neither make the offsets of that message durable
// nor carry on past it: it stops with an error, and restarted with a
// dead-letter topic that takes the record, it reads the message again and
// delivers it. Also: an oversized message's head, a message the decoder
// once threw on, a late event's dead letter, which waits in Redis for its
// checkpoint, and a backlog of old events, whose dead letters all pass
// through Redis that way.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <random>
#include <string>
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
using testing::StopCleanly;
using testing::WaitFor;
using testing::WaitForDeadLetters;

constexpr char kBurnrate[] = BURNRATE_BIN;

std::string Event(int i, int64_t ts_ms) { return testing::FlatEvent("dl-" + std::to_string(i), ts_ms); }

// One replica of `config`, its config and log files in `dir` named after `name`.
std::unique_ptr<ChildProcess> StartReplica(testing::ScratchDir& dir,
                                           const testing::ReplicaConfig& config,
                                           const std::string& name = "replica") {
  const std::string path = dir.File(name + ".yaml");
  testing::WriteReplicaConfig(path, config);
  ChildProcessOptions options;
  options.argv = {kBurnrate, "run", "--config", path};
  options.stderr_path = dir.File(name + ".log");
  options.stdout_path = dir.File(name + ".stdout");
  return std::make_unique<ChildProcess>(std::move(options));
}

// One replica of the harness's config on `topic`, logging into `dir`.
std::unique_ptr<ChildProcess> StartReplica(testing::ScratchDir& dir, const std::string& topic,
                                           const std::string& prefix, int http_port,
                                           const std::string& extra_yaml = "") {
  return StartReplica(dir, {topic, topic + "-group", prefix, http_port, extra_yaml});
}

TEST(RunDeadLetterTest, ADeadLetterRefusedForGoodStopsTheReplicaAndIsDeliveredAfterARestart) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "dlfail");
  // A dead-letter topic that refuses records over 2000 bytes.
  const std::string small_dead = testing::CreateTopic(1, "dlsmall", {{"max.message.bytes", "2000"}});
  const std::string good_dead = testing::CreateTopic(1, "dlgood");
  const std::string prefix = testing::UniqueRedisPrefix();

  const int64_t now_ms = WallClockMs();
  // Five events, a 10 kB line that is not JSON, five more events. The line
  // is random letters: the producer compresses its batches, and the topic's
  // limit applies to the compressed batch.
  std::string bad = "{\"event_id\": \"broken\", ";
  std::mt19937 random(7);
  std::uniform_int_distribution<int> letter(0, 61);
  constexpr char kLetters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int i = 0; i < 10'000; ++i) bad.push_back(kLetters[letter(random)]);
  std::vector<std::string> lines;
  for (int i = 0; i < 5; ++i) lines.push_back(Event(i, now_ms - 60'000 + i));
  lines.push_back(bad);
  for (int i = 5; i < 10; ++i) lines.push_back(Event(i, now_ms - 60'000 + i));
  testing::Produce(topic, lines);

  const auto start_replica = [&](const std::string& name, const std::string& dead_letter_topic,
                                 int http_port) {
    return StartReplica(dir, {topic, topic + "-group", prefix, http_port, "", dead_letter_topic},
                        name);
  };

  // The broker refuses the dead letter: the replica stops with an error.
  auto first = start_replica("first", small_dead, testing::FreeLoopbackPort());
  const auto exited = first->Wait(90s);
  ASSERT_TRUE(exited.has_value()) << "the replica kept running: " << first->ReadStderr();
  EXPECT_EQ(exited->ToString(), "exit 1") << first->ReadStderr();
  const std::string log = first->ReadStderr();
  EXPECT_NE(log.find("dead letters could not be delivered"), std::string::npos) << log;
  EXPECT_NE(log.find(small_dead), std::string::npos) << "the error names the topic: " << log;

  // Restarted with a topic that takes the record: the message is read
  // again and its dead letter delivered, byte for byte.
  const int port = testing::FreeLoopbackPort();
  auto second = start_replica("second", good_dead, port);
  std::vector<std::pair<std::string, std::string>> dead;
  ASSERT_TRUE(WaitFor(
      [&] {
        dead = testing::ReadAll(good_dead, 10s);
        return !dead.empty();
      },
      90s, "the dead letter delivered"))
      << second->ReadStderr();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].second, bad);
  EXPECT_EQ(dead[0].first, topic + "/0/5");  // where it came from
  // The restarted replica read the refused message itself, and the events
  // after it (the first replica may have made the five before it durable).
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto metrics = HttpGet(port, "/metrics");
        return metrics.status == 200 &&
               testing::MetricSum(metrics.body, "burnrate_events_dead_lettered_total").value_or(0) == 1 &&
               testing::MetricSum(metrics.body, "burnrate_events_decoded_total").value_or(0) >= 5;
      },
      60s, "the message dead-lettered and the events after it decoded"))
      << second->ReadStderr();
  second->Kill(SIGTERM);
  const auto stopped = second->Wait(60s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_TRUE(stopped->ok()) << stopped->ToString() << "\n" << second->ReadStderr();
}

// A dead-letter topic that does not exist, where nothing creates topics on
// first use (a broker without auto-creation; here the replica's producer is
// told not to ask for it): the replica warns at start-up, waits librdkafka's
// topic.metadata.propagation.max.ms for the topic once it has a dead letter,
// then stops with an error naming the topic, and makes nothing durable from
// the refused message on. Once the topic is created, a restart delivers the
// dead letter and counts the events after it.
TEST(RunDeadLetterTest, AMissingDeadLetterTopicStopsTheReplicaUntilItIsCreated) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "dlmissing");
  testing::CreateNamedTopic(topic + "-windows", 1);
  const std::string dead_topic = testing::UniqueTopicName("dlmissing-dead");
  const std::string prefix = testing::UniqueRedisPrefix();
  const int64_t now_ms = WallClockMs();
  const std::string bad = "{\"event_id\": \"cut short";
  std::vector<std::string> lines;
  for (int i = 0; i < 3; ++i) lines.push_back(Event(i, now_ms - 60'000 + i));
  lines.push_back(bad);  // offset 3
  for (int i = 3; i < 6; ++i) lines.push_back(Event(i, now_ms - 60'000 + i));
  testing::Produce(topic, lines);

  testing::ReplicaConfig config{topic, topic + "-group", prefix, testing::FreeLoopbackPort(), ""};
  config.dead_letter_topic = dead_topic;
  config.kafka_properties = {{"allow.auto.create.topics", "false"},
                             {"topic.metadata.propagation.max.ms", "3000"}};
  auto first = StartReplica(dir, config, "first");
  const auto exited = first->Wait(90s);
  ASSERT_TRUE(exited.has_value()) << "the replica kept running: " << first->ReadStderr();
  EXPECT_EQ(exited->ToString(), "exit 1") << first->ReadStderr();
  const std::string log = first->ReadStderr();
  EXPECT_NE(log.find("kafka topic " + dead_topic + ": Broker: Unknown topic or partition"),
            std::string::npos)
      << "the start-up lookup names the problem: " << log;
  EXPECT_NE(log.find("dead letters could not be delivered"), std::string::npos) << log;
  EXPECT_NE(log.find(dead_topic + ": Local: Unknown topic"), std::string::npos) << log;
  // The events before the bad message may be durable; nothing from it on.
  testing::RedisClient redis;
  const auto position = redis.Command("HGET %s 0", (prefix + topic + ":pos").c_str());
  ASSERT_TRUE(position);
  if (position->type == REDIS_REPLY_STRING) {
    EXPECT_LE(std::stoll(position->str), 3) << "the position moved past the refused message";
  } else {
    EXPECT_EQ(position->type, REDIS_REPLY_NIL);
  }

  testing::CreateNamedTopic(dead_topic, 1);
  config.http_port = testing::FreeLoopbackPort();
  auto second = StartReplica(dir, config, "second");
  const auto dead = WaitForDeadLetters(topic, *second, 1, dead_topic);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, bad);
  EXPECT_EQ(dead[0].key, topic + "/0/3");
  EXPECT_EQ(dead[0].headers.at("burnrate.reason"), "malformed_json");
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto answer = redis.Command("HGET %s 0", (prefix + topic + ":pos").c_str());
        return answer && answer->type == REDIS_REPLY_STRING && std::stoll(answer->str) == 7;
      },
      60s, "every message durable"))
      << second->ReadStderr();
  StopCleanly(*second);
}

TEST(RunDeadLetterTest, AnOversizedMessageIsDeadLetteredWithItsHeadAndItsSize) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "dloversized");
  const std::string prefix = testing::UniqueRedisPrefix();
  const int64_t now_ms = WallClockMs();
  // Messages over 1000 bytes are oversized here; this one is 5000.
  std::string oversized = Event(0, now_ms - 60'000);
  oversized.insert(oversized.size() - 1, ",\"note\":\"" + std::string(5000 - oversized.size() - 10, 'n') + "\"");
  ASSERT_EQ(oversized.size(), 5000u);
  testing::Produce(topic, {oversized, Event(1, now_ms - 60'000)});

  const auto replica = StartReplica(dir, topic, prefix, testing::FreeLoopbackPort(),
                                    "decoder:\n  max_message_bytes: 1000\n");
  auto dead = WaitForDeadLetters(topic, *replica);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, oversized.substr(0, 1000)) << "the head, as much as a message may be";
  EXPECT_EQ(dead[0].headers["burnrate.reason"], "oversized");
  EXPECT_EQ(dead[0].headers["burnrate.original_bytes"], "5000");
  StopCleanly(*replica);
}

// Tokens that only start like null once made the decoder throw, which
// aborted the replica on every start (the message was never committed).
// They are malformed JSON: dead-lettered, and the replica runs on.
TEST(RunDeadLetterTest, ATokenThatOnlyStartsLikeNullIsDeadLetteredAndTheReplicaRunsOn) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "dlnull");
  const std::string prefix = testing::UniqueRedisPrefix();
  const int64_t now_ms = WallClockMs();
  const std::string in_a_count =
      testing::FlatEvent("dl-0", now_ms - 60'000, R"("cache_read_tokens":nope)");
  const std::string in_a_layer =
      testing::FlatEvent("dl-1", now_ms - 60'000, R"("layers":{"prompt":nah})");
  testing::Produce(topic, {in_a_count, Event(2, now_ms - 60'000), in_a_layer});

  const auto replica = StartReplica(dir, topic, prefix, testing::FreeLoopbackPort());
  auto dead = WaitForDeadLetters(topic, *replica, 2);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].value, in_a_count);
  EXPECT_EQ(dead[1].value, in_a_layer);
  for (auto& record : dead) EXPECT_EQ(record.headers["burnrate.reason"], "malformed_json");
  StopCleanly(*replica);
}

TEST(RunDeadLetterTest, AnEventForAWindowTheGroupClosedIsDeadLetteredLateOnceItsCheckpointIsApplied) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "dllate");
  const std::string prefix = testing::UniqueRedisPrefix();
  const int64_t window_start = (WallClockMs() - 120'000) / 60'000 * 60'000;
  testing::Produce(topic, {Event(0, window_start + 1'000)});

  const int port = testing::FreeLoopbackPort();
  const auto replica = StartReplica(dir, topic, prefix, port);

  // The only partition goes idle (3 s), so the group closes the window.
  const std::vector<testing::KafkaRecord> rows = testing::WaitForKeyWindowRows(topic, *replica);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].value.find("\"events\":1,"), std::string::npos) << rows[0].value;

  // The producer wakes up with an event for that window: late.
  const std::string late = Event(1, window_start + 2'000);
  testing::Produce(topic, {late});
  auto dead = WaitForDeadLetters(topic, *replica);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, late);
  EXPECT_EQ(dead[0].key, topic + "/0/1");
  EXPECT_EQ(dead[0].headers["burnrate.reason"], "late");
  EXPECT_EQ(dead[0].headers["burnrate.detail"], "window closed");
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto metrics = HttpGet(port, "/metrics");
        return metrics.status == 200 &&
               testing::MetricSum(metrics.body, "burnrate_events_late_total").value_or(0) == 1;
      },
      30s, "the late event counted"))
      << replica->ReadStderr();
  StopCleanly(*replica);
  EXPECT_EQ(testing::KeyWindowRows(topic).size(), 1u) << "the window was not published again";
}

TEST(RunDeadLetterTest, ABacklogOfOldEventsIsDeadLetteredInFullAndLeavesNothingHeldInRedis) {
  // Events 40 days old (the harness allows 30): every one is dead-lettered
  // as out of range, held in Redis with its checkpoint (in chunks of about
  // 1 MiB; these are about 4 MB) and published once that is applied.
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "dlold");
  const std::string prefix = testing::UniqueRedisPrefix();
  const int64_t old_ms = WallClockMs() - 40LL * 86'400'000;
  constexpr int kEvents = 4000;
  std::vector<std::string> events;
  for (int i = 0; i < kEvents; ++i) {
    events.push_back(testing::FlatEvent("dl-" + std::to_string(i), old_ms + i,
                                        "\"note\":\"" + std::string(1000, 'o') + "\""));
  }
  testing::Produce(topic, events);

  const int port = testing::FreeLoopbackPort();
  const auto replica = StartReplica(dir, topic, prefix, port);
  std::vector<testing::KafkaRecord> dead;
  ASSERT_TRUE(WaitFor(
      [&] {
        dead = testing::ReadAllRecords(topic + "-dead", 5s);
        return dead.size() >= static_cast<size_t>(kEvents);
      },
      120s, "every old event dead-lettered"))
      << dead.size() << " dead letters\n" << replica->ReadStderr();
  ASSERT_EQ(dead.size(), static_cast<size_t>(kEvents)) << "each once";
  // The dead-letter topic has several partitions: match them by key
  // ("<topic>/<partition>/<offset>") to the messages at those offsets.
  std::map<std::string, const testing::KafkaRecord*> by_key;
  for (const auto& d : dead) by_key[d.key] = &d;
  ASSERT_EQ(by_key.size(), static_cast<size_t>(kEvents)) << "no message twice";
  const auto source = testing::ReadAll(topic, 5s);
  ASSERT_EQ(source.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    const auto it = by_key.find(topic + "/0/" + std::to_string(i));
    ASSERT_NE(it, by_key.end()) << "no dead letter for offset " << i;
    ASSERT_EQ(it->second->value, source[i].second) << i;
    ASSERT_EQ(it->second->headers.at("burnrate.reason"), "timestamp_out_of_range") << i;
  }

  // Once published, a later checkpoint removes them from the store.
  testing::RedisClient redis;
  const std::string held_key = prefix + topic + ":held:0";
  ASSERT_TRUE(WaitFor(
      [&] { return redis.Command("ZCARD %s", held_key.c_str())->integer == 0; }, 30s,
      "the held dead letters removed from Redis"))
      << replica->ReadStderr();
  StopCleanly(*replica);
  EXPECT_EQ(testing::ReadAllRecords(topic + "-dead", 5s).size(), static_cast<size_t>(kEvents))
      << "none published again on stopping";
}

}  // namespace
}  // namespace burnrate

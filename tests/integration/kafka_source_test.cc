// KafkaSource, the engine's consumer-group member, against the real broker:
// what the engine relies on from it beyond delivering messages.
#include "consumers/kafka_source.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/captured_log.h"
#include "tests/support/kafka.h"
#include "tests/support/stack.h"
#include "tests/support/wait.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;

// Records what the source tells it; called on the member's polling thread,
// read by the test thread.
class RecordingListener : public PartitionListener {
 public:
  explicit RecordingListener(const std::atomic<int64_t>* handled) : handled_(handled) {}

  std::vector<std::optional<int64_t>> OnAssigned(const std::vector<int32_t>& partitions) override {
    assigned_ += static_cast<int>(partitions.size());
    return std::vector<std::optional<int64_t>>(partitions.size());
  }
  void OnRevoked(const std::vector<int32_t>& partitions) override { Left(partitions); }
  void OnLost(const std::vector<int32_t>& partitions) override { Left(partitions); }

  int assigned() const { return assigned_; }
  // Messages the member had handled when it was first told to give
  // partitions up; -1 before that.
  int64_t handled_at_first_revoke() const { return handled_at_first_revoke_; }

 private:
  void Left(const std::vector<int32_t>& partitions) {
    if (!partitions.empty() && handled_at_first_revoke_ < 0) {
      handled_at_first_revoke_ = handled_->load();
    }
  }
  const std::atomic<int64_t>* handled_;
  std::atomic<int> assigned_{0};
  std::atomic<int64_t> handled_at_first_revoke_{-1};
};

// One member polling on its own thread, handling each message with a fixed
// cost (a busy engine), until stopped.
class Member {
 public:
  Member(const std::string& topic, const std::string& group, std::chrono::microseconds cost)
      : listener_(&handled_) {
    KafkaConfig config;
    config.brokers = testing::Stack().kafka_brokers;
    config.topic = topic;
    config.group_id = group;
    config.properties["heartbeat.interval.ms"] = "500";
    auto source = KafkaSource::Create(config, listener_);
    if (!source.ok()) throw std::runtime_error(std::string(source.status().message()));
    source_ = std::move(*source);
    thread_ = std::thread([this, cost] {
      while (!stop_) {
        auto polled = source_->Poll(500, SIZE_MAX, 100, [&](const SourceMessage&) {
          const auto until = std::chrono::steady_clock::now() + cost;
          while (std::chrono::steady_clock::now() < until) {
          }
          ++handled_;
        });
        if (!polled.ok()) ADD_FAILURE() << polled.status().message();
      }
      source_->Close();
    });
  }
  ~Member() {
    stop_ = true;
    thread_.join();
  }
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;

  int64_t handled() const { return handled_; }
  const RecordingListener& listener() const { return listener_; }

 private:
  std::atomic<int64_t> handled_{0};
  std::atomic<bool> stop_{false};
  RecordingListener listener_;
  std::unique_ptr<KafkaSource> source_;
  std::thread thread_;
};

TEST(KafkaSourceTest, ARevokeIsServedWithoutWaitingForThePrefetchedBacklog) {
  // The source prefetches generously (bounded by bytes): a member can hold
  // far more messages than it handles in a session timeout. A rebalance
  // must reach it between messages, not after everything fetched before it,
  // or the group stalls and the member is thrown out.
  constexpr int kMessages = 200'000;
  const std::string topic = testing::CreateTopic(4, "source");
  std::vector<std::string> values;
  values.reserve(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    values.push_back(R"({"event_id":"e-)" + std::to_string(i) + R"(","pad":")" +
                     std::string(150, 'x') + "\"}");
  }
  testing::Produce(topic, values);
  const std::string group = "source-test-" + topic;

  // About 5k messages a second: the backlog lasts some 40 seconds, and the
  // rebalance may take up to about 20 of them before the check below fails.
  Member first(topic, group, 200us);
  ASSERT_TRUE(
      testing::WaitFor([&] { return first.listener().assigned() == 4 && first.handled() >= 1000; },
                       60s, "the first member holds all partitions and consumes"));
  Member second(topic, group, 0us);
  ASSERT_TRUE(testing::WaitFor([&] { return first.listener().handled_at_first_revoke() >= 0; }, 60s,
                               "the first member is asked to give partitions up"));
  const int64_t at_revoke = first.listener().handled_at_first_revoke();
  std::fprintf(stderr, "revoke served after %lld of %d messages\n",
               static_cast<long long>(at_revoke), kMessages);
  EXPECT_LT(at_revoke, kMessages / 2) << "the revoke waited behind the prefetched messages";
  EXPECT_TRUE(testing::WaitFor([&] { return second.listener().assigned() > 0; }, 60s,
                               "the second member gets partitions"));
}

// Keeps the partitions a member holds, and what it was given and asked to
// give back after Close() began. Used from one thread at a time.
class HoldingListener : public PartitionListener {
 public:
  std::vector<std::optional<int64_t>> OnAssigned(const std::vector<int32_t>& partitions) override {
    held_.insert(partitions.begin(), partitions.end());
    if (closing_) assigned_while_closing_ += static_cast<int>(partitions.size());
    return std::vector<std::optional<int64_t>>(partitions.size());
  }
  void OnRevoked(const std::vector<int32_t>& partitions) override { Release(partitions); }
  void OnLost(const std::vector<int32_t>& partitions) override {
    lost_ += static_cast<int>(partitions.size());
    Release(partitions);
  }

  void set_closing() { closing_ = true; }
  std::vector<int32_t> partitions() const { return {held_.begin(), held_.end()}; }
  int lost() const { return lost_; }
  size_t held() const { return held_.size(); }
  int assigned_while_closing() const { return assigned_while_closing_; }
  int released_while_closing() const { return released_while_closing_; }

 private:
  void Release(const std::vector<int32_t>& partitions) {
    for (int32_t p : partitions) held_.erase(p);
    if (closing_) released_while_closing_ += static_cast<int>(partitions.size());
  }
  std::set<int32_t> held_;
  bool closing_ = false;
  int assigned_while_closing_ = 0;
  int released_while_closing_ = 0;
  int lost_ = 0;
};

// A member's settings for a group of its own on the topic; the members hear
// of a rebalance at their next heartbeat, so it comes quickly.
KafkaConfig GroupMemberConfig(const std::string& topic, const std::string& group_prefix) {
  KafkaConfig config;
  config.brokers = testing::Stack().kafka_brokers;
  config.topic = topic;
  config.group_id = group_prefix + topic;
  config.properties["heartbeat.interval.ms"] = "100";
  return config;
}

// Polls both members (handling messages with handle) until `done` holds.
bool PollBothUntil(KafkaSource& first, KafkaSource& second,
                   const std::function<void(const SourceMessage&)>& handle,
                   const std::function<bool()>& done, const char* what) {
  return testing::WaitFor(
      [&] {
        EXPECT_TRUE(first.Poll(100, SIZE_MAX, 50, handle).ok());
        EXPECT_TRUE(second.Poll(100, SIZE_MAX, 50, handle).ok());
        return done();
      },
      60s, what);
}

// The same, until each holds two of the topic's four partitions.
bool PollUntilEachHoldsTwo(KafkaSource& first, const HoldingListener& first_listener,
                           KafkaSource& second, const HoldingListener& second_listener,
                           const std::function<void(const SourceMessage&)>& handle) {
  return PollBothUntil(
      first, second, handle,
      [&] { return first_listener.held() == 2 && second_listener.held() == 2; },
      "each member holds two partitions");
}

TEST(KafkaSourceTest, PartitionsGivenToAMemberWhileItClosesAreTakenAndGivenBack) {
  // Two replicas stopped at once: the one that leaves first starts a
  // rebalance that gives the other its partitions while that one is already
  // inside Close(). librdkafka serves that assignment there, then takes
  // everything back as the member leaves. The engine once crashed here:
  // it asked librdkafka for the rebalance protocol at each callback, and
  // the answer is NULL once the member has left (a narrow race, which this
  // test does not force; it checks the hand-over itself).
  const std::string topic = testing::CreateTopic(4, "sourceclose");
  const KafkaConfig config = GroupMemberConfig(topic, "source-close-");
  HoldingListener first_listener, second_listener;
  auto first = KafkaSource::Create(config, first_listener);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = KafkaSource::Create(config, second_listener);
  ASSERT_TRUE(second.ok()) << second.status();
  const auto ignore = [](const SourceMessage&) {};
  ASSERT_TRUE(PollUntilEachHoldsTwo(**first, first_listener, **second, second_listener, ignore));
  // A cooperative rebalance takes rounds: the members may hold their two
  // partitions each before the coordinator has settled. A member leaving
  // then can start a round that needs the other to poll.
  ASSERT_TRUE(PollBothUntil(
      **first, **second, ignore,
      [&] {
        const testing::GroupDescription group = testing::DescribeGroup(config.group_id);
        return group.state == "Stable" && group.member_partitions == std::vector<int>{2, 2};
      },
      "the coordinator has settled on two partitions each"));

  // The second leaves; the first, no longer polling, rejoins on its own and
  // is given all four partitions, which wait for it to serve them.
  (*second)->Close();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const testing::GroupDescription group = testing::DescribeGroup(config.group_id);
        return group.state == "Stable" && group.member_partitions == std::vector<int>{4};
      },
      60s, "the coordinator gives the remaining member all four partitions"));
  first_listener.set_closing();
  (*first)->Close();
  EXPECT_EQ(first_listener.assigned_while_closing(), 2) << "the second member's partitions";
  EXPECT_EQ(first_listener.released_while_closing(), 4) << "everything given back on leaving";
  EXPECT_EQ(first_listener.held(), 0u);
  EXPECT_EQ(testing::DescribeGroup(config.group_id).state, "Empty");
}

TEST(KafkaSourceTest, CommitsWhileTheGroupRebalancesDoNotCostTheAssignment) {
  // The engine commits durable positions every checkpoint interval. With
  // librdkafka 2.0.2 a commit that reaches the coordinator after a new
  // generation began is answered with ILLEGAL_GENERATION, and the member
  // then drops its whole assignment as lost; the source holds commits back
  // while its member rejoins. Here the first member commits at every poll
  // while a second one joins: it gives two partitions up, loses none.
  const std::string topic = testing::CreateTopic(4, "sourcecommit");
  const KafkaConfig config = GroupMemberConfig(topic, "source-commit-");
  testing::Produce(topic, std::vector<std::string>(40, R"({"event_id":"x"})"));
  HoldingListener first_listener, second_listener;
  auto first = KafkaSource::Create(config, first_listener);
  ASSERT_TRUE(first.ok()) << first.status();
  const auto ignore = [](const SourceMessage&) {};
  int64_t committed = 0;
  const auto poll_and_commit = [&] {
    EXPECT_TRUE((*first)->Poll(100, SIZE_MAX, 20, ignore).ok());
    std::vector<std::pair<int32_t, int64_t>> offsets;
    ++committed;
    for (int32_t p : first_listener.partitions()) offsets.emplace_back(p, committed % 10);
    EXPECT_TRUE((*first)->Commit(offsets).ok());
  };
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        poll_and_commit();
        return first_listener.held() == 4;
      },
      60s, "the first member holds every partition"));
  auto second = KafkaSource::Create(config, second_listener);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        poll_and_commit();
        EXPECT_TRUE((*second)->Poll(100, SIZE_MAX, 20, ignore).ok());
        if (first_listener.held() != 2 || second_listener.held() != 2) return false;
        const testing::GroupDescription group = testing::DescribeGroup(config.group_id);
        return group.state == "Stable" && group.member_partitions == std::vector<int>{2, 2};
      },
      60s, "the group settled on two partitions each"));
  EXPECT_EQ(first_listener.lost(), 0) << "partitions lost after " << committed << " commits";
  (*second)->Close();
  (*first)->Close();
}

TEST(KafkaSourceTest, AnEagerAssignmentStrategyFromConfigIsServed) {
  // The rebalance protocol follows the configured strategy: with "range"
  // (eager) the source assigns and revokes whole assignments; the
  // incremental calls would fail and nothing would be fetched.
  const std::string topic = testing::CreateTopic(4, "sourceeager");
  testing::Produce(topic, std::vector<std::string>(100, "{}"));
  KafkaConfig config = GroupMemberConfig(topic, "source-eager-");
  config.properties["partition.assignment.strategy"] = "range";
  HoldingListener first_listener, second_listener;
  auto first = KafkaSource::Create(config, first_listener);
  ASSERT_TRUE(first.ok()) << first.status();
  size_t consumed = 0;
  const auto count = [&consumed](const SourceMessage&) { ++consumed; };
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        EXPECT_TRUE((*first)->Poll(100, SIZE_MAX, 50, count).ok());
        return consumed == 100;
      },
      60s, "one member reads every message"));
  EXPECT_EQ(first_listener.held(), 4u);
  // A second member joins: all is revoked and handed out again, two each.
  auto second = KafkaSource::Create(config, second_listener);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(PollUntilEachHoldsTwo(**first, first_listener, **second, second_listener, count));
  EXPECT_EQ((*first)->Assigned().size(), 2u);
  (*second)->Close();
  (*first)->Close();
  EXPECT_EQ(first_listener.held(), 0u);
  EXPECT_EQ(second_listener.held(), 0u);
}

// Polls `count` messages of 100 bytes, produced to a topic of their own,
// with a byte budget per poll; returns the most any poll handled.
size_t LargestPollWithinBudget(int count, size_t budget) {
  const std::string topic = testing::CreateTopic(1, "sourcebytes");
  testing::Produce(topic, std::vector<std::string>(count, std::string(100, 'x')));
  const KafkaConfig config = GroupMemberConfig(topic, "source-bytes-");
  std::atomic<int64_t> unused{0};
  RecordingListener listener(&unused);
  auto source = KafkaSource::Create(config, listener);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return 0;
  size_t total = 0, largest_poll = 0;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        size_t bytes = 0;
        auto polled = (*source)->Poll(500, budget, 100,
                                      [&](const SourceMessage& m) { bytes += m.payload.size(); });
        EXPECT_TRUE(polled.ok()) << polled.status();
        if (polled.ok()) {
          total += *polled;
          largest_poll = std::max(largest_poll, *polled);
          EXPECT_LE(bytes, budget + 100) << "past the budget by at most one message";
        }
        return total == static_cast<size_t>(count);
      },
      60s, "every message polled"));
  (*source)->Close();
  return largest_poll;
}

TEST(KafkaSourceTest, APollStopsOnceItsMessagesReachTheByteBudget) {
  // The engine passes what is left of max_pending_bytes: a batch must not
  // run past it by more than one message, however many the batch may hold
  // and however many the source takes from librdkafka at once.
  EXPECT_EQ(LargestPollWithinBudget(40, 250), 3u) << "three messages of 100 bytes reach 250";
  EXPECT_EQ(LargestPollWithinBudget(200, 1000), 10u) << "ten messages of 100 bytes reach 1000";
}

TEST(KafkaSourceTest, AfterASeekMessagesComeFromTheNewPosition) {
  // The engine seeks a partition back to its stored position after
  // reloading its state, and counts what comes next as following that
  // position. Nothing fetched before the seek may come first, not even
  // after a poll that stopped at its byte budget: it would make the engine
  // skip the offsets between.
  const std::string topic = testing::CreateTopic(1, "sourceseek");
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) values.push_back(std::string(90, 'a' + i % 26) + std::to_string(i));
  testing::Produce(topic, values);
  const KafkaConfig config = GroupMemberConfig(topic, "source-seek-");
  std::atomic<int64_t> unused{0};
  RecordingListener listener(&unused);
  auto source = KafkaSource::Create(config, listener);
  ASSERT_TRUE(source.ok()) << source.status();
  std::vector<int64_t> offsets;
  const auto record = [&](const SourceMessage& m) { offsets.push_back(m.offset); };
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        EXPECT_TRUE((*source)->Poll(500, 250, 100, record).ok());
        return offsets.size() >= 3;
      },
      60s, "the first messages polled"));
  ASSERT_TRUE((*source)->Seek(0, 0).ok());
  offsets.clear();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        EXPECT_TRUE((*source)->Poll(500, SIZE_MAX, 100, record).ok());
        return offsets.size() >= 40;
      },
      60s, "the partition read again from the start"));
  std::vector<int64_t> expected(40);
  for (int i = 0; i < 40; ++i) expected[i] = i;
  EXPECT_EQ(offsets, expected);
  (*source)->Close();
}

TEST(KafkaSourceTest, ASubscribedTopicThatDoesNotExistIsLogged) {
  // A mistyped kafka.topic: the consumer hears of it through an error
  // message, which must reach the log rather than leave a replica that
  // silently reads nothing.
  testing::CapturedLog log;
  KafkaConfig config;
  config.brokers = testing::Stack().kafka_brokers;
  config.topic = testing::UniqueTopicName("sourcemissing");  // never created
  config.group_id = "source-missing-" + config.topic;
  std::atomic<int64_t> unused{0};
  RecordingListener listener(&unused);
  auto source = KafkaSource::Create(config, listener);
  ASSERT_TRUE(source.ok()) << source.status();
  const std::string expected = "Subscribed topic not available: " + config.topic;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto polled = (*source)->Poll(500, SIZE_MAX, 100, [](const SourceMessage&) {});
        EXPECT_TRUE(polled.ok()) << polled.status();
        return log.Text().find(expected) != std::string::npos;
      },
      30s, "the missing topic logged"))
      << log.Text();
  EXPECT_NE(log.Text().find("warning kafka burnrate#consumer-"), std::string::npos) << log.Text();
  (*source)->Close();
}

}  // namespace
}  // namespace burnrate

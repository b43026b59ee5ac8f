// A librdkafka consumer group against the real broker, consumed the way the
// engine consumes: cooperative-sticky assignment, no auto-commit, offsets
// committed only after processing and flushed when partitions are revoked.
// Proves the exactly-once bookkeeping the engine relies on: every message
// reaches exactly one member once, and committed offsets end at the end.
#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/stack.h"

namespace burnrate::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 4;
constexpr std::string_view kIdPrefix = R"({"event_id":"e-)";

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

int64_t MillisSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// About 200 bytes, shaped like a cost event, with the id first so consumers
// can find it without a JSON parser.
std::string EventValue(int n) {
  std::string v = std::string(kIdPrefix) + std::to_string(n) + R"(","ts":)" +
                  std::to_string(1'700'000'000'000LL + n) + R"(,"tenant":"tenant-)" +
                  std::to_string(n % 37) +
                  R"(","feature":"chat","environment":"prod","provider":"openai",)"
                  R"("model":"gpt-4o-mini","input_tokens":)" +
                  std::to_string(100 + n % 900) + R"(,"output_tokens":)" +
                  std::to_string(10 + n % 400) + R"(,"pad":")";
  if (v.size() < 198) v.append(198 - v.size(), 'x');
  return v + "\"}";
}

// Returns the n of "e-<n>", or -1 when the value is not one of ours.
int ParseId(const char* data, size_t len) {
  const std::string_view value(data, len);
  if (value.substr(0, kIdPrefix.size()) != kIdPrefix) return -1;
  int id = -1;
  const char* begin = data + kIdPrefix.size();
  const auto [end, ec] = std::from_chars(begin, data + len, id);
  if (ec != std::errc() || end == begin || *end != '"') return -1;
  return id;
}

// Which ids arrived how often, shared by the members. Thread-safe.
class Tracker {
 public:
  explicit Tracker(int expected) : counts_(expected) {}

  void Record(const rd_kafka_message_t& m) {
    const int id = m.payload ? ParseId(static_cast<const char*>(m.payload), m.len) : -1;
    if (id < 0 || id >= static_cast<int>(counts_.size())) {
      ++malformed_;
      return;
    }
    if (counts_[id].fetch_add(1) == 0) {
      ++unique_;
    } else {
      ++duplicates_;
    }
    if (m.partition >= 0 && m.partition < kPartitions) ++per_partition_[m.partition];
  }

  int64_t unique() const { return unique_; }
  int64_t duplicates() const { return duplicates_; }
  int64_t malformed() const { return malformed_; }
  int64_t partition(int p) const { return per_partition_[p]; }
  std::vector<int> Missing(size_t limit) const {
    std::vector<int> missing;
    for (size_t i = 0; i < counts_.size() && missing.size() < limit; ++i) {
      if (counts_[i] == 0) missing.push_back(static_cast<int>(i));
    }
    return missing;
  }

 private:
  std::vector<std::atomic<uint32_t>> counts_;
  std::atomic<int64_t> unique_{0}, duplicates_{0}, malformed_{0};
  std::array<std::atomic<int64_t>, kPartitions> per_partition_{};
};

rd_kafka_t* NewConsumer(const std::string& group, void* opaque,
                        void (*rebalance_cb)(rd_kafka_t*, rd_kafka_resp_err_t,
                                             rd_kafka_topic_partition_list_t*, void*),
                        bool partition_eof) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", Stack().kafka_brokers},
      {"group.id", group},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"enable.auto.commit", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", partition_eof ? "true" : "false"},
      {"log.connection.close", "false"},
      // Members notice a rebalance at their next heartbeat; the default 3 s
      // makes each cooperative round (two per join) needlessly slow here.
      {"heartbeat.interval.ms", "500"},
  };
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(name + ": " + errstr);
    }
  }
  rd_kafka_conf_set_opaque(conf, opaque);
  if (rebalance_cb != nullptr) rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("rd_kafka_new: ") + errstr);
  }
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

void Subscribe(rd_kafka_t* rk, const std::string& topic) {
  PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics.get())) {
    throw std::runtime_error("subscribe " + topic + ": " + rd_kafka_err2str(err));
  }
}

// One member of the group, polled by its own thread. Its rebalance callback
// runs inside rd_kafka_consumer_poll on that thread, so the offset maps need
// no lock; the atomics are what the test thread reads while it runs.
//
// Partitions assigned while `gate` is closed are paused: the test opens it
// once both members hold partitions, so both consume at the same time
// rather than the first one to join racing through all the data alone.
class GroupMember {
 public:
  GroupMember(int index, std::string topic, const std::string& group, Tracker* tracker,
              const std::atomic<bool>* gate)
      : index_(index),
        topic_(std::move(topic)),
        tracker_(tracker),
        gate_(gate),
        rk_(NewConsumer(group, this, &GroupMember::OnRebalance, /*partition_eof=*/false)) {
    Subscribe(rk_, topic_);
  }
  ~GroupMember() { rd_kafka_destroy(rk_); }
  GroupMember(const GroupMember&) = delete;
  GroupMember& operator=(const GroupMember&) = delete;

  // Consumes until stop is set, then commits what it processed and leaves the group.
  void Run(const std::atomic<bool>& stop) {
    constexpr int kCommitEvery = 5000;
    int uncommitted = 0;
    while (!stop) {
      if (paused_ && *gate_) ResumeAll();
      Message m(rd_kafka_consumer_poll(rk_, 100));
      if (!m) {
        // Idle: make progress durable before more arrives.
        if (uncommitted > 0 && Commit(nullptr, "idle")) uncommitted = 0;
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // Consumer errors are informational; librdkafka retries on its own.
        std::cerr << "member " << index_ << ": " << rd_kafka_message_errstr(m.get()) << "\n";
        continue;
      }
      tracker_->Record(*m);
      ++messages_;
      next_offset_[m->partition] = m->offset + 1;
      if (++uncommitted >= kCommitEvery && Commit(nullptr, "batch")) uncommitted = 0;
    }
    EXPECT_TRUE(Commit(nullptr, "final")) << "member " << index_;
    // Closing revokes the assignment through OnRebalance and leaves the group.
    if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_)) {
      ADD_FAILURE() << "member " << index_ << " close: " << rd_kafka_err2str(err);
    }
  }

  bool ever_assigned() const { return ever_assigned_; }
  int assigned() const { return assigned_; }
  int64_t messages() const { return messages_; }
  int commits() const { return commits_; }
  std::string protocol() const {
    std::lock_guard lock(mu_);
    return protocol_;
  }
  std::set<int32_t> partitions_ever() const {
    std::lock_guard lock(mu_);
    return partitions_ever_;
  }

 private:
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<GroupMember*>(opaque)->Rebalance(rk, err, partitions);
  }

  void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions) {
    // NULL while the member leaves the group (a rebalance can still be
    // served inside rd_kafka_consumer_close): the protocol stays the last one.
    const char* current = rd_kafka_rebalance_protocol(rk);
    std::string protocol;
    {
      std::lock_guard lock(mu_);
      if (current != nullptr) protocol_ = current;
      protocol = protocol_;
    }
    const bool cooperative = protocol == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      {
        std::lock_guard lock(mu_);
        for (int i = 0; i < partitions->cnt; ++i) {
          partitions_ever_.insert(partitions->elems[i].partition);
        }
      }
      if (partitions->cnt > 0) ever_assigned_ = true;
      if (cooperative) {
        if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk, partitions)) {
          ADD_FAILURE() << "member " << index_
                        << " incremental_assign: " << rd_kafka_error_string(error);
          rd_kafka_error_destroy(error);
        }
      } else {
        rd_kafka_assign(rk, partitions);
      }
      // Paused before the first fetch can start, so nothing is delivered
      // until Run resumes them.
      if (!*gate_ && partitions->cnt > 0) {
        rd_kafka_pause_partitions(rk, partitions);
        paused_ = true;
      }
      assigned_ += partitions->cnt;
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      // Another member resumes from the committed offset, so what this one
      // processed must be committed before it lets go: otherwise it is
      // delivered twice. A lost assignment cannot commit any more.
      if (!rd_kafka_assignment_lost(rk)) {
        EXPECT_TRUE(Commit(partitions, "revoke")) << "member " << index_;
      }
      for (int i = 0; i < partitions->cnt; ++i) {
        next_offset_.erase(partitions->elems[i].partition);
        committed_.erase(partitions->elems[i].partition);
      }
      assigned_ -= partitions->cnt;
      if (cooperative) {
        if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk, partitions)) {
          ADD_FAILURE() << "member " << index_
                        << " incremental_unassign: " << rd_kafka_error_string(error);
          rd_kafka_error_destroy(error);
        }
      } else {
        rd_kafka_assign(rk, nullptr);
      }
      return;
    }
    ADD_FAILURE() << "member " << index_ << " rebalance error: " << rd_kafka_err2str(err);
    rd_kafka_assign(rk, nullptr);
  }

  void ResumeAll() {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_resp_err_t err = rd_kafka_assignment(rk_, &raw)) {
      ADD_FAILURE() << "member " << index_ << " assignment: " << rd_kafka_err2str(err);
      return;
    }
    PartitionList assignment(raw);
    if (rd_kafka_resp_err_t err = rd_kafka_resume_partitions(rk_, assignment.get())) {
      ADD_FAILURE() << "member " << index_ << " resume: " << rd_kafka_err2str(err);
    }
    paused_ = false;
  }

  // Synchronously commits the processed offsets of `only` (all when null)
  // that are ahead of what is committed. Returns false if the broker refused.
  bool Commit(const rd_kafka_topic_partition_list_t* only, const char* why) {
    PartitionList offsets(rd_kafka_topic_partition_list_new(kPartitions));
    for (const auto& [partition, next] : next_offset_) {
      if (only != nullptr &&
          rd_kafka_topic_partition_list_find(only, topic_.c_str(), partition) == nullptr) {
        continue;
      }
      auto it = committed_.find(partition);
      if (it != committed_.end() && it->second >= next) continue;
      rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), partition)->offset = next;
    }
    if (offsets->cnt == 0) return true;
    rd_kafka_resp_err_t err = rd_kafka_commit(rk_, offsets.get(), /*async=*/0);
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < offsets->cnt; ++i) {
      err = offsets->elems[i].err;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "member " << index_ << " " << why << " commit: " << rd_kafka_err2str(err)
                << "\n";
      return false;
    }
    for (int i = 0; i < offsets->cnt; ++i) {
      committed_[offsets->elems[i].partition] = offsets->elems[i].offset;
    }
    ++commits_;
    return true;
  }

  const int index_;
  const std::string topic_;
  Tracker* const tracker_;
  const std::atomic<bool>* const gate_;
  rd_kafka_t* const rk_;
  bool paused_ = false;                     // some assigned partitions are paused
  std::map<int32_t, int64_t> next_offset_;  // processed: partition → next offset
  std::map<int32_t, int64_t> committed_;    // what the broker has for this member
  std::atomic<bool> ever_assigned_{false};
  std::atomic<int> assigned_{0};  // partitions held now
  std::atomic<int64_t> messages_{0};
  std::atomic<int> commits_{0};
  mutable std::mutex mu_;  // guards protocol_ and partitions_ever_, read by the test thread
  std::string protocol_;
  std::set<int32_t> partitions_ever_;
};

// Consumes `expected` messages of topic with two members of group; asserts
// exactly-once delivery, that both members held partitions and consumed, and
// that every partition delivered data.
void ConsumeWithTwoMembers(const std::string& topic, const std::string& group, int expected) {
  Tracker tracker(expected);
  std::atomic<bool> gate{false};
  GroupMember a(0, topic, group, &tracker, &gate);
  GroupMember b(1, topic, group, &tracker, &gate);
  std::atomic<bool> stop{false};
  const auto t0 = Clock::now();
  std::thread thread_a([&] { a.Run(stop); });
  std::thread thread_b([&] { b.Run(stop); });
  // The group settles with every partition held and both members holding
  // some: the first to join hands part of its partitions over cooperatively.
  const bool balanced = WaitFor(
      [&] {
        return a.assigned() > 0 && b.assigned() > 0 && a.assigned() + b.assigned() == kPartitions;
      },
      60s, "both members holding partitions, all of them assigned");
  const int64_t balance_ms = MillisSince(t0);
  gate = true;
  // 120 s in all, from the start of consumption.
  const bool done =
      balanced && WaitFor([&] { return tracker.unique() == expected; },
                          120s - std::chrono::milliseconds(balance_ms), "every message consumed");
  const int64_t consume_ms = MillisSince(t0);
  stop = true;
  thread_a.join();
  thread_b.join();

  std::cout << "group balanced after " << balance_ms << " ms; consumed " << tracker.unique()
            << " unique of " << expected << " in " << consume_ms
            << " ms; member 0: " << a.messages() << " messages, " << a.partitions_ever().size()
            << " partitions, " << a.commits() << " commits; member 1: " << b.messages()
            << " messages, " << b.partitions_ever().size() << " partitions, " << b.commits()
            << " commits; per partition:";
  for (int p = 0; p < kPartitions; ++p) std::cout << " " << tracker.partition(p);
  std::cout << std::endl;

  EXPECT_TRUE(balanced) << "member 0 holds " << a.assigned() << ", member 1 holds " << b.assigned()
                        << " partitions";
  EXPECT_TRUE(done);
  EXPECT_EQ(tracker.unique(), expected)
      << "first missing ids: " << ::testing::PrintToString(tracker.Missing(10));
  EXPECT_EQ(tracker.duplicates(), 0);
  EXPECT_EQ(tracker.malformed(), 0);
  EXPECT_EQ(a.messages() + b.messages(), expected);
  EXPECT_TRUE(a.ever_assigned()) << "member 0 never held a partition";
  EXPECT_TRUE(b.ever_assigned()) << "member 1 never held a partition";
  EXPECT_GT(a.messages(), 0) << "member 0 consumed nothing";
  EXPECT_GT(b.messages(), 0) << "member 1 consumed nothing";
  EXPECT_EQ(a.protocol(), "COOPERATIVE");
  EXPECT_EQ(b.protocol(), "COOPERATIVE");
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_GT(tracker.partition(p), 0) << "partition " << p << " delivered nothing";
  }
}

std::vector<std::string> EventValues(int count) {
  std::vector<std::string> values;
  values.reserve(count);
  for (int n = 0; n < count; ++n) values.push_back(EventValue(n));
  return values;
}

TEST(KafkaConsumerGroupTest, TwoCooperativeMembersSeeEveryMessageExactlyOnce) {
  constexpr int kMessages = 100'000;
  const std::string topic = CreateTopic(kPartitions, "cgroup");
  const auto t0 = Clock::now();
  // Null keys: the default partitioner spreads them over all partitions.
  Produce(topic, EventValues(kMessages));
  std::cout << "produced " << kMessages << " messages in " << MillisSince(t0) << " ms" << std::endl;

  ConsumeWithTwoMembers(topic, topic + "-group", kMessages);
}

TEST(KafkaConsumerGroupTest, CommittedOffsetsReachHighWatermarks) {
  constexpr int kMessages = 10'000;
  const std::string topic = CreateTopic(kPartitions, "cgroup-commit");
  const std::string group = topic + "-group";
  Produce(topic, EventValues(kMessages));
  ConsumeWithTwoMembers(topic, group, kMessages);
  if (HasFailure()) return;

  // A newcomer in the same group: the group's committed offsets are the ends
  // of the partitions, and subscribing yields end-of-partition, no message.
  rd_kafka_t* rk = NewConsumer(group, nullptr, nullptr, /*partition_eof=*/true);
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> guard(rk, &rd_kafka_destroy);
  PartitionList committed(rd_kafka_topic_partition_list_new(kPartitions));
  for (int p = 0; p < kPartitions; ++p) {
    rd_kafka_topic_partition_list_add(committed.get(), topic.c_str(), p);
  }
  ASSERT_EQ(rd_kafka_committed(rk, committed.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  int64_t total = 0;
  for (int i = 0; i < committed->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = committed->elems[i];
    int64_t low = 0, high = 0;
    ASSERT_EQ(rd_kafka_query_watermark_offsets(rk, topic.c_str(), tp.partition, &low, &high, 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(tp.err, RD_KAFKA_RESP_ERR_NO_ERROR) << "partition " << tp.partition;
    EXPECT_EQ(tp.offset, high) << "partition " << tp.partition;
    total += high - low;
  }
  EXPECT_EQ(total, kMessages);

  Subscribe(rk, topic);
  std::set<int32_t> at_end;
  int64_t received = 0;
  const auto until = Clock::now() + 60s;
  while (static_cast<int>(at_end.size()) < kPartitions && Clock::now() < until) {
    Message m(rd_kafka_consumer_poll(rk, 100));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++received;
    }
  }
  EXPECT_EQ(static_cast<int>(at_end.size()), kPartitions)
      << "partitions at their end within 60 s: " << ::testing::PrintToString(at_end);
  EXPECT_EQ(received, 0) << "a new member of the group got already committed messages";
  EXPECT_EQ(rd_kafka_consumer_close(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
}

}  // namespace
}  // namespace burnrate::testing

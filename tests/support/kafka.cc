#include "tests/support/kafka.h"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iomanip>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/stack.h"

namespace burnrate::testing {
namespace {

using Clock = std::chrono::steady_clock;
using Settings = std::vector<std::pair<std::string, std::string>>;

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("burnrate test support (kafka): " + what);
}

int RemainingMs(Clock::time_point until, int cap_ms) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, cap_ms));
}

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* rkt) const { rd_kafka_topic_destroy(rkt); }
};
using TopicHandle = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// Opens a client on the stack's broker. customize runs on the configuration
// before the handle exists, for callbacks and their opaque.
Handle NewHandle(rd_kafka_type_t type, const Settings& settings,
                 const std::function<void(rd_kafka_conf_t*)>& customize = nullptr) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  Settings all = {{"bootstrap.servers", Stack().kafka_brokers},
                  // Closing a test's handle is expected; do not log it as a problem.
                  {"log.connection.close", "false"}};
  all.insert(all.end(), settings.begin(), settings.end());
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      Fail("setting " + name + "=" + value + ": " + errstr);
    }
  }
  if (customize) customize(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    Fail(std::string("rd_kafka_new: ") + errstr);
  }
  return Handle(rk);
}

// Returns the topic's partition count once the broker reports every partition
// with a leader, or throws when that does not happen before `until`.
int WaitForLeaders(rd_kafka_t* rk, const std::string& topic, int expected_partitions,
                   Clock::time_point until) {
  TopicHandle rkt(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  if (!rkt) Fail("rd_kafka_topic_new(" + topic + ") failed");
  std::string last_problem = "no metadata response";
  while (true) {
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk, 0, rkt.get(), &md, std::max(RemainingMs(until, 5000), 1));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last_problem = rd_kafka_err2str(err);
    } else {
      std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> guard(
          md, &rd_kafka_metadata_destroy);
      if (md->topic_cnt != 1) {
        last_problem = "metadata lists " + std::to_string(md->topic_cnt) + " topics";
      } else if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        last_problem = rd_kafka_err2str(md->topics[0].err);
      } else {
        const rd_kafka_metadata_topic_t& t = md->topics[0];
        const bool count_ok = expected_partitions < 0 || t.partition_cnt == expected_partitions;
        const bool leaders_ok =
            t.partition_cnt > 0 &&
            std::all_of(t.partitions, t.partitions + t.partition_cnt, [](const auto& p) {
              return p.err == RD_KAFKA_RESP_ERR_NO_ERROR && p.leader >= 0;
            });
        if (count_ok && leaders_ok) return t.partition_cnt;
        last_problem = std::to_string(t.partition_cnt) + " partitions, not all with leaders";
      }
    }
    if (Clock::now() >= until) Fail("topic " + topic + " not ready: " + last_problem);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Reads a partition's low and high watermarks. A topic the broker has just
// created (or auto-created) can be listed with a leader before that leader
// answers offset requests ("Not leader for partition"); such transient errors
// are retried until `until`.
void QueryWatermarks(rd_kafka_t* rk, const std::string& topic, int partition, int64_t* low,
                     int64_t* high, Clock::time_point until) {
  while (true) {
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk, topic.c_str(), partition, low, high, std::max(RemainingMs(until, 10000), 1));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    const bool transient = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                           err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                           err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                           err == RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (!transient || Clock::now() >= until) {
      Fail("watermarks of " + topic + "[" + std::to_string(partition) + "]: " +
           rd_kafka_err2str(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

std::string UniqueTopicName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  static const uint32_t salt = std::random_device{}();
  // Per call randomness too, so names differ even when a pid is reused.
  thread_local std::mt19937 rng(
      salt ^ static_cast<uint32_t>(getpid()) ^
      static_cast<uint32_t>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  std::ostringstream name;
  name << prefix << '-' << getpid() << '-' << counter.fetch_add(1) << '-' << std::hex
       << std::setw(8) << std::setfill('0') << rng();
  return name.str();
}

std::string CreateTopic(int partitions, std::string_view prefix,
                        std::vector<std::pair<std::string, std::string>> configs) {
  const std::string name = UniqueTopicName(prefix);
  CreateNamedTopic(name, partitions, configs);
  return name;
}

void CreateNamedTopic(const std::string& name, int partitions,
                      const std::vector<std::pair<std::string, std::string>>& configs) {
  if (partitions < 1) Fail("CreateTopic needs at least one partition");
  const auto until = Clock::now() + std::chrono::seconds(30);
  Handle rk = NewHandle(RD_KAFKA_PRODUCER, {});
  char errstr[512];

  std::unique_ptr<rd_kafka_NewTopic_t, decltype(&rd_kafka_NewTopic_destroy)> new_topic(
      rd_kafka_NewTopic_new(name.c_str(), partitions, 1, errstr, sizeof errstr),
      &rd_kafka_NewTopic_destroy);
  if (!new_topic) Fail("rd_kafka_NewTopic_new(" + name + "): " + errstr);
  for (const auto& [key, value] : configs) {
    if (rd_kafka_resp_err_t err =
            rd_kafka_NewTopic_set_config(new_topic.get(), key.c_str(), value.c_str());
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail("topic config " + key + "=" + value + ": " + rd_kafka_err2str(err));
    }
  }
  std::unique_ptr<rd_kafka_AdminOptions_t, decltype(&rd_kafka_AdminOptions_destroy)> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS),
      &rd_kafka_AdminOptions_destroy);
  // The operation timeout makes the broker answer only once the topic exists.
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), 30000, errstr, sizeof errstr) ||
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), 30000, errstr, sizeof errstr)) {
    Fail(std::string("admin options: ") + errstr);
  }
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(
      rd_kafka_queue_new(rk.get()), &rd_kafka_queue_destroy);
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(rk.get(), topics, 1, options.get(), queue.get());

  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> event(
      rd_kafka_queue_poll(queue.get(), RemainingMs(until, 30000) + 5000), &rd_kafka_event_destroy);
  if (!event) Fail("no CreateTopics result for " + name + " within 30 s");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Fail("CreateTopics(" + name + "): " + rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  if (result == nullptr)
    Fail("unexpected admin event " + std::string(rd_kafka_event_name(event.get())));
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* message = rd_kafka_topic_result_error_string(results[i]);
      Fail("creating topic " + name + ": " +
           (message ? message : rd_kafka_err2str(rd_kafka_topic_result_error(results[i]))));
    }
  }
  WaitForLeaders(rk.get(), name, partitions, until);
}

void Produce(const std::string& topic, const std::vector<std::string>& values,
             const std::vector<std::string>* keys) {
  if (keys != nullptr && keys->size() != values.size()) {
    Fail("Produce: " + std::to_string(keys->size()) + " keys for " + std::to_string(values.size()) +
         " values");
  }
  // Delivery reports arrive on this thread, from rd_kafka_poll/flush.
  struct Tally {
    size_t delivered = 0;
    size_t failed = 0;
    std::string first_error;
  } tally;
  Handle rk = NewHandle(RD_KAFKA_PRODUCER,
                        {{"enable.idempotence", "true"},
                         {"linger.ms", "5"},
                         // Null-key messages go to a random partition each,
                         // not in sticky runs, so even a small batch reaches
                         // every partition.
                         {"sticky.partitioning.linger.ms", "0"},
                         {"batch.num.messages", "10000"},
                         {"batch.size", "1000000"}},
                        [&tally](rd_kafka_conf_t* conf) {
                          rd_kafka_conf_set_opaque(conf, &tally);
                          rd_kafka_conf_set_dr_msg_cb(
                              conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
                                auto* t = static_cast<Tally*>(opaque);
                                if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                                  ++t->delivered;
                                } else if (t->failed++ == 0) {
                                  t->first_error = rd_kafka_err2str(m->err);
                                }
                              });
                        });
  TopicHandle rkt(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
  if (!rkt) Fail("rd_kafka_topic_new(" + topic + ") failed");

  const auto until = Clock::now() + std::chrono::seconds(120);
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string& value = values[i];
    const std::string* key = keys ? &(*keys)[i] : nullptr;
    // RD_KAFKA_MSG_F_COPY: librdkafka copies the payload and never writes to it.
    while (rd_kafka_produce(rkt.get(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                            const_cast<char*>(value.data()), value.size(),
                            key ? key->data() : nullptr, key ? key->size() : 0, nullptr) != 0) {
      const rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        Fail("producing to " + topic + ": " + rd_kafka_err2str(err));
      }
      if (Clock::now() >= until) Fail("producer queue stayed full for 120 s on " + topic);
      // The local queue drains as deliveries complete; serve their reports.
      rd_kafka_poll(rk.get(), 10);
    }
    rd_kafka_poll(rk.get(), 0);
  }
  if (rd_kafka_flush(rk.get(), RemainingMs(until, 120000)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Fail("flush of " + topic + " timed out with " + std::to_string(rd_kafka_outq_len(rk.get())) +
         " messages outstanding");
  }
  char errstr[512];
  if (rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk.get(), errstr, sizeof errstr)) {
    Fail("idempotent producer fatal error " + std::string(rd_kafka_err2str(fatal)) + ": " + errstr);
  }
  if (tally.failed != 0 || tally.delivered != values.size()) {
    Fail("to " + topic + ": " + std::to_string(tally.delivered) + " of " +
         std::to_string(values.size()) + " delivered, " + std::to_string(tally.failed) +
         " failed (first error: " + tally.first_error + ")");
  }
}

std::vector<std::pair<std::string, std::string>> ReadAll(const std::string& topic,
                                                         std::chrono::milliseconds deadline) {
  std::vector<std::pair<std::string, std::string>> messages;
  for (KafkaRecord& r : ReadAllRecords(topic, deadline)) {
    messages.emplace_back(std::move(r.key), std::move(r.value));
  }
  return messages;
}

std::vector<KafkaRecord> ReadAllRecords(const std::string& topic, std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  // librdkafka wants a group.id even for assign(); this one never joins a
  // group (no subscribe) and never commits.
  static std::atomic<int> readers{0};
  const std::string group =
      "burnrate-readall-" + std::to_string(getpid()) + "-" + std::to_string(readers.fetch_add(1));
  Handle rk = NewHandle(RD_KAFKA_CONSUMER, {{"group.id", group},
                                            {"enable.auto.commit", "false"},
                                            {"enable.auto.offset.store", "false"},
                                            {"enable.partition.eof", "true"},
                                            {"auto.offset.reset", "earliest"}});
  rd_kafka_poll_set_consumer(rk.get());
  const int partitions = WaitForLeaders(rk.get(), topic, -1, until);

  // Snapshot the end of every partition first; what arrives later is not read.
  std::vector<int64_t> high(partitions, 0);
  std::vector<bool> done(partitions, false);
  PartitionList assignment(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0;
    QueryWatermarks(rk.get(), topic, p, &low, &high[p], until);
    if (high[p] <= low) {
      done[p] = true;
    } else {
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = low;
    }
  }

  std::vector<KafkaRecord> messages;
  if (assignment->cnt > 0) {
    if (rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), assignment.get())) {
      Fail("assign " + topic + ": " + rd_kafka_err2str(err));
    }
  }
  std::string last_error;
  auto remaining = [&] { return std::count(done.begin(), done.end(), false); };
  while (remaining() > 0) {
    if (Clock::now() >= until) {
      Fail("ReadAll(" + topic + "): " + std::to_string(remaining()) + " of " +
           std::to_string(partitions) + " partitions not read to the end within " +
           std::to_string(deadline.count()) + " ms" +
           (last_error.empty() ? "" : " (last error: " + last_error + ")"));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), std::max(RemainingMs(until, 100), 1));
    if (m == nullptr) continue;
    std::unique_ptr<rd_kafka_message_t, decltype(&rd_kafka_message_destroy)> guard(
        m, &rd_kafka_message_destroy);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // Also ends partitions whose tail offsets hold no record (compaction, markers).
      if (m->partition >= 0 && m->partition < partitions && m->offset >= high[m->partition]) {
        done[m->partition] = true;
      }
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Most consumer errors are transient and retried by librdkafka.
      last_error = rd_kafka_message_errstr(m);
      continue;
    }
    const int p = m->partition;
    if (p < 0 || p >= partitions || m->offset >= high[p]) continue;
    KafkaRecord& record = messages.emplace_back();
    if (m->key) record.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) record.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                         RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        record.headers[name] = value ? std::string(static_cast<const char*>(value), size) : "";
      }
    }
    if (m->offset + 1 >= high[p]) done[p] = true;
  }
  rd_kafka_consumer_close(rk.get());
  return messages;
}

GroupDescription DescribeGroup(const std::string& group) {
  Handle rk = NewHandle(RD_KAFKA_PRODUCER, {});
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(
      rd_kafka_queue_new(rk.get()), &rd_kafka_queue_destroy);
  const char* groups[] = {group.c_str()};
  rd_kafka_DescribeConsumerGroups(rk.get(), groups, 1, nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> event(
      rd_kafka_queue_poll(queue.get(), 30'000), &rd_kafka_event_destroy);
  if (!event) Fail("no DescribeConsumerGroups result for " + group + " within 30 s");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Fail("DescribeConsumerGroups(" + group + "): " + rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_DescribeConsumerGroups_result_t* result =
      rd_kafka_event_DescribeConsumerGroups_result(event.get());
  if (result == nullptr)
    Fail("unexpected admin event " + std::string(rd_kafka_event_name(event.get())));
  size_t count = 0;
  const rd_kafka_ConsumerGroupDescription_t** described =
      rd_kafka_DescribeConsumerGroups_result_groups(result, &count);
  if (count != 1) Fail("DescribeConsumerGroups(" + group + ") named " + std::to_string(count) + " groups");
  if (const rd_kafka_error_t* error = rd_kafka_ConsumerGroupDescription_error(described[0])) {
    Fail("DescribeConsumerGroups(" + group + "): " + rd_kafka_error_string(error));
  }
  GroupDescription description;
  description.state =
      rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(described[0]));
  const size_t members = rd_kafka_ConsumerGroupDescription_member_count(described[0]);
  for (size_t i = 0; i < members; ++i) {
    const rd_kafka_MemberDescription_t* member =
        rd_kafka_ConsumerGroupDescription_member(described[0], i);
    const rd_kafka_topic_partition_list_t* partitions =
        rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(member));
    description.member_partitions.push_back(partitions != nullptr ? partitions->cnt : 0);
  }
  return description;
}

}  // namespace burnrate::testing

// Kafka helpers for integration tests, on the stack's broker (Stack()).
// Each call opens and closes its own librdkafka handle, so they are safe to
// call from any thread and leave nothing running between calls.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace burnrate::testing {

// Creates a topic nobody else uses ("<prefix>-<pid>-<counter>-<random>") with
// `partitions` partitions, replication factor 1 and the given topic configs
// (e.g. {"cleanup.policy", "compact"}), and returns its name once metadata
// shows every partition with a leader (30 s deadline). Tests therefore never
// see each other's data, even on a shared, long-lived stack.
std::string CreateTopic(int partitions, std::string_view prefix = "test",
                        std::vector<std::pair<std::string, std::string>> configs = {});

// The two halves of CreateTopic, for a test that needs a topic's name before
// the topic exists: a name nobody else uses, and creating a topic of that name.
std::string UniqueTopicName(std::string_view prefix);
void CreateNamedTopic(const std::string& name, int partitions,
                      const std::vector<std::pair<std::string, std::string>>& configs = {});

// Produces values (with keys[i] as the key of values[i] when keys is given;
// without keys the default partitioner spreads messages over partitions) with
// an idempotent producer, flushes, and throws unless every delivery report
// succeeded. Keys, when given, must be as many as values.
void Produce(const std::string& topic, const std::vector<std::string>& values,
             const std::vector<std::string>* keys = nullptr);

// Returns every message in the topic at the time of the call, all partitions,
// from the log start to the high watermark, as (key, value) pairs; a null key
// reads as "". Order is by offset within a partition, interleaved across
// partitions. Throws if it cannot read everything before the deadline.
std::vector<std::pair<std::string, std::string>> ReadAll(const std::string& topic,
                                                         std::chrono::milliseconds deadline);

// The same, with each record's headers.
struct KafkaRecord {
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};
std::vector<KafkaRecord> ReadAllRecords(const std::string& topic, std::chrono::milliseconds deadline);

// A consumer group as its coordinator describes it: its state ("Stable",
// "PreparingRebalance", "CompletingRebalance", "Empty", ...) and how many
// partitions each member is assigned. Throws if the broker does not answer
// within 30 s.
struct GroupDescription {
  std::string state;
  std::vector<int> member_partitions;
};
GroupDescription DescribeGroup(const std::string& group);

}  // namespace burnrate::testing

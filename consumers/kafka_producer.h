// Publishes burnrate's outputs to Kafka (dead letters, closed windows) with
// librdkafka's idempotent producer.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "core/pipeline.h"

namespace burnrate {

// Thread-safe (librdkafka's producer is). Produce() copies and queues;
// Flush() is the point where everything queued is known to be written, and
// the engine calls it before it makes a checkpoint durable, so no output of
// a checkpointed offset can be lost.
class KafkaProducer {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(const KafkaConfig& config);
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues one message. When the local queue is full it serves delivery
  // reports and retries rather than drop (the engine then slows down).
  void Produce(const std::string& topic, std::string_view key, std::string_view value,
               const std::vector<std::pair<std::string, std::string>>& headers = {});
  // Waits until everything queued is delivered. Fails if any delivery failed
  // since the previous Flush, or on time-out.
  absl::Status Flush(int timeout_ms);
  uint64_t failed_deliveries() const { return failed_total_.load(); }

 private:
  struct Impl;
  explicit KafkaProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> failed_total_{0};
};

// Dead letters to a Kafka topic: the value is the original message, the key
// is where it came from ("<topic>/<partition>/<offset>[/<item>]", so a
// re-read after a crash produces the same key), headers carry the reason.
// Not thread-safe: one per pipeline thread, told the source position first.
class KafkaDeadLetterSink : public DeadLetterSink {
 public:
  KafkaDeadLetterSink(KafkaProducer& producer, std::string dead_letter_topic, std::string source_topic)
      : producer_(producer), topic_(std::move(dead_letter_topic)), source_topic_(std::move(source_topic)) {}
  void SetSource(int32_t partition, int64_t offset) {
    partition_ = partition;
    offset_ = offset;
  }
  void DeadLetter(std::string_view message, const Rejection& rejection) override;

 private:
  KafkaProducer& producer_;
  std::string topic_;
  std::string source_topic_;
  int32_t partition_ = -1;
  int64_t offset_ = -1;
};

}  // namespace burnrate

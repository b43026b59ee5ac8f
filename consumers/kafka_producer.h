// Publishes burnrate's outputs to Kafka (dead letters, closed windows) with
// librdkafka's idempotent producer.
#pragma once

#include <algorithm>
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
  // Looks `topic` up (which creates it where the brokers auto-create
  // topics) and waits up to `timeout_ms` for the answer, so the first
  // Flush() does not also wait for that. Most failures are only worth a
  // warning (the first Produce() tries again); Unauthenticated means the
  // brokers refused the credentials or the TLS handshake, which retrying
  // cannot mend (SecurityRefusalError gives their reason).
  absl::Status Prepare(const std::string& topic, int timeout_ms);
  // Waits until everything queued is delivered. On time-out: Unavailable
  // (what is queued stays queued and is retried without end). If any
  // delivery failed for good since the last Flush that did not time out (a
  // topic not authorised or deleted, a record too large for it): DataLoss,
  // naming the first failure.
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
// A message refused as oversized keeps only its first
// kOversizedDeadLetterBytes (or `max_message_bytes`, if smaller) with its
// full size in the header `burnrate.original_bytes`: the whole of it would
// likely be too large for the dead-letter topic too, and a dead letter
// refused for good stops the replica (RunEngine::Seal).
// Not thread-safe: one per pipeline thread, told the source position first.
class KafkaDeadLetterSink : public DeadLetterSink {
 public:
  static constexpr size_t kOversizedDeadLetterBytes = 64 * 1024;

  KafkaDeadLetterSink(KafkaProducer& producer, std::string dead_letter_topic, std::string source_topic,
                      size_t max_message_bytes)
      : producer_(producer),
        topic_(std::move(dead_letter_topic)),
        source_topic_(std::move(source_topic)),
        oversized_keep_bytes_(std::min(kOversizedDeadLetterBytes, max_message_bytes)) {}
  void SetSource(int32_t partition, int64_t offset) {
    partition_ = partition;
    offset_ = offset;
  }
  void DeadLetter(std::string_view message, const Rejection& rejection) override;

 private:
  KafkaProducer& producer_;
  std::string topic_;
  std::string source_topic_;
  size_t oversized_keep_bytes_;
  int32_t partition_ = -1;
  int64_t offset_ = -1;
};

}  // namespace burnrate

// Publishes effective quota decisions to a compacted Kafka topic keyed by
// subject (tenant, or tenant/feature), so a gateway can rebuild the current
// state of every tenant by reading the topic from the start.
#pragma once

#include <memory>
#include <string>

#include "budgets/quota.h"
#include "config/config.h"

namespace burnrate {

class KafkaProducer;

// Creates `topic` with cleanup.policy=compact when it does not exist (an
// existing topic is left as it is). Uses librdkafka's admin API.
absl::Status EnsureCompactedTopic(const KafkaConfig& kafka, const std::string& topic,
                                  int partitions = 3, int timeout_ms = 15000);

// Thread-safe (the producer is). Publish queues and flushes, so a decision
// is on the broker when Publish returns OK.
class KafkaQuotaSink : public QuotaSink {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaQuotaSink>> Create(const KafkaConfig& kafka,
                                                                std::string topic);
  ~KafkaQuotaSink() override;
  absl::Status Publish(const QuotaSignal& effective) override;

 private:
  KafkaQuotaSink(std::unique_ptr<KafkaProducer> producer, std::string topic);
  std::unique_ptr<KafkaProducer> producer_;
  std::string topic_;
};

}  // namespace burnrate

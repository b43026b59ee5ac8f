// Alerts to a Kafka topic: key = alert_id (so one incident stays in one
// partition, in order), value = the alert JSON (AlertToJson), header
// idempotency-key = the transition key, for consumers that dedup.
#pragma once

#include <string>

#include "alerting/sink.h"

namespace burnrate {

class KafkaProducer;

// Borrows the producer, which must outlive it. Not thread-safe.
class KafkaAlertSink : public AlertSink {
 public:
  KafkaAlertSink(KafkaProducer& producer, std::string topic, int64_t timeout_ms)
      : producer_(producer), topic_(std::move(topic)), timeout_ms_(timeout_ms) {}
  // Produces and waits for the broker's acknowledgement: ok only once the
  // message is durable in Kafka.
  SinkResult Deliver(const Alert& alert, const DeliveryContext& context) override;

 private:
  KafkaProducer& producer_;
  std::string topic_;
  int64_t timeout_ms_;
};

}  // namespace burnrate

#include "alerting/kafka/kafka_sink.h"

#include "consumers/kafka_producer.h"
#include "core/concat.h"

namespace burnrate {

SinkResult KafkaAlertSink::Deliver(const Alert& alert, const DeliveryContext& context) {
  producer_.Produce(topic_, alert.alert_id, AlertToJson(alert),
                    {{"idempotency-key", context.idempotency_key}});
  if (auto s = producer_.Flush(static_cast<int>(timeout_ms_)); !s.ok()) {
    return SinkResult::Retry(Concat("kafka: ", std::string(s.message())));
  }
  return SinkResult::Ok();
}

}  // namespace burnrate

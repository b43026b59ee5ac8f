#include "budgets/kafka_quota_sink.h"

#include <librdkafka/rdkafka.h>

#include <chrono>

#include "consumers/kafka_client.h"
#include "consumers/kafka_producer.h"
#include "core/concat.h"

namespace burnrate {

absl::Status EnsureCompactedTopic(const KafkaConfig& kafka, const std::string& topic,
                                  int partitions, int timeout_ms) {
  auto conf =
      NewKafkaConf(kafka, KafkaRole::kProducer,
                   {{"bootstrap.servers", kafka.brokers}, {"client.id", "burnrate"}}, "kafka");
  if (!conf.ok()) return conf.status();
  KafkaClientErrors errors;  // outlives the handle
  rd_kafka_conf_set_opaque(conf->get(), &errors);
  rd_kafka_conf_set_error_cb(conf->get(),
                             [](rd_kafka_t* rk, int code, const char* reason, void* opaque) {
                               static_cast<KafkaClientErrors*>(opaque)->Note(rk, code, reason);
                             });
  auto handle = NewKafkaHandle(RD_KAFKA_PRODUCER, *std::move(conf), "kafka");
  if (!handle.ok()) return absl::UnavailableError(handle.status().message());
  rd_kafka_t* rk = *handle;
  char err[512];

  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, err, sizeof err);
  absl::Status result;
  if (nt == nullptr) {
    result = absl::InvalidArgumentError(Concat("kafka topic ", topic, ": ", err));
  } else {
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t* options =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, options, queue);
    // Waited for in slices, serving the handle's error callback between
    // them: refused credentials end the wait at once.
    rd_kafka_event_t* ev = nullptr;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms + 2000);
    while (ev == nullptr && std::chrono::steady_clock::now() < deadline &&
           errors.SecurityRefusal().empty()) {
      ev = rd_kafka_queue_poll(queue, 200);
      rd_kafka_poll(rk, 0);
    }
    if (ev == nullptr) {
      const std::string refusal = errors.SecurityRefusal();
      result =
          refusal.empty()
              ? absl::DeadlineExceededError(Concat("kafka: creating topic ", topic, " timed out"))
              : SecurityRefusalError(refusal);
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = absl::UnavailableError(
          Concat("kafka: creating topic ", topic, ": ", rd_kafka_event_error_string(ev)));
    } else {
      size_t n = 0;
      const rd_kafka_topic_result_t** results =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
      for (size_t i = 0; i < n; ++i) {
        const rd_kafka_resp_err_t code = rd_kafka_topic_result_error(results[i]);
        if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          const char* msg = rd_kafka_topic_result_error_string(results[i]);
          result =
              absl::UnavailableError(Concat("kafka: creating topic ", topic, ": ", msg ? msg : ""));
        }
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(nt);
  }
  rd_kafka_destroy(rk);
  return result;
}

absl::StatusOr<std::unique_ptr<KafkaQuotaSink>> KafkaQuotaSink::Create(const KafkaConfig& kafka,
                                                                       std::string topic) {
  if (auto s = EnsureCompactedTopic(kafka, topic); !s.ok()) return s;
  auto producer = KafkaProducer::Create(kafka);
  if (!producer.ok()) return producer.status();
  return std::unique_ptr<KafkaQuotaSink>(
      new KafkaQuotaSink(std::move(*producer), std::move(topic)));
}

KafkaQuotaSink::KafkaQuotaSink(std::unique_ptr<KafkaProducer> producer, std::string topic)
    : producer_(std::move(producer)), topic_(std::move(topic)) {}
KafkaQuotaSink::~KafkaQuotaSink() = default;

absl::Status KafkaQuotaSink::Publish(const QuotaSignal& effective) {
  producer_->Produce(topic_, effective.subject, QuotaSignalToJson(effective));
  // Decisions are rare (they change a few times per period), so waiting for
  // each is cheap and makes "published" mean "on the broker".
  return producer_->Flush(10'000);
}

}  // namespace burnrate

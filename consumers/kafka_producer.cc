#include "consumers/kafka_producer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "consumers/kafka_client.h"
#include "consumers/kafka_metadata.h"
#include "core/concat.h"

namespace burnrate {

struct KafkaProducer::Impl {
  rd_kafka_t* producer = nullptr;
  std::atomic<uint64_t> failed_since_flush{0};
  std::atomic<uint64_t>* failed_total = nullptr;
  KafkaClientErrors errors;
  // Why the first delivery since the last reporting Flush() failed.
  std::mutex error_mutex;
  std::string first_error;
  void NoteFailure(std::string_view topic, std::string_view why) {
    failed_since_flush.fetch_add(1);
    failed_total->fetch_add(1);
    std::lock_guard<std::mutex> lock(error_mutex);
    if (first_error.empty()) first_error = Concat(topic, ": ", why);
  }
  ~Impl() {
    if (producer) {
      rd_kafka_flush(producer, 10'000);
      rd_kafka_destroy(producer);
    }
  }
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    static_cast<Impl*>(opaque)->errors.Note(rk, err, reason);
  }
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (!m->err) return;
    static_cast<Impl*>(opaque)->NoteFailure(m->rkt ? rd_kafka_topic_name(m->rkt) : "?",
                                            rd_kafka_err2str(m->err));
  }
};

KafkaProducer::KafkaProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->failed_total = &failed_total_;
}
KafkaProducer::~KafkaProducer() = default;

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(const KafkaConfig& config) {
  auto impl = std::make_unique<Impl>();
  auto conf = NewKafkaConf(config, KafkaRole::kProducer,
                           {
                               {"bootstrap.servers", config.brokers},
                               {"enable.idempotence", "true"},
                               // Retry until delivered, however long the broker is away: a dead
                               // letter or window row given up after librdkafka's default 5
                               // minutes would be lost, since the offsets it belongs to become
                               // durable. Memory stays bounded because consumption pauses while
                               // the checkpoints that wait for these deliveries cannot be made.
                               {"message.timeout.ms", "0"},
                               {"linger.ms", "20"},
                               {"compression.type", "lz4"},
                               {"client.id", "burnrate"},
                           },
                           "kafka producer");
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), impl.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::OnDelivery);
  rd_kafka_conf_set_error_cb(conf->get(), &Impl::OnError);
  auto producer = NewKafkaHandle(RD_KAFKA_PRODUCER, *std::move(conf), "kafka producer");
  if (!producer.ok()) return producer.status();
  impl->producer = *producer;
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(impl)));
}

void KafkaProducer::Produce(const std::string& topic, std::string_view key, std::string_view value,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
  for (;;) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const auto& [k, v] : headers) {
        rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                            static_cast<ssize_t>(v.size()));
      }
    }
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        impl_->producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (!err) return;
    if (hdrs) rd_kafka_headers_destroy(hdrs);  // not consumed on failure
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(impl_->producer, 50);  // let deliveries drain, then retry
      continue;
    }
    // Anything else (unknown topic, message too large) is a delivery failure.
    impl_->NoteFailure(topic, rd_kafka_err2str(err));
    return;
  }
}

absl::Status KafkaProducer::Prepare(const std::string& topic, int timeout_ms) {
  // A broker that auto-creates topics answers "unknown" to the lookup that
  // starts the creation; ask again until the topic has its partitions.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  // The broker's last whole answer: the final lookup is usually cut short by
  // the deadline and would only say "timed out".
  absl::Status answer;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const absl::StatusOr<int32_t> count =
        TopicPartitionCount(impl_->producer, topic, static_cast<int>(std::max<int64_t>(left, 1)));
    if (count.ok() || absl::IsInvalidArgument(count.status())) return count.status();
    // Wrong credentials or an untrusted certificate: asking again cannot
    // help. librdkafka reports them through the error callback, which only
    // runs when the handle is polled.
    rd_kafka_poll(impl_->producer, 0);
    if (std::string refusal = impl_->errors.SecurityRefusal(); !refusal.empty())
      return SecurityRefusalError(refusal);
    if (Clock::now() >= deadline) {
      const absl::Status& last = answer.ok() ? count.status() : answer;
      return absl::UnavailableError(
          Concat(std::string(last.message()), " (still after ", timeout_ms, " ms)"));
    }
    answer = count.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::Status KafkaProducer::Flush(int timeout_ms) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(impl_->producer, timeout_ms);
  // Failures stay counted until a flush that finished reports them.
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return absl::UnavailableError(Concat("kafka: ", rd_kafka_outq_len(impl_->producer),
                                         " messages not delivered yet after ", timeout_ms,
                                         " ms (librdkafka keeps retrying them)"));
  }
  if (err) return absl::UnavailableError(Concat("kafka flush: ", rd_kafka_err2str(err)));
  const uint64_t failed = impl_->failed_since_flush.exchange(0);
  if (failed == 0) return absl::OkStatus();
  std::string why;
  {
    std::lock_guard<std::mutex> lock(impl_->error_mutex);
    why.swap(impl_->first_error);
  }
  // librdkafka retries what can be retried without end (message.timeout.ms
  // 0), so a failure reported here is final: those messages are gone.
  return absl::DataLossError(Concat("kafka: ", failed, " messages could not be delivered (first: ", why, ")"));
}

void KafkaDeadLetterSink::DeadLetter(std::string_view message, const Rejection& rejection) {
  std::string key = Concat(source_topic_, "/", partition_, "/", offset_);
  if (rejection.item >= 0) key += Concat("/", rejection.item);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"burnrate.reason", std::string(RejectReasonName(rejection.reason))},
      {"burnrate.detail", std::string(rejection.detail)},
      {"burnrate.source", key}};
  std::string_view value = message;
  if (rejection.reason == RejectReason::kOversized && value.size() > oversized_keep_bytes_) {
    headers.emplace_back("burnrate.original_bytes", std::to_string(message.size()));
    value = value.substr(0, oversized_keep_bytes_);
  }
  producer_.Produce(topic_, key, value, headers);
}

}  // namespace burnrate

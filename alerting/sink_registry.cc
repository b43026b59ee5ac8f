#include "alerting/sink_registry.h"

#include "alerting/alertmanager/alertmanager_sink.h"
#include "alerting/kafka/kafka_sink.h"
#include "alerting/log/log_sink.h"
#include "alerting/pagerduty/pagerduty_sink.h"
#include "alerting/slack/slack_sink.h"
#include "alerting/webhook/webhook_sink.h"
#include "core/concat.h"

namespace burnrate {

const std::vector<std::string_view>& SinkTypeNames() {
  static const std::vector<std::string_view> kNames = {"slack",        "pagerduty", "webhook",
                                                       "alertmanager", "kafka",     "log"};
  return kNames;
}

absl::StatusOr<AlertSinkPtr> CreateSink(const ReceiverConfig& r, const SinkDeps& deps) {
  if (r.type == "slack") {
    if (r.slack.webhook_url.empty())
      return absl::InvalidArgumentError(Concat("receiver ", r.name, ": slack needs webhook_url"));
    return std::make_unique<SlackSink>(r.slack.webhook_url, deps.links, r.timeout_ms);
  }
  if (r.type == "pagerduty") {
    if (r.pagerduty.routing_key.empty()) {
      return absl::InvalidArgumentError(
          Concat("receiver ", r.name, ": pagerduty needs routing_key"));
    }
    return std::make_unique<PagerDutySink>(r.pagerduty.routing_key, r.pagerduty.url,
                                           r.pagerduty.source, deps.links, r.timeout_ms);
  }
  if (r.type == "webhook") {
    if (r.webhook.url.empty())
      return absl::InvalidArgumentError(Concat("receiver ", r.name, ": webhook needs url"));
    return std::make_unique<WebhookSink>(r.webhook.url, r.webhook.hmac_secret, r.timeout_ms);
  }
  if (r.type == "alertmanager") {
    if (r.alertmanager.url.empty())
      return absl::InvalidArgumentError(Concat("receiver ", r.name, ": alertmanager needs url"));
    return std::make_unique<AlertmanagerSink>(r.alertmanager.url, r.alertmanager.resend_interval_ms,
                                              deps.links, r.timeout_ms);
  }
  if (r.type == "kafka") {
    if (!deps.kafka_producer) {
      return absl::InvalidArgumentError(
          Concat("receiver ", r.name, ": kafka receivers need a Kafka producer"));
    }
    return std::make_unique<KafkaAlertSink>(*deps.kafka_producer, r.kafka.topic, r.timeout_ms);
  }
  if (r.type == "log") return std::make_unique<LogAlertSink>();
  return absl::InvalidArgumentError(
      Concat("receiver ", r.name, ": unknown receiver type '", r.type,
             "' (expected one of: ", JoinStrings(SinkTypeNames(), ", "), ")"));
}

}  // namespace burnrate

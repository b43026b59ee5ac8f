// The `alerting:` section of the config file (docs/configuration.md,
// docs/alerts.md): receivers, the routing tree, silences and the outbox.
// Plain structs, header-only, because config/config.h includes it; the
// parser lives in config/alerting_section.cc.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/secret.h"

namespace burnrate {

struct SlackReceiverConfig {
  Secret webhook_url;
};

struct PagerDutyReceiverConfig {
  Secret routing_key;
  std::string url = "https://events.pagerduty.com/v2/enqueue";
  // The `source` field of every event: the machine the problem is about.
  std::string source = "burnrate";
};

struct WebhookReceiverConfig {
  Secret url;
  Secret hmac_secret;  // empty: no signature header
};

struct AlertmanagerReceiverConfig {
  std::string url;  // base URL; /api/v2/alerts is appended
  // A firing alert is re-sent this often, with endsAt far enough ahead
  // (resend_interval * 4) that Alertmanager does not resolve it on its own.
  int64_t resend_interval_ms = 60'000;
};

struct KafkaReceiverConfig {
  std::string topic = "burnrate-alerts";
};

// One named receiver; exactly one of the type-specific parts is used,
// selected by `type` ("slack", "pagerduty", "webhook", "alertmanager",
// "kafka", "log").
struct ReceiverConfig {
  std::string name;
  std::string type;
  SlackReceiverConfig slack;
  PagerDutyReceiverConfig pagerduty;
  WebhookReceiverConfig webhook;
  AlertmanagerReceiverConfig alertmanager;
  KafkaReceiverConfig kafka;
  // Most messages per second to this receiver; 0 means no limit. Slack's
  // incoming webhooks allow about one per second.
  double rate_limit_per_second = 0;
  // Every HTTP request to the receiver gives up after this long.
  int64_t timeout_ms = 5000;
};

// A node of the routing tree, as in Alertmanager: an alert matching all of
// `match` (label -> value; labels are kind, severity, tenant, feature,
// environment) goes to `receiver`, or to the first matching child route.
// Children are tried in order; the first match wins unless it sets
// `continue_matching`. Timing settings of -1 inherit the parent's.
struct RouteConfig {
  std::map<std::string, std::string> match;
  std::string receiver;
  bool continue_matching = false;
  int64_t group_wait_ms = -1;
  int64_t repeat_interval_ms = -1;
  std::vector<RouteConfig> routes;
};

struct SilenceConfig {
  std::map<std::string, std::string> match;
  int64_t until_ms = 0;
  std::string reason;
};

struct OutboxConfig {
  // A delivery still failing this long after its transition was enqueued
  // is dead-lettered.
  int64_t give_up_after_ms = 24 * 3'600'000LL;
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 5 * 60'000;
};

struct AlertingConfig {
  std::string dashboard_url;  // Grafana dashboard linked from messages
  std::string quota_url;      // the quota endpoint linked from messages
  OutboxConfig outbox;
  std::vector<ReceiverConfig> receivers;
  RouteConfig route;  // the root: its receiver is the default
  std::vector<SilenceConfig> silences;
  bool enabled() const { return !receivers.empty(); }
};

}  // namespace burnrate

// Prometheus Alertmanager API v2: POST /api/v2/alerts with a JSON array of
// one alert. Labels identify the alert (alertname, kind, severity, tenant,
// feature, environment, alert_id); annotations carry the figures. A firing
// alert is re-sent every resend interval (the delivery service schedules the
// reminders) with endsAt a few intervals ahead, so Alertmanager keeps it
// active; the resolve sets endsAt to the resolve time.
#pragma once

#include <string>
#include <string_view>

#include "alerting/format.h"
#include "alerting/http_client.h"
#include "alerting/sink.h"

namespace burnrate {

// "BurnrateSpike", "BurnrateBudgetBurnRate", ...
std::string AlertmanagerAlertName(AlertKind kind);

std::string AlertmanagerPayload(const Alert& alert, const DeliveryContext& context,
                                int64_t resend_interval_ms, const AlertLinks& links);

// One Alertmanager (or an HA pair's load balancer). Not thread-safe.
class AlertmanagerSink : public AlertSink {
 public:
  AlertmanagerSink(std::string base_url, int64_t resend_interval_ms, AlertLinks links,
                   int64_t timeout_ms);
  SinkResult Deliver(const Alert& alert, const DeliveryContext& context) override;

 private:
  std::string url_;
  int64_t resend_interval_ms_;
  AlertLinks links_;
  int64_t timeout_ms_;
  HttpClient http_;
};

}  // namespace burnrate

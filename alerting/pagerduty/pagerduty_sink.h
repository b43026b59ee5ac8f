// PagerDuty Events API v2: `trigger` when an alert fires, `resolve` when it
// resolves, with dedup_key = the alert's id so both land on one incident.
#pragma once

#include <string>
#include <string_view>

#include "alerting/format.h"
#include "alerting/http_client.h"
#include "alerting/sink.h"
#include "config/secret.h"

namespace burnrate {

// "critical", "warning" or "info" (PagerDuty also knows "error", which
// burnrate's three levels never need).
std::string_view PagerDutySeverity(Severity severity);

std::string PagerDutyPayload(const Alert& alert, const DeliveryContext& context,
                             std::string_view routing_key, std::string_view source,
                             const AlertLinks& links);

// One PagerDuty service (routing key). Not thread-safe.
class PagerDutySink : public AlertSink {
 public:
  PagerDutySink(Secret routing_key, std::string url, std::string source, AlertLinks links,
                int64_t timeout_ms)
      : key_(std::move(routing_key)),
        url_(std::move(url)),
        source_(std::move(source)),
        links_(std::move(links)),
        timeout_ms_(timeout_ms) {}
  SinkResult Deliver(const Alert& alert, const DeliveryContext& context) override;

 private:
  Secret key_;
  std::string url_;
  std::string source_;
  AlertLinks links_;
  int64_t timeout_ms_;
  HttpClient http_;
};

}  // namespace burnrate

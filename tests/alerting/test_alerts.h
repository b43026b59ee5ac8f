// Alerts for the alerting tests.
#pragma once

#include <string>

#include "core/alert.h"

namespace burnrate::testing {

inline Alert MakeTestAlert(std::string id, AlertStatus status = AlertStatus::kFiring,
                           Severity severity = Severity::kWarning, std::string tenant = "acme") {
  Alert a;
  a.alert_id = std::move(id);
  a.kind = AlertKind::kSpike;
  a.status = status;
  a.severity = severity;
  a.tenant = std::move(tenant);
  a.feature = "chat";
  a.environment = "prod";
  a.model = "gpt-4o";
  a.window_start_ms = 1'795'000'000'000;
  a.window_size_ms = 60'000;
  a.observed = 42.5;
  a.baseline = 10;
  a.ratio = 4.25;
  a.unit = "usd";
  a.started_at_ms = 1'795'000'060'000;
  a.resolved_at_ms = status == AlertStatus::kResolved ? 1'795'000'660'000 : 0;
  a.summary = "acme/chat/prod spends $42.50 per minute, 4.25x its usual $10.00";
  a.details = {{"window", "1m"}};
  return a;
}

}  // namespace burnrate::testing

// What the real receivers check, as functions: the unit tests call them on
// payload builders' output and the integration receivers call them on
// every request. Each returns "" when the payload is acceptable, else what
// is wrong.
#pragma once

#include <string>
#include <string_view>

namespace burnrate::testing {

// Slack Block Kit via incoming webhook: `text` fallback, at most 50 blocks,
// header plain_text <= 150, section text <= 3000, <= 10 fields of <= 2000,
// mrkdwn with &, <, > escaped (only <url|label> links unescaped).
std::string CheckSlackPayload(std::string_view body);
// PagerDuty Events API v2 (trigger/acknowledge/resolve).
std::string CheckPagerDutyPayload(std::string_view body, std::string_view routing_key);
// Alertmanager API v2 POST /api/v2/alerts (postableAlerts).
std::string CheckAlertmanagerPayload(std::string_view body);
// The signed webhook: the signature over "<timestamp>.<body>" verifies and
// the body is an alert.
std::string CheckWebhookRequest(std::string_view body, std::string_view timestamp,
                                std::string_view signature, std::string_view secret);

}  // namespace burnrate::testing

#include "alerting/pagerduty/pagerduty_sink.h"

#include <nlohmann/json.hpp>

#include "alerting/http_client.h"
#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {

std::string_view PagerDutySeverity(Severity severity) {
  switch (severity) {
    case Severity::kCritical:
      return "critical";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
  }
  return "error";
}

std::string PagerDutyPayload(const Alert& a, const DeliveryContext& context,
                             std::string_view routing_key, std::string_view source,
                             const AlertLinks& links) {
  (void)context;
  nlohmann::json body;
  body["routing_key"] = routing_key;
  body["dedup_key"] = a.alert_id;
  if (a.status == AlertStatus::kResolved) {
    body["event_action"] = "resolve";
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  body["event_action"] = "trigger";
  nlohmann::json details = {{"kind", AlertKindName(a.kind)},
                            {"tenant", a.tenant},
                            {"feature", a.feature},
                            {"environment", a.environment},
                            {"observed", FormatFigure(a.observed, a.unit)},
                            {"expected", FormatFigure(a.baseline, a.unit)},
                            {"ratio", FormatRatio(a.ratio)},
                            {"window_start", FormatRfc3339Ms(a.window_start_ms)},
                            {"started_at", FormatRfc3339Ms(a.started_at_ms)}};
  if (!a.model.empty()) details["model"] = a.model;
  if (!a.subject.empty()) details["subject"] = a.subject;
  for (const auto& [k, v] : a.details) details[k] = v;
  const std::string summary =
      a.summary.empty() ? Concat(AlertKindName(a.kind), " on ", AlertKeyText(a)) : a.summary;
  body["payload"] = {{"summary", TruncateUtf8(summary, 1024)},
                     {"source", source.empty() ? std::string_view("burnrate") : source},
                     {"severity", PagerDutySeverity(a.severity)},
                     {"timestamp", FormatRfc3339Ms(a.started_at_ms)},
                     {"class", AlertKindName(a.kind)},
                     {"custom_details", details}};
  if (!a.tenant.empty()) body["payload"]["group"] = a.tenant;
  if (!a.feature.empty()) body["payload"]["component"] = a.feature;
  body["client"] = "burnrate";
  const std::string dashboard = DashboardLink(links, a);
  if (!dashboard.empty()) {
    body["client_url"] = dashboard;
    body["links"] = nlohmann::json::array({{{"href", dashboard}, {"text", "Grafana dashboard"}}});
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

SinkResult PagerDutySink::Deliver(const Alert& alert, const DeliveryContext& context) {
  const HttpPostResult r =
      http_.Post(url_, PagerDutyPayload(alert, context, key_.value, source_, links_),
                 {{"Content-Type", "application/json"}}, timeout_ms_);
  return SinkResultFromHttp(r, "pagerduty");
}

}  // namespace burnrate

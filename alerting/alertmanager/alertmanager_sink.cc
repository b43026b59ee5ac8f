#include "alerting/alertmanager/alertmanager_sink.h"

#include <nlohmann/json.hpp>

#include "alerting/http_client.h"
#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {

std::string AlertmanagerAlertName(AlertKind kind) {
  std::string out = "Burnrate";
  bool upper = true;
  for (char c : AlertKindName(kind)) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return out;
}

std::string AlertmanagerPayload(const Alert& a, const DeliveryContext& context,
                                int64_t resend_interval_ms, const AlertLinks& links) {
  nlohmann::json labels = {{"alertname", AlertmanagerAlertName(a.kind)},
                           {"kind", AlertKindName(a.kind)},
                           {"severity", SeverityName(a.severity)},
                           {"alert_id", a.alert_id}};
  // Alertmanager treats an empty label as absent; leave them out.
  if (!a.tenant.empty()) labels["tenant"] = a.tenant;
  if (!a.feature.empty()) labels["feature"] = a.feature;
  if (!a.environment.empty()) labels["environment"] = a.environment;
  nlohmann::json annotations = {{"summary", TruncateUtf8(a.summary, 4096)},
                                {"observed", FormatFigure(a.observed, a.unit)},
                                {"expected", FormatFigure(a.baseline, a.unit)},
                                {"ratio", FormatRatio(a.ratio)},
                                {"window_start", FormatRfc3339Ms(a.window_start_ms)}};
  if (!a.model.empty()) annotations["model"] = a.model;
  if (!a.subject.empty()) annotations["subject"] = a.subject;
  const std::string quota = QuotaLink(links, a);
  if (!quota.empty()) annotations["quota_url"] = quota;
  for (const auto& [k, v] : a.details) annotations[k] = v;

  const int64_t ends = a.status == AlertStatus::kResolved
                           ? a.resolved_at_ms
                           : context.now_ms + 4 * std::max<int64_t>(resend_interval_ms, 1000);
  nlohmann::json alert = {{"labels", labels},
                          {"annotations", annotations},
                          {"startsAt", FormatRfc3339Ms(a.started_at_ms)},
                          {"endsAt", FormatRfc3339Ms(ends)}};
  const std::string dashboard = DashboardLink(links, a);
  if (!dashboard.empty()) alert["generatorURL"] = dashboard;
  return nlohmann::json::array({alert}).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

AlertmanagerSink::AlertmanagerSink(std::string base_url, int64_t resend_interval_ms,
                                   AlertLinks links, int64_t timeout_ms)
    : resend_interval_ms_(resend_interval_ms), links_(std::move(links)), timeout_ms_(timeout_ms) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  url_ = Concat(base_url, "/api/v2/alerts");
}

SinkResult AlertmanagerSink::Deliver(const Alert& alert, const DeliveryContext& context) {
  const HttpPostResult r =
      http_.Post(url_, AlertmanagerPayload(alert, context, resend_interval_ms_, links_),
                 {{"Content-Type", "application/json"}}, timeout_ms_);
  return SinkResultFromHttp(r, "alertmanager");
}

}  // namespace burnrate

#include "alerting/router.h"

#include <algorithm>

namespace burnrate {
namespace {

// `route` is known to match; collects its decisions into `out`.
void Walk(const RouteConfig& route, const Alert& alert, int64_t group_wait, int64_t repeat,
          std::vector<RouteDecision>& out) {
  if (route.group_wait_ms >= 0) group_wait = route.group_wait_ms;
  if (route.repeat_interval_ms >= 0) repeat = route.repeat_interval_ms;
  bool child_matched = false;
  for (const auto& child : route.routes) {
    if (!LabelsMatch(child.match, alert)) continue;
    child_matched = true;
    Walk(child, alert, group_wait, repeat, out);
    if (!child.continue_matching) break;
  }
  if (child_matched || route.receiver.empty()) return;
  const bool seen = std::any_of(
      out.begin(), out.end(), [&](const RouteDecision& d) { return d.receiver == route.receiver; });
  if (!seen) out.push_back({route.receiver, group_wait, repeat});
}

}  // namespace

const std::vector<std::string_view>& AlertLabelNames() {
  static const std::vector<std::string_view> kNames = {"kind",    "severity",    "tenant",
                                                       "feature", "environment", "alert_id"};
  return kNames;
}

std::string AlertLabel(const Alert& a, std::string_view label) {
  if (label == "kind") return std::string(AlertKindName(a.kind));
  if (label == "severity") return std::string(SeverityName(a.severity));
  if (label == "tenant") return a.tenant;
  if (label == "feature") return a.feature;
  if (label == "environment") return a.environment;
  if (label == "alert_id") return a.alert_id;
  return {};
}

bool LabelsMatch(const std::map<std::string, std::string>& match, const Alert& alert) {
  for (const auto& [label, value] : match) {
    if (AlertLabel(alert, label) != value) return false;
  }
  return true;
}

std::vector<RouteDecision> RouteAlert(const RouteConfig& root, const Alert& alert) {
  std::vector<RouteDecision> out;
  Walk(root, alert, 0, 0, out);
  return out;
}

}  // namespace burnrate

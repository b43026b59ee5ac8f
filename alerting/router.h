// Alertmanager-style routing and silence matching over an alert's labels.
// Pure functions over config; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/alerting_config.h"
#include "core/alert.h"

namespace burnrate {

// The labels routes and silences may match on.
const std::vector<std::string_view>&
AlertLabelNames();  // kind, severity, tenant, feature, environment, alert_id
// The value of one label of the alert ("" for an unknown label).
std::string AlertLabel(const Alert& alert, std::string_view label);
bool LabelsMatch(const std::map<std::string, std::string>& match, const Alert& alert);

struct RouteDecision {
  std::string receiver;
  int64_t group_wait_ms = 0;
  int64_t repeat_interval_ms = 0;
};

// Walks the tree from the root (which always matches): a matching route
// hands the alert to its first matching child (and further ones while they
// set continue), or takes it itself when no child matches. -1 timings
// inherit from the parent; the root's default to 0. A receiver appears at
// most once in the result (the first decision wins).
std::vector<RouteDecision> RouteAlert(const RouteConfig& root, const Alert& alert);

}  // namespace burnrate

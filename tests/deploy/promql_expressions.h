// The PromQL expressions shipped with burnrate's deployment assets: the
// Grafana dashboard (dashboards/burnrate.json: panel targets and template
// variable queries) and the engine's alerting rules (dashboards/rules/).
// Tests iterate over them: tests/deploy checks every metric name against the
// metrics contract; an integration test evaluates each against a Prometheus
// scraping the live engine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace burnrate::deploy {

// One expression with a name that says where it came from, e.g.
// "dashboard panel 'Spend by tenant (USD/min)' target A" or
// "rule burnrate-engine/BurnrateNotReady".
struct PromqlExpression {
  std::string name;
  // As written; dashboard expressions may hold Grafana variables ($tenant,
  // $__rate_interval): pass them through SubstituteGrafanaVariables first.
  std::string expr;
};

// Panel targets (rows' nested panels included) and template variable queries
// of a Grafana dashboard. A variable's `label_values(METRIC, LABEL)` becomes
// the selector METRIC; `query_result(EXPR)` becomes EXPR. Datasource
// variables are not PromQL and are skipped. Error: not JSON, or not a dashboard.
absl::StatusOr<std::vector<PromqlExpression>> DashboardExpressions(std::string_view dashboard_json);

// The `expr` of every alerting and recording rule in a Prometheus rule file.
absl::StatusOr<std::vector<PromqlExpression>> RuleExpressions(std::string_view rules_yaml);

// Everything shipped, from a source tree: dashboards/burnrate.json and every
// dashboards/rules/*.rules.yaml (names prefixed with the file name for rules).
absl::StatusOr<std::vector<PromqlExpression>> ShippedExpressions(const std::string& source_dir);

// Makes a dashboard expression plain PromQL: $__rate_interval, $__interval
// and $__range (also in ${...} form) become `range`; any other variable
// ($name, ${name}, ${name:format}, [[name]]) becomes ".*", which is what
// "All" means for the dashboard's regex matchers (label=~"$tenant").
std::string SubstituteGrafanaVariables(std::string_view expr, std::string_view range = "5m");

// The metric names an expression selects (each once, in order of first
// appearance): bare identifiers that are not functions, aggregations,
// keywords or label names. Label matchers, strings, ranges and Grafana
// variables are skipped. Approximate by design (no full PromQL parser), but
// exact for the shapes dashboards and rules use.
std::vector<std::string> MetricNames(std::string_view expr);

}  // namespace burnrate::deploy
